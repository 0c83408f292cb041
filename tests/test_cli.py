"""The command line as a whole: entry points, start-up cost, completion, docs."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import FIXTURES, REPO, tree_digest

TOOL = str(Path(sys.executable).with_name("trackio-tool"))
DB = str(FIXTURES / "trackio-0.43.0" / "toyproj.db")
HEAVY = (
    "polars",
    "plotly",
    "kaleido",
    "modal",
    "asyncssh",
    "sshfs",
    "huggingface_hub",
    "pyarrow",
    "fsspec",
)


def _all_commands() -> list[str]:
    from trackio_tool.cli import app

    return [c.name or c.callback.__name__ for c in app.registered_commands]  # type: ignore[union-attr]


def test_module_and_script_entry_points() -> None:
    for cmd in ([sys.executable, "-m", "trackio_tool", "--version"], [TOOL, "--version"]):
        proc = subprocess.run(cmd, capture_output=True, text=True, check=True)
        assert re.fullmatch(r"trackio-tool \d+\.\d+\.\d+\n", proc.stdout)


def test_help_imports_nothing_heavy() -> None:
    """--help and completion run on every TAB: they must not import the data stack."""
    code = (
        "import sys\n"
        "from trackio_tool import cli\n"
        "sys.argv = ['trackio-tool', '--help']\n"
        "try:\n    cli.main()\nexcept SystemExit:\n    pass\n"
        f"heavy = sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r}))\n"
        "print('HEAVY', heavy, file=sys.stderr)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "HEAVY []" in proc.stderr, proc.stderr
    for name in _all_commands():
        assert name in proc.stdout


@pytest.mark.parametrize("command", ["analyze", "plot", "merge", "drop", "rename"])
def test_every_command_has_help_with_example(command: str) -> None:
    proc = subprocess.run([TOOL, command, "--help"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "Example" in proc.stdout or "example" in proc.stdout


def test_every_command_and_option_is_in_readme() -> None:
    readme = (REPO / "README.md").read_text()
    from typer.main import get_command

    from trackio_tool.cli import app

    root = get_command(app)
    for name, command in root.commands.items():  # type: ignore[attr-defined]
        assert f"### `trackio-tool {name}`" in readme, f"README has no section for {name}"
        section = readme.split(f"### `trackio-tool {name}`", 1)[1].split("\n### ", 1)[0]
        for param in command.params:
            for opt in param.opts:
                if opt.startswith("--") and opt != "--help":
                    assert opt in section, f"README's {name} section does not mention {opt}"


def _complete(words: str, cword: int, shell: str = "bash") -> list[str]:
    env = {
        **os.environ,
        "_TRACKIO_TOOL_COMPLETE": f"complete_{shell}",
        "COMP_WORDS": words,
        "COMP_CWORD": str(cword),
        "_TYPER_COMPLETE_ARGS": words,
    }
    proc = subprocess.run([TOOL], capture_output=True, text=True, env=env)
    return proc.stdout.split()


def test_dynamic_run_completion_reads_the_db_on_the_line() -> None:
    # `--run` has no value yet, so click leaves DB in ctx.args (DEPENDENCIES.md §6).
    assert _complete(f"trackio-tool analyze {DB} --run ", 4) == ["alpha", "beta", "gamma"]
    assert _complete(f"trackio-tool analyze {DB} --run g", 4) == ["gamma"]
    assert _complete(f"trackio-tool analyze --run al {DB}", 3) == []  # DB not known yet: nothing
    # Completion reads the file read-only and leaves no -wal/-shm behind.
    assert not list(Path(DB).parent.glob("toyproj.db-*"))


def test_run_completion_after_a_comma() -> None:
    """`--run alpha,<TAB>` completes the part after the comma, keeping the whole word
    (shells replace the word and drop candidates that do not start with it), and
    leaves out the runs already given."""
    assert _complete(f"trackio-tool analyze {DB} --run alpha,", 4) == ["alpha,beta", "alpha,gamma"]
    assert _complete(f"trackio-tool analyze {DB} --run alpha,g", 4) == ["alpha,gamma"]
    assert _complete(f"trackio-tool analyze {DB} --run alpha,gamma,", 4) == ["alpha,gamma,beta"]
    assert _complete(f"trackio-tool analyze {DB} --run alpha --run ", 6) == ["beta", "gamma"]
    assert _complete(f"trackio-tool analyze {DB} --run gamma --run alpha,", 6) == ["alpha,beta"]


@pytest.mark.parametrize("command", ["drop", "rename"])
def test_run_completion_offers_ids_where_runs_share_a_name(command: str) -> None:
    """drop and rename refuse a bare name two runs share (the fixture's two betas):
    offer their 8-character ids instead, with the name as the help text."""
    assert _complete(f"trackio-tool {command} {DB} --run ", 4) == [
        "alpha",
        "66bbe705",
        "6afb4a00",
        "gamma",
    ]
    zsh = " ".join(_complete(f"trackio-tool {command} {DB} --run 6", 4, "zsh"))
    assert '"66bbe705":"beta in toyproj (50 rows)"' in zsh
    assert '"6afb4a00":"beta in toyproj (30 rows)"' in zsh
    # analyze selects both betas with the bare name: it keeps offering it.
    assert _complete(f"trackio-tool analyze {DB} --run ", 4) == ["alpha", "beta", "gamma"]


def test_run_completion_for_drop_after_a_comma() -> None:
    assert _complete(f"trackio-tool drop {DB} --run 66bbe705,", 4) == [
        "66bbe705,alpha",
        "66bbe705,6afb4a00",
        "66bbe705,gamma",
    ]
    # rename takes one run: no list to extend.
    assert _complete(f"trackio-tool rename {DB} --run alpha,", 4) == []


def test_plot_run_completion_qualifies_names_of_same_named_projects() -> None:
    """plot refuses a bare name found in several projects: offer PROJECT:RUN, with the
    project named as plot labels it (folder/project when two sources share a name)."""
    old = str(FIXTURES / "trackio-0.20.2" / "toyproj.db")
    assert _complete(f"trackio-tool plot {DB} {old} --run ", 5) == [
        "trackio-0.43.0/toyproj:alpha",
        "trackio-0.43.0/toyproj:beta",
        "trackio-0.43.0/toyproj:gamma",
        "trackio-0.20.2/toyproj:alpha",
        "trackio-0.20.2/toyproj:beta",
        "dainty-sunset-0",  # in one project only: bare
        "trackio-0.20.2/toyproj:gamma",
    ]
    assert _complete(f"trackio-tool plot {DB} {old} --run trackio-0.20.2/toyproj:g", 5) == [
        "trackio-0.20.2/toyproj:gamma"
    ]
    assert _complete(f"trackio-tool plot {DB} {old} --run dainty-sunset-0,trackio-0.2", 5) == [
        "dainty-sunset-0,trackio-0.20.2/toyproj:alpha",
        "dainty-sunset-0,trackio-0.20.2/toyproj:beta",
        "dainty-sunset-0,trackio-0.20.2/toyproj:gamma",
    ]
    # One project, or names no other project holds: bare names, as before.
    assert _complete(f"trackio-tool plot {DB} --run ", 4) == ["alpha", "beta", "gamma"]


def test_run_completion_never_fails_aloud(tmp_path: Path) -> None:
    """Completion prints candidates or nothing: an error on stderr would land in the
    middle of the line being typed. Found: '~nouser/x.db' (RuntimeError) and a file
    name that is not UTF-8 (UnicodeEncodeError in the SQLite URI) each printed one."""
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not a database")
    fifo = tmp_path / "fifo.db"
    os.mkfifo(fifo)
    odd = tmp_path / os.fsdecode(b"\xff.db")
    odd.write_bytes(Path(DB).read_bytes())
    for src in (junk, fifo, tmp_path, "~no-such-user-here/x.db", "hf://org/x.db", "/dev/null"):
        for command in ("analyze", "drop", "rename", "plot"):
            env = {
                **os.environ,
                "_TRACKIO_TOOL_COMPLETE": "complete_bash",
                "COMP_WORDS": f"trackio-tool {command} {src} --run ",
                "COMP_CWORD": "4",
            }
            proc = subprocess.run([TOOL], capture_output=True, text=True, env=env, timeout=30)
            assert (proc.returncode, proc.stdout.strip(), proc.stderr) == (0, "", ""), (
                src,
                command,
            )
    assert _complete(f"trackio-tool analyze {odd} --run ", 4) == ["alpha", "beta", "gamma"]


def test_run_completion_offers_runs_only_in_the_inbox(
    fixture_copy: Callable[[str], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Found by the polish audit: completion read only the .db, so a run that so far
    exists only in Trackio's JSONL inbox (run c of mixed; every run of a project with
    no .db yet) was never offered, though analyze, plot and merge --from read it."""
    d = fixture_copy("trackio-0.43.0-inbox")
    db = d / "mixed.db"
    assert _complete(f"trackio-tool analyze {db} --run ", 4) == ["a", "b", "c"]
    assert _complete(f"trackio-tool drop {db} --run ", 4) == ["a", "b", "c"]
    # zsh shows each run's rows as analyze counts them: the .db's and the inbox's.
    zsh = _complete(f"trackio-tool analyze {db} --run ", 4, "zsh")
    assert '"a":"run in mixed (6 rows)" "b":"run in mixed (1 row)"' in " ".join(zsh), zsh
    # A project name, as the commands take it; a project with no .db yet.
    monkeypatch.setenv("TRACKIO_DIR", str(d))
    assert _complete("trackio-tool analyze fresh --run ", 4) == ["only"]
    assert _complete(f"trackio-tool plot mixed {db} fresh --run ", 6) == ["a", "b", "c", "only"]
    # A fragment in another form than trackio's (orjson, compact) is parsed whole.
    record = {"v": 1, "kind": "metric", "project": "mixed", "run": "d", "run_id": "d" * 32}
    (d / "inbox" / "zz").mkdir()
    (d / "inbox" / "zz" / "00000000.jsonl").write_text(json.dumps({**record, "step": 1}) + "\n")
    assert _complete("trackio-tool analyze mixed --run ", 4) == ["a", "b", "c", "d"]
    # Completion stays light: nothing of the data stack, fsspec included.
    code = (
        "import sys\n"
        "from trackio_tool import cli\n"
        "try:\n    cli.main()\nexcept SystemExit:\n    pass\n"
        f"heavy = sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r}))\n"
        "print('HEAVY', heavy, file=sys.stderr)\n"
    )
    words = "trackio-tool analyze mixed --run "
    env = {**os.environ, "_TRACKIO_TOOL_COMPLETE": "complete_bash", "COMP_WORDS": words}
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env={**env, "COMP_CWORD": "4"}
    )
    assert proc.stdout.split() == ["a", "b", "c", "d"]
    assert "HEAVY []" in proc.stderr, proc.stderr


def test_real_bash_completion_script(tmp_path: Path) -> None:
    """--install-completion writes a script that real bash uses to complete run names."""
    home = tmp_path / "home"
    home.mkdir()
    env = {**os.environ, "HOME": str(home), "SHELL": "/bin/bash"}
    bin_dir = str(Path(TOOL).parent)
    env["PATH"] = f"{bin_dir}:{env['PATH']}"
    proc = subprocess.run(
        ["bash", "-c", "trackio-tool --install-completion bash; true"],
        capture_output=True,
        text=True,
        env={**env, "_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION": "1"},
    )
    assert proc.returncode == 0, proc.stderr
    scripts = list((home / ".bash_completions").glob("*.sh"))
    assert scripts, proc.stdout + proc.stderr
    script = (
        f"source {scripts[0]}\n"
        f"COMP_WORDS=(trackio-tool analyze {DB} --run b); COMP_CWORD=4\n"
        "_trackio_tool_completion trackio-tool\n"
        'printf "%s\\n" "${COMPREPLY[@]}"\n'
    )
    proc = subprocess.run(["bash", "-c", script], capture_output=True, text=True, env=env)
    assert proc.stdout.split() == ["beta"], proc.stderr


@pytest.mark.parametrize("stdout", ["closed", "full"])
def test_output_that_cannot_be_written(stdout: str) -> None:
    """Found by the bad-input fuzz: stdout closed at start failed after the work
    ("unexpected AttributeError"), stdout on a full device gave "unexpected OSError"."""
    if stdout == "full" and not Path("/dev/full").exists():
        pytest.skip("this machine has no /dev/full")
    db = FIXTURES / "trackio-0.43.0" / "toyproj.db"
    if stdout == "closed":
        cmd = f"exec >&- ; {TOOL} analyze {db} --json"
        proc = subprocess.run(["bash", "-c", cmd], capture_output=False, stderr=subprocess.PIPE)
        assert proc.returncode == 0, proc.stderr
        assert proc.stderr == b""
    else:
        with open("/dev/full", "w") as full:
            proc = subprocess.run(
                [TOOL, "analyze", str(db), "--json"], stdout=full, stderr=subprocess.PIPE
            )
        assert proc.returncode == 1
        assert (
            proc.stderr.decode() == "error: could not write the output: No space left on device\n"
        )


def test_network_library_errors_are_one_line() -> None:
    """Found by the remote fault runs: errors of the network libraries under the remote
    sources (here huggingface_hub's httpx2, a body cut mid-file) were "unexpected"."""
    import httpx2

    from trackio_tool.cli import _network_failure

    exc = httpx2.RemoteProtocolError("peer closed connection without sending complete message body")
    assert _network_failure(exc) == (
        "the connection to the remote source failed (RemoteProtocolError: peer closed"
        " connection without sending complete message body); try again"
    )
    assert _network_failure(ValueError("x")) is None


@pytest.mark.parametrize(
    "args",
    [
        ("analyze", "{db}", "--run", ","),
        ("plot", "{db}", "-o", "{out}", "--run", ""),
        ("plot", "{db}", "-o", "{out}", "--metric", " , "),
        ("merge", "--from", "{db}", "--into", "{out}.db", "--run", ""),
        ("drop", "{db}", "--run", ","),
        ("drop", "{db}", "--run", "alpha", "--run", "", "--yes"),
        ("rename", "{db}", "--run", "", "--to", "x"),
    ],
    ids=lambda a: " ".join(a).replace("{db}", "DB").replace("{out}", "OUT"),
)
def test_an_empty_selector_is_a_usage_error(
    cli: Callable[..., Any], fixture_copy: Callable[[str], Path], args: tuple[str, ...]
) -> None:
    """`-r "$UNSET"` merged every run, `-r ,` analysed none (exit 0) and made plot say
    the project "has no runs": an empty value can only be a mistake."""
    d = fixture_copy("trackio-0.43.0")
    before = tree_digest(d.parent)
    out = str(d.parent / "out")
    r = cli(*(a.format(db=d / "toyproj.db", out=out) for a in args))
    assert (r.exit_code, r.stdout) == (2, ""), r.stderr
    option = "--metric" if "--metric" in args else "--run"
    assert re.fullmatch(rf"error: {option} '[ ,]*' is empty: give a [a-z ]+\n", r.stderr)
    assert tree_digest(d.parent) == before


@pytest.mark.parametrize("columns", ["0", "abc", "-5"])
def test_a_meaningless_columns_is_ignored(columns: str) -> None:
    """Found by the environment audit: with COLUMNS=0 (what `stty size` reports on a
    terminal with no size) analyze printed nothing and exited 0; COLUMNS=abc wrapped
    piped output at 80 columns. A COLUMNS that is not a positive number is ignored."""
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "TRACKIO_TOOL_DEBUG")}
    plain = subprocess.run([TOOL, "analyze", DB], capture_output=True, text=True, env=env)
    odd = subprocess.run(
        [TOOL, "analyze", DB], capture_output=True, text=True, env={**env, "COLUMNS": columns}
    )
    assert plain.returncode == odd.returncode == 0
    assert plain.stdout.startswith("toyproj  (sqlite: ")
    assert odd.stdout == plain.stdout


def test_a_deleted_current_folder_is_one_clear_line(fixture_copy: Callable[[str], Path]) -> None:
    """Found by the polish audit: `merge --into rel.db` (and drop, rename) run from a
    folder that had been deleted (`mkdir d; cd d; rmdir ../d`) failed with "unexpected
    FileNotFoundError"; analyze and plot blamed the file alone, plot only once its image
    was rendered. Absolute paths work."""
    d = fixture_copy("trackio-0.43.0")
    db = d / "toyproj.db"
    before = tree_digest(d)
    gone = d.parent / "gone"
    hint = (
        "the current folder has been deleted, so relative paths lead nowhere:"
        " cd to an existing folder or give absolute paths"
    )

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        gone.mkdir()
        script = 'cd "$1" && rmdir "$1" && shift && exec "$@"'
        env = {k: v for k, v in os.environ.items() if k != "TRACKIO_TOOL_DEBUG"}
        return subprocess.run(
            ["bash", "-c", script, "bash", str(gone), TOOL, *args],
            capture_output=True,
            text=True,
            env=env,
        )

    for args, first in [
        (("merge", "--from", str(db), "--into", "rel.db"), ""),
        (("drop", "rel.db", "-r", "alpha", "-y"), ""),
        (("rename", "rel.db", "-r", "alpha", "--to", "b"), ""),
        (("analyze", "rel.db"), "no such file or directory: rel.db; "),
        (
            ("merge", "--from", "rel.db", "--into", str(d / "new.db")),
            "no such file or directory: rel.db; ",
        ),
        (("plot", str(db), "-o", "x.html"), ""),
        (("plot", str(db), "-o", "x.png"), ""),  # before Chromium renders anything
    ]:
        proc = run(*args)
        assert (proc.returncode, proc.stdout, proc.stderr) == (1, "", f"error: {first}{hint}\n"), (
            args
        )
    assert tree_digest(d) == before  # (no new.db either)
    # Absolute paths need no current folder.
    proc = run("merge", "--from", str(db), "--into", str(d / "new.db"), "-r", "alpha", "-q")
    assert proc.returncode == 0, proc.stderr
    proc = run("plot", str(db), "-o", str(d / "x.html"), "-q")
    assert (proc.returncode, proc.stdout) == (0, f"{d / 'x.html'}\n"), proc.stderr


def test_tilde_of_an_unknown_user_is_one_clean_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli: Callable[..., Any]
) -> None:
    """`~nosuchuser/x.db` (a shell leaves it as typed) made pathlib raise RuntimeError:
    "unexpected RuntimeError" for every command. Read as the shell does, it is a path
    that does not exist; a write target there is refused, not created under ./~nosuchuser."""
    monkeypatch.chdir(tmp_path)
    example = str(REPO / "examples" / "trackio-0.43.0" / "toyproj.db")
    for args, says in [
        (["analyze", "~nosuchuser/x.db"], "no such file or directory: ~nosuchuser/x.db"),
        (["plot", "~nosuchuser/x.db,b.db", "-o", "p.html"], "no such file or directory"),
        (["plot", example, "-o", "~nosuchuser/p.png"], "the folder ~nosuchuser does not exist"),
        (["merge", "--from", example, "--into", "~nosuchuser/t.db"], "~nosuchuser is no home"),
        (["drop", "~nosuchuser/t.db", "--run", "alpha"], "~nosuchuser is no home"),
    ]:
        result = cli(*args)
        assert result.exit_code == 1, (args, result.stderr)
        assert says in result.stderr, result.stderr
        assert result.stderr.count("\n") == 1, result.stderr
        assert "unexpected" not in result.stderr
    assert list(tmp_path.iterdir()) == []
