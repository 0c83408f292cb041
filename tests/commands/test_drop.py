"""``trackio-tool drop``: rows of every table, artifact links, media, confirmation."""

from __future__ import annotations

import json
import os
import pty
import re
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.commands.test_merge import _one_clean_line, immutable
from tests.conftest import tree_digest
from trackio_tool.store.write import drop

GAMMA = "72fff1558ccb4329ba0cc5a87f1e458d"
BETA_1 = "66bbe7058728471b8bdfacf8593ad4a1"
BETA_2 = "6afb4a0011dc4614bf8df66d3e75156b"
TABLES = ("metrics", "configs", "system_metrics", "alerts", "traces")


def _counts(db: Path, column: str, value: str) -> dict[str, int]:
    con = sqlite3.connect(db)
    try:
        present = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        return {
            t: con.execute(f"SELECT COUNT(*) FROM {t} WHERE {column} = ?", (value,)).fetchone()[0]
            for t in TABLES
            if t in present
        }
    finally:
        con.close()


def test_drop_a_run_with_its_media_and_artifact_links(
    cli: Callable[..., Any], fixture_copy: Callable[[str], Path]
) -> None:
    d = fixture_copy("trackio-0.43.0")
    db = d / "toyproj.db"
    r = cli("drop", str(db), "--run", "gamma")
    assert r.exit_code == 0, r.stderr
    assert r.stdout == (
        f"Dropped 1 run from {db}\n"
        "Run    ID        metrics  configs  system_metrics  alerts  traces  media deleted\n"
        "gamma  72fff155      120        1               3       1       1              4\n"
    )
    assert r.stderr == ""
    assert _counts(db, "run_id", GAMMA) == dict.fromkeys(TABLES, 0)
    assert _counts(db, "run_id", BETA_1)["metrics"] == 50
    assert not (d / "media" / "toyproj" / "gamma").exists()
    con = sqlite3.connect(db)
    try:
        # As Trackio does: links go, the artifact version stays without a producer.
        assert con.execute("SELECT COUNT(*) FROM run_artifact_links").fetchone()[0] == 0
        assert con.execute(
            "SELECT COUNT(*), MAX(producer_run_id) FROM artifact_versions"
        ).fetchone() == (1, None)
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert con.execute("SELECT COUNT(*) FROM metrics").fetchone()[0] == 180
    finally:
        con.close()


def test_ambiguous_name_lists_ids(
    cli: Callable[..., Any], fixture_copy: Callable[[str], Path]
) -> None:
    d = fixture_copy("trackio-0.43.0")
    before = tree_digest(d)
    r = cli("drop", str(d / "toyproj.db"), "--run", "beta", "--yes")
    _one_clean_line(
        r, f"2 runs in toyproj.db are named 'beta' (ids {BETA_1}, {BETA_2})", "by its id"
    )
    assert tree_digest(d) == before
    r = cli("drop", str(d / "toyproj.db"), "--run", BETA_2[:8], "--yes", "--json")
    assert r.exit_code == 0, r.stderr
    data = json.loads(r.stdout)
    assert [(x["name"], x["id"], x["rows"]["metrics"]) for x in data["runs"]] == [
        ("beta", BETA_2, 30)
    ]
    assert _counts(d / "toyproj.db", "run_id", BETA_2)["metrics"] == 0
    assert _counts(d / "toyproj.db", "run_id", BETA_1)["metrics"] == 50


def test_shared_media_folder_keeps_the_other_runs_files(
    cli: Callable[..., Any], fixture_copy: Callable[[str], Path]
) -> None:
    d = fixture_copy("trackio-0.43.0")
    db = d / "toyproj.db"
    con = sqlite3.connect(db)
    with con:  # a second run named gamma (Trackio >= 0.24 allows it)
        for t in TABLES:
            con.execute(f"UPDATE {t} SET run_name = 'gamma' WHERE run_name = 'alpha'")
    con.close()
    folder = d / "media" / "toyproj" / "gamma"
    (folder / "0" / "other-run.png").write_bytes(b"x")
    r = cli("drop", str(db), "--run", GAMMA)
    assert r.exit_code == 0, r.stderr
    assert r.stderr == (
        "note: media/toyproj/gamma/ also holds 1 file that is not the dropped runs'"
        " (another run named 'gamma' shares the folder): it was kept\n"
    )
    assert r.stdout.splitlines()[-1].endswith(" 4")
    assert [p.name for p in folder.rglob("*.png")] == ["other-run.png"]


@pytest.mark.parametrize(
    "spelling",
    ["toyproj/gamma/{}", "media/toyproj/gamma/{}", "toyproj\\/g\\u0061mma\\/{}"],
    ids=["plain", "media-prefix", "json-escapes"],
)
def test_a_file_another_runs_row_points_at_stays_however_the_path_is_spelled(
    fixture_copy: Callable[[str], Path], spelling: str
) -> None:
    """Under the lock, drop reads only the other rows that may point into the dropped
    run's folder (holding ``gamma/``, or any JSON escape): a path spelled with escapes
    must still keep its file."""
    d = fixture_copy("trackio-0.43.0")
    db = d / "toyproj.db"
    shared = sorted((d / "media" / "toyproj" / "gamma" / "30").iterdir())[0]
    path = spelling.format(f"30/{shared.name}")
    con = sqlite3.connect(db)
    with con:
        con.execute(
            "UPDATE metrics SET metrics = CAST(? AS BLOB) WHERE run_name = 'alpha' AND step = 5",
            ('{"samples":{"_type":"trackio.image","file_path":"' + path + '"}}',),
        )
    con.close()
    result = drop(db, runs=[GAMMA])
    assert result.media_files == 3  # of gamma's 4 images
    assert shared.is_file()


def test_files_no_row_references_are_kept(
    cli: Callable[..., Any], fixture_copy: Callable[[str], Path]
) -> None:
    """Found by the live-writer stress test: a run Trackio is logging under the name of the
    run being dropped has written its image files but not yet its rows (Trackio's sender
    batches them), so drop took the whole folder, the live run's files with it. Only the
    files the dropped run's rows reference go (Trackio names them by uuid4)."""
    d = fixture_copy("trackio-0.43.0")
    db = d / "toyproj.db"
    folder = d / "media" / "toyproj" / "gamma"
    live = folder / "7" / "0e6c1f0e-live.png"
    live.parent.mkdir()
    live.write_bytes(b"live")
    r = cli("drop", str(db), "--run", "gamma", "--yes")
    assert r.exit_code == 0, r.stderr
    assert r.stderr == (
        "note: media/toyproj/gamma/ also holds 1 file that is not the dropped runs'"
        " (no row references them: maybe a run Trackio is still logging under that name):"
        " it was kept\n"
    )
    assert r.stdout.splitlines()[-1].endswith(" 4")
    assert sorted(p.relative_to(folder) for p in folder.rglob("*") if p.is_file()) == [
        Path("7/0e6c1f0e-live.png")
    ]
    assert not (folder / "0").exists()  # emptied folders go


def test_no_media_and_dry_run(cli: Callable[..., Any], fixture_copy: Callable[[str], Path]) -> None:
    d = fixture_copy("trackio-0.2.9")
    before = tree_digest(d)
    r = cli("drop", str(d / "toyproj.db"), "--run", "gamma,alpha", "--dry-run")
    assert r.exit_code == 0, r.stderr
    assert r.stdout.startswith(f"Would drop 2 runs from {d / 'toyproj.db'}\n")
    assert r.stderr == "dry run: nothing was written\n"
    assert tree_digest(d) == before
    r = cli("drop", str(d / "toyproj.db"), "--run", "gamma", "--no-media")
    assert r.exit_code == 0, r.stderr
    assert "media" not in r.stdout.splitlines()[1]
    assert len(list((d / "media").rglob("*.png"))) == 4
    assert _counts(d / "toyproj.db", "run_name", "gamma")["metrics"] == 0


def test_bad_input(
    cli: Callable[..., Any], fixture_copy: Callable[[str], Path], tmp_path: Path
) -> None:
    d = fixture_copy("trackio-0.43.0")
    before = tree_digest(d)
    # A missing --run is a usage error (exit 2, as for rename's --to), not exit 1.
    r = cli("drop", str(d / "toyproj.db"))
    assert (r.exit_code, r.stdout) == (2, ""), r.stderr
    assert "Missing option '--run'" in r.stderr
    help_ = cli("drop", "--help").stdout
    assert re.search(r"\*\s+--run\s[^*]*?\[required\]", help_), help_
    _one_clean_line(cli("drop", str(d / "toyproj.db"), "--run", "nope"), "no run 'nope'")
    _one_clean_line(cli("drop", str(tmp_path / "missing.db"), "--run", "a"), "missing.db")
    (tmp_path / "notes.db").write_text("x")
    _one_clean_line(cli("drop", str(tmp_path / "notes.db"), "--run", "a"), "not an SQLite database")
    with immutable(d / "toyproj.db"):
        _one_clean_line(cli("drop", str(d / "toyproj.db"), "--run", "alpha"), "read-only")
    assert tree_digest(d) == before


def test_confirmation_refused_keeps_everything(fixture_copy: Callable[[str], Path]) -> None:
    d = fixture_copy("trackio-0.43.0")
    before = tree_digest(d)
    seen = []
    result = drop(d / "toyproj.db", runs=["alpha"], confirm=lambda plan: seen.append(plan) or False)
    assert result.cancelled
    assert seen[0].runs[0].rows["metrics"] == 100
    assert tree_digest(d) == before


def _drop_on_a_terminal(d: Path, answer: bytes, *args: str) -> tuple[int, bytes, str]:
    """Run drop with stdin a terminal (stdout and stderr piped), answering the question."""
    master, slave = pty.openpty()
    env = {k: v for k, v in os.environ.items() if k != "TRACKIO_TOOL_DEBUG"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "trackio_tool", "drop", str(d / "toyproj.db"), *args],
        stdin=slave,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    os.close(slave)
    os.write(master, answer)
    out, err = proc.communicate(timeout=60)
    os.close(master)
    return proc.returncode, out, err.decode()


def test_prompts_on_a_terminal(fixture_copy: Callable[[str], Path]) -> None:
    """The plan shown before the question said "Dropped 1 run", then the answer "n" said
    nothing was deleted: it is worded as --dry-run words it, and goes to stderr."""
    d = fixture_copy("trackio-0.43.0")
    before = tree_digest(d)
    code, out, err = _drop_on_a_terminal(d, b"n\n", "--run", "alpha")
    assert code == 1, err
    assert err.startswith(f"Would drop 1 run from {d / 'toyproj.db'}\n"), err
    assert "Dropped" not in err
    assert "Delete 1 run(s) from" in err
    assert "error: cancelled; nothing was deleted" in err
    assert out == b""
    assert tree_digest(d) == before


def test_json_stays_pure_when_asked_on_a_terminal(fixture_copy: Callable[[str], Path]) -> None:
    """With --json, stdout redirected and stdin a terminal, the plan's table (and the
    prompt's last character) landed on stdout before the JSON."""
    d = fixture_copy("trackio-0.43.0")
    code, out, err = _drop_on_a_terminal(d, b"y\n", "--run", "gamma", "--json")
    assert code == 0, err
    assert out.startswith(b"{")
    assert [r["name"] for r in json.loads(out)["runs"]] == ["gamma"]
    assert err.startswith("Would drop 1 run from")
    assert _counts(d / "toyproj.db", "run_id", GAMMA)["metrics"] == 0


def test_media_that_cannot_be_removed_changes_nothing(
    cli: Callable[..., Any], fixture_copy: Callable[[str], Path]
) -> None:
    """Found by the write-side fuzz: drop and rename committed the database, then failed
    on a media folder they could not empty (drop said so, rename showed an unexpected
    error). They now check the folders first and refuse with nothing changed."""
    d = fixture_copy("trackio-0.43.0")
    folder = d / "media" / "toyproj" / "gamma"
    sub = next(p for p in folder.rglob("*") if p.is_dir())
    before = tree_digest(d)
    with immutable(sub):
        for args in (("drop", "--yes"), ("rename", "--to", "g2")):
            r = cli(args[0], str(d / "toyproj.db"), "--run", "gamma", *args[1:])
            _one_clean_line(r, f"{sub} is not writable", "nothing was changed")
    assert tree_digest(d) == before


def test_a_run_called_files_keeps_the_project_files(
    cli: Callable[..., Any], fixture_copy: Callable[[str], Path]
) -> None:
    """media/<project>/files/ is where trackio.save keeps project files (TRACKIO_FORMATS.md
    §1, §5), not only a run's folder. Dropping a run called "files" deleted them, and
    renaming it moved them away (found by the write-side fuzz)."""
    d = fixture_copy("trackio-0.43.0")
    db = d / "toyproj.db"
    assert cli("rename", str(db), "--run", "alpha", "--to", "files").exit_code == 0
    saved = d / "media" / "toyproj" / "files" / "configs" / "train.yaml"
    saved.parent.mkdir(parents=True)
    saved.write_text("lr: 1")
    r = cli("rename", str(db), "--run", "files", "--to", "alpha2")
    assert r.exit_code == 0, r.stderr
    assert "project's files" in r.stderr
    assert saved.read_text() == "lr: 1"
    assert cli("rename", str(db), "--run", "alpha2", "--to", "files").exit_code == 0
    r = cli("drop", str(db), "--run", "files", "--yes")
    assert r.exit_code == 0, r.stderr
    assert "project's files" in r.stderr
    assert saved.read_text() == "lr: 1"


def test_a_run_renamed_while_drop_waits_is_not_dropped(fixture_copy: Callable[[str], Path]) -> None:
    """Found by the live-writer stress test: drop planned, another process renamed the run,
    then drop deleted it by id and left its media orphaned under the new name, both
    commands saying they succeeded. The plan is checked again under the lock."""
    from trackio_tool.errors import ConflictError
    from trackio_tool.store.write import rename

    d = fixture_copy("trackio-0.43.0")
    db = d / "toyproj.db"

    def meanwhile(_plan: Any) -> bool:  # drop's plan is made: another process renames
        rename(db, run="gamma", to="delta")
        return True

    before = _counts(db, "run_id", GAMMA)
    with pytest.raises(ConflictError, match="run 'gamma' changed while this command waited"):
        drop(db, runs=["gamma"], confirm=meanwhile)
    assert _counts(db, "run_id", GAMMA) == before
    assert len(list((d / "media" / "toyproj" / "delta").rglob("*.png"))) == 4


def test_drop_a_run_logged_under_two_names(
    cli: Callable[..., Any], fixture_copy: Callable[[str], Path]
) -> None:
    """Found by the second live-writer run: a run id under two names (left by renaming a
    run Trackio was still logging) could not be dropped by either name ("changed while
    this command waited", every time) nor by id."""
    from tests.commands.test_rename import split_gamma

    d = fixture_copy("trackio-0.43.0")
    db = split_gamma(d)
    r = cli("drop", str(db), "--run", GAMMA, "--yes", "--json")
    assert r.exit_code == 0, r.stderr
    (run,) = json.loads(r.stdout)["runs"]
    assert (run["rows"]["metrics"], run["media_files"]) == (120, 4)
    assert _counts(db, "run_id", GAMMA) == dict.fromkeys(TABLES, 0)
    assert not (d / "media" / "toyproj" / "gamma").exists()
    assert not (d / "media" / "toyproj" / "gamma-old").exists()


def test_a_file_upgraded_by_trackio_while_drop_waits_is_left_alone(
    fixture_copy: Callable[[str], Path],
) -> None:
    """Found by the second live-writer run: Trackio 0.41+ rebuilds a legacy (name-keyed)
    file on its next write. A drop planned on the old layout then deleted by name, taking
    a new run of the same name with it. The layout is checked again under the lock."""
    from trackio_tool.errors import ConflictError

    d = fixture_copy("trackio-0.20.2")
    db = d / "toyproj.db"

    def meanwhile(_plan: Any) -> bool:  # Trackio rebuilds the tables with run_id columns
        con = sqlite3.connect(db)
        with con:
            con.execute("ALTER TABLE metrics ADD COLUMN run_id TEXT")
        con.close()
        return True

    with pytest.raises(ConflictError, match="Trackio upgraded its tables"):
        drop(db, runs=["gamma"], confirm=meanwhile)
    con = sqlite3.connect(db)
    assert con.execute("SELECT COUNT(*) FROM metrics WHERE run_name = 'gamma'").fetchone()[0] > 0
    con.close()


def test_the_help_example_works_on_the_bundled_example(
    cli: Callable[..., Any], tmp_path: Path
) -> None:
    """drop --help showed `--run beta`, which the bundled example refuses (two runs
    are named beta there): the example is run on a copy of it."""
    import shlex
    import shutil

    from tests.conftest import REPO

    d = tmp_path / "example"
    shutil.copytree(REPO / "examples" / "trackio-0.43.0", d)
    help_ = " ".join(cli("drop", "--help").stdout.split())
    line = help_.split("Example: trackio-tool ", 1)[1].split(" --dry-run", 1)[0] + " --dry-run"
    args = shlex.split(line.replace("~/.cache/huggingface/trackio", str(d)))
    before = tree_digest(d)
    r = cli(*args)
    assert r.exit_code == 0, (args, r.stderr)
    assert r.stdout.startswith(f"Would drop 1 run from {d / 'toyproj.db'}\n")
    assert tree_digest(d) == before


def test_piped_output_does_not_split_run_names(fixture_copy: Callable[[str], Path]) -> None:
    """Piped, rich wrapped the table at 80 columns and split 'edge-run' into 'edge-' and
    'run' on two lines; COLUMNS, when set, is still honoured."""
    d = fixture_copy("trackio-0.43.0")
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "TRACKIO_TOOL_DEBUG")}
    cmd = [sys.executable, "-m", "trackio_tool", "drop", str(d / "toyproj-edge.db")]
    proc = subprocess.run([*cmd, "-r", "edge-run", "-n"], capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[2].split() == [
        "edge-run",
        "66f252ea",
        "5",
        "1",
        "0",
        "0",
        "0",
        "0",
    ]
    proc = subprocess.run(
        [*cmd, "-r", "edge-run", "-n"], capture_output=True, text=True, env={**env, "COLUMNS": "60"}
    )
    assert max(len(line) for line in proc.stdout.splitlines()[1:]) <= 60


@pytest.mark.parametrize("columns", ["60", "72"])
def test_a_narrow_terminal_keeps_the_run_names(
    cli: Callable[..., Any], fixture_copy: Callable[[str], Path], columns: str
) -> None:
    """rich shrinks only wrappable columns; with the run name the only one, a 60-72 column
    terminal squeezed the Run column of analyze and drop away entirely."""
    d = fixture_copy("trackio-0.43.0")
    env = {"COLUMNS": columns}
    r = cli("drop", str(d / "toyproj.db"), "-r", "alpha,gamma", "-n", env=env)
    assert r.exit_code == 0, r.stderr
    rows = [line.split() for line in r.stdout.splitlines()]
    assert [row[0] for row in rows if row and row[0] in ("alpha", "gamma")] == ["alpha", "gamma"]
    r = cli("analyze", str(d / "toyproj.db"), env=env)
    assert r.exit_code == 0, r.stderr
    firsts = [line.split()[0] for line in r.stdout.splitlines() if line.strip()]
    assert {"alpha", "beta", "gamma"} <= set(firsts)
    assert max(len(line) for line in r.stdout.splitlines()) <= int(columns)


@pytest.mark.parametrize("columns", [24, 40, 50, 60, 66])
def test_a_narrow_terminal_shows_every_field(
    cli: Callable[..., Any], fixture_copy: Callable[[str], Path], columns: int
) -> None:
    """Found by the polish audit: below ~72 columns rich cut analyze's times to "…",
    and below ~50 dropped whole columns (Run, First, Last, Alerts) without a word;
    merge and drop folded numbers apart ("10" over "0"). A run table that does not
    fit is printed one block per run, every field on its own line."""
    d = fixture_copy("trackio-0.43.0")
    env = {"COLUMNS": str(columns)}
    r = cli("analyze", str(d / "toyproj.db"), env=env)
    assert r.exit_code == 0, r.stderr
    assert "…" not in r.stdout
    assert max(len(line) for line in r.stdout.splitlines()) <= columns
    gamma = (
        "gamma\n  Rows: 120\n  Steps: 0..119\n  First (UTC): 2026-11-27 04:37:48\n"
        "  Last: 04:37:48\n  Metrics: 11\n  Media: 4\n  System: 3\n  Alerts: 1\n"
    )
    beta = "beta\n  ID: 6afb4a00\n  Rows: 30\n  Steps: 0..29\n"
    if columns >= len("  First (UTC): 2026-11-27 04:37:48"):
        assert gamma in r.stdout
        assert beta in r.stdout
    else:  # long lines wrap, but nothing is cut
        assert gamma.replace("\n", "").replace(" ", "") in r.stdout.replace("\n", "").replace(
            " ", ""
        )
    r = cli("drop", str(d / "toyproj.db"), "-r", "alpha,gamma", "-n", env=env)
    assert r.exit_code == 0, r.stderr
    assert r.stdout.splitlines()[1:] == [
        *("alpha", "  ID: 3ff25f58", "  metrics: 100", "  configs: 1", "  system_metrics: 0"),
        *("  alerts: 1", "  traces: 0", "  media deleted: 0"),
        *("gamma", "  ID: 72fff155", "  metrics: 120", "  configs: 1", "  system_metrics: 3"),
        *("  alerts: 1", "  traces: 1", "  media deleted: 4"),
        *("total", "  metrics: 220", "  configs: 2", "  system_metrics: 3", "  alerts: 2"),
        *("  traces: 1", "  media deleted: 4"),
    ]
    args = ("--from", str(d / "toyproj.db"), "--into", str(d / "x.db"), "-r", "gamma")
    r = cli("merge", *args, env=env)
    assert r.exit_code == 0, r.stderr
    assert r.stdout.splitlines()[1:] == [
        *("gamma", "  ID: 72fff155", "  metrics: 120", "  configs: 1", "  system_metrics: 3"),
        *("  alerts: 1", "  traces: 1", "  media: 4"),
    ]


def test_drop_with_stdin_closed_does_not_ask(fixture_copy: Callable[[str], Path]) -> None:
    """Found by the environment audit: started with stdin closed (`<&-`, as some job
    runners do), drop failed with "unexpected AttributeError" instead of acting as it
    does when stdin is not a terminal."""
    d = fixture_copy("trackio-0.43.0")
    db = d / "toyproj.db"
    env = {k: v for k, v in os.environ.items() if k != "TRACKIO_TOOL_DEBUG"}
    script = 'exec <&-; exec "$0" -m trackio_tool drop "$1" --run alpha'
    proc = subprocess.run(
        ["bash", "-c", script, sys.executable, str(db)], capture_output=True, text=True, env=env
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(f"Dropped 1 run from {db}\n")
    assert _counts(db, "run_name", "alpha")["metrics"] == 0


def test_a_run_dropped_while_drop_plans_is_one_line(
    cli: Callable[..., Any], fixture_copy: Callable[[str], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Found by the environment audit (two `drop --run alpha` at once): when the other
    drop committed between this one's run index and its per-run queries, drop failed
    with "unexpected IndexError"."""
    from trackio_tool.store import write

    d = fixture_copy("trackio-0.43.0")
    db = d / "toyproj.db"
    names_of = write._names_of
    other: list[subprocess.CompletedProcess[str]] = []

    def another_drop_first(*args: Any) -> list[str]:
        if not other:  # the run index is read: now another process drops the run
            cmd = [sys.executable, "-m", "trackio_tool", "drop", str(db), "--run", "alpha", "-y"]
            other.append(subprocess.run(cmd, capture_output=True, text=True))
        return names_of(*args)

    monkeypatch.setattr(write, "_names_of", another_drop_first)
    r = cli("drop", str(db), "--run", "alpha", "--yes")
    assert other[0].returncode == 0, other[0].stderr
    _one_clean_line(
        r, "run 'alpha' was renamed or dropped by another process", "run the command again"
    )


def test_many_runs_of_one_name_are_listed_shortly(
    cli: Callable[..., Any], fixture_copy: Callable[[str], Path]
) -> None:
    """A sweep logged 100 runs under one name: the error listed all 100 ids (3.4 KB on
    one line); it names 10 and says how many more, and where to see them all."""
    d = fixture_copy("trackio-0.43.0")
    db = d / "toyproj.db"
    con = sqlite3.connect(db)
    with con:
        con.executemany(
            "INSERT INTO metrics (run_id, timestamp, run_name, step, metrics) VALUES (?,?,?,?,?)",
            [(f"{i:032x}", "2026-01-01T00:00:00+00:00", "sweep", 0, "{}") for i in range(30)],
        )
    con.close()
    r = cli("drop", str(db), "--run", "sweep", "--yes")
    _one_clean_line(
        r,
        f"30 runs in toyproj.db are named 'sweep' (ids {0:032x}, {1:032x},",
        f"{9:032x}, ... and 20 more); select one by its id; `analyze --json` lists them all",
    )
    assert f"{10:032x}" not in r.stderr
