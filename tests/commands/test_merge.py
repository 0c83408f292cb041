"""``trackio-tool merge``: output, dry run, media, and bad input (one clean line, nothing modified)."""

from __future__ import annotations

import contextlib
import json
import shutil
import sqlite3
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import FIXTURES, tree_digest

TABLE_0_43 = """\
Run    ID        metrics  configs  system_metrics  alerts  traces  media
alpha  3ff25f58      100        1               0       1       0      0
beta   66bbe705       50        1               3       0       0      0
beta   6afb4a00       30        1               0       0       0      0
gamma  72fff155      120        1               3       1       1      4
total                300        4               6       2       1      4
"""


def _one_clean_line(result: Any, *needles: str) -> None:
    assert result.exit_code == 1, (result.exit_code, result.stdout, result.stderr)
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    for needle in needles:
        assert needle in lines[0], lines[0]


@contextlib.contextmanager
def immutable(*paths: Path) -> Iterator[None]:
    """chattr +i: read-only even for root (tests run as root in CI)."""
    if not shutil.which("chattr"):
        pytest.skip("chattr is not available")
    done = []
    try:
        for p in paths:
            if subprocess.run(["chattr", "+i", str(p)], capture_output=True).returncode:
                pytest.skip("this filesystem has no immutable flag")
            done.append(p)
        yield
    finally:
        for p in done:
            subprocess.run(["chattr", "-i", str(p)], check=False)


def _create(db: Path, *statements: str) -> None:
    con = sqlite3.connect(db)
    for sql in statements:
        con.execute(sql)
    con.commit()
    con.close()


def _sample_paths(db: Path) -> list[str]:
    """The ``file_path`` of every logged ``samples`` image in ``db``."""
    con = sqlite3.connect(db)
    try:
        return [
            json.loads(m)["samples"]["file_path"]
            for (m,) in con.execute(
                "SELECT metrics FROM metrics WHERE instr(metrics, 'file_path') > 0"
            )
        ]
    finally:
        con.close()


# gamma logged an artifact (fixture README): merge does not copy artifacts, and says so.
ARTIFACTS_NOTE = (
    "note: artifacts are not copied: the merged runs' 1 artifact version they produced and"
    " 1 artifact link stay in the source only\n"
)


def test_artifacts_left_behind_are_noted(
    cli: Callable[..., Any], fixture_copy: Callable[[str], Path], tmp_path: Path
) -> None:
    """Found by the version sweep: merge left a run's artifacts behind without a word."""
    src = fixture_copy("trackio-0.43.0") / "toyproj.db"
    target = str(tmp_path / "newproj.db")
    r = cli("merge", "--from", str(src), "--into", target, "-r", "gamma", "-n", "--json")
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["notes"] == [ARTIFACTS_NOTE.removeprefix("note: ").strip()]
    r = cli("merge", "--from", str(src), "--into", target, "-r", "alpha,beta", "-n", "--json")
    assert json.loads(r.stdout)["notes"] == []


def test_many_artifacts_are_counted_with_thousands_separators(
    cli: Callable[..., Any], fixture_copy: Callable[[str], Path], tmp_path: Path
) -> None:
    """Found by the heavy-content audit: "5000 artifact versions ... 20000 artifact
    links", where every other count the tool prints reads 5,000."""
    src = fixture_copy("trackio-0.43.0") / "toyproj.db"
    con = sqlite3.connect(src)
    with con:  # 1,200 more links of gamma's (input) to its artifact version
        con.executemany(
            "INSERT INTO run_artifact_links (run_id, run_name, run_project,"
            " artifact_version_id, direction, created_at)"
            " SELECT run_id, run_name, ?, artifact_version_id, 'input', created_at"
            " FROM run_artifact_links LIMIT 1",
            [(f"p{i}",) for i in range(1200)],
        )
    con.close()
    r = cli("merge", "--from", str(src), "--into", str(tmp_path / "n.db"), "-r", "gamma", "-n")
    assert r.exit_code == 0, r.stderr
    note = ARTIFACTS_NOTE.replace("1 artifact link", "1,201 artifact links")
    assert r.stderr.startswith(note)


def test_media_missing_from_the_source_are_noted(
    cli: Callable[..., Any], fixture_copy: Callable[[str], Path], tmp_path: Path
) -> None:
    """Found by the version sweep: when a run's media folder was not in the source (never
    copied along, deleted, a remote project's old raw-name folder), merge rewrote the
    rows' media paths to the target and copied nothing, without a word."""
    src = fixture_copy("trackio-0.43.0")
    shutil.rmtree(src / "media" / "toyproj" / "gamma")
    note = (
        "note: no media files were found in the source for 'gamma', whose rows refer to"
        " some: the merged rows point at files that are not there\n"
    )
    edge = tmp_path / "edge.db"
    shutil.copy(src / "toyproj-edge.db", edge)
    for target in (tmp_path / "new.db", edge):
        r = cli("merge", "--from", str(src / "toyproj.db"), "--into", str(target), "-r", "gamma")
        assert r.exit_code == 0, r.stderr
        assert r.stderr == ARTIFACTS_NOTE + note
    r = cli("merge", "--from", str(src / "toyproj.db"), "--into", str(tmp_path / "n2.db"))
    assert r.stderr == ARTIFACTS_NOTE + note  # alpha and beta log no media
    r = cli("merge", "--from", str(src / "toyproj.db"), "--into", str(tmp_path / "n3.db"),
            "-r", "gamma", "--no-media")  # fmt: skip
    assert r.stderr == ARTIFACTS_NOTE  # paths left as they were


def test_merge_into_new_database(
    cli: Callable[..., Any], fixture_copy: Callable[[str], Path], tmp_path: Path
) -> None:
    src = fixture_copy("trackio-0.43.0")
    target = tmp_path / "out" / "newproj.db"
    r = cli("merge", "--from", str(src / "toyproj.db"), "--into", str(target))
    assert r.exit_code == 0, r.stderr
    head, table = r.stdout.split("\n", 1)
    assert head == (
        f"Merged 4 runs from {src / 'toyproj.db'} into {target}"
        " (a new database with Trackio 0.43's schema)"
    )
    assert table == TABLE_0_43
    assert r.stderr == ARTIFACTS_NOTE
    media = sorted(p.relative_to(target.parent) for p in (target.parent / "media").rglob("*.png"))
    assert [str(p.parent) for p in media] == [
        "media/newproj/gamma/0",
        "media/newproj/gamma/30",
        "media/newproj/gamma/60",
        "media/newproj/gamma/90",
    ]


def test_dry_run_prints_the_plan_and_writes_nothing(
    cli: Callable[..., Any], fixture_copy: Callable[[str], Path], tmp_path: Path
) -> None:
    src = fixture_copy("trackio-0.43.0")
    target = tmp_path / "out" / "newproj.db"
    r = cli("merge", "--from", str(src / "toyproj.db"), "--into", str(target), "--dry-run")
    assert r.exit_code == 0, r.stderr
    assert r.stdout.startswith(f"Would merge 4 runs from {src / 'toyproj.db'} into {target}")
    assert r.stdout.split("\n", 1)[1] == TABLE_0_43
    assert r.stderr == ARTIFACTS_NOTE + "dry run: nothing was written\n"
    assert not (tmp_path / "out").exists()

    # Into an existing target: the folder stays byte for byte as it was.
    legacy = fixture_copy("trackio-0.2.9")
    before = tree_digest(legacy)
    r = cli(
        "merge", "--from", str(src / "toyproj-edge.db"), "--into", str(legacy / "toyproj.db"), "-n"
    )
    assert r.exit_code == 0, r.stderr
    assert "Would merge 1 run" in r.stdout
    assert tree_digest(legacy) == before


def test_json_and_run_selection(
    cli: Callable[..., Any], fixture_copy: Callable[[str], Path], tmp_path: Path
) -> None:
    src = fixture_copy("trackio-0.20.2")
    target = tmp_path / "t.db"
    r = cli(
        "merge",
        "--from",
        str(src / "toyproj.parquet"),
        "--into",
        str(target),
        "--run",
        "alpha,beta",
        "--run",
        "gamma",
        "--json",
    )
    assert r.exit_code == 0, r.stderr
    data = json.loads(r.stdout)
    assert data["created"] is True
    assert [run["name"] for run in data["runs"]] == ["alpha", "beta", "gamma"]
    assert data["rows"] == {"metrics": 270, "configs": 3, "system_metrics": 5}
    assert data["media_files"] == 4
    # 0.20.2 has no run ids: each run got one fresh uuid4 hex, the same in every table.
    con = sqlite3.connect(target)
    try:
        ids = con.execute(
            "SELECT run_name, COUNT(DISTINCT run_id) FROM (SELECT run_name, run_id FROM metrics"
            " UNION ALL SELECT run_name, run_id FROM configs UNION ALL SELECT run_name, run_id"
            " FROM system_metrics) GROUP BY run_name"
        ).fetchall()
    finally:
        con.close()
    assert sorted(ids) == [("alpha", 1), ("beta", 1), ("gamma", 1)]
    assert "note: no toyproj_traces.parquet beside toyproj.parquet: traces not merged" in r.stderr


def test_no_media_leaves_files_and_paths(
    cli: Callable[..., Any], fixture_copy: Callable[[str], Path], tmp_path: Path
) -> None:
    src = fixture_copy("trackio-0.2.9")
    target = tmp_path / "t.db"
    r = cli(
        "merge",
        "--from",
        str(src / "toyproj.db"),
        "--into",
        str(target),
        "--no-media",
        "--run",
        "gamma",
    )
    assert r.exit_code == 0, r.stderr
    assert "media" not in r.stdout.splitlines()[1]
    assert not (tmp_path / "media").exists()
    paths = _sample_paths(target)
    assert len(paths) == 4
    assert all(p.startswith("media/toyproj/gamma/0/") for p in paths)


def test_media_paths_follow_both_styles(
    cli: Callable[..., Any], fixture_copy: Callable[[str], Path], tmp_path: Path
) -> None:
    """0.2.9 paths start with media/, 0.43 paths do not: each keeps its style."""
    target = tmp_path / "both.db"
    for name in ("trackio-0.2.9", "trackio-0.43.0-static"):
        src = fixture_copy(name)
        spec = src / "toyproj.db" if name == "trackio-0.2.9" else src / "toyproj"
        r = cli(
            "merge",
            "--from",
            str(spec),
            "--into",
            str(target),
            "--run",
            "gamma" if name == "trackio-0.2.9" else "alpha",
        )
        assert r.exit_code == 0, r.stderr
    r = cli(
        "merge",
        "--from",
        str(fixture_copy("trackio-0.43.0-wal-snapshot") / "walproj.db"),
        "--into",
        str(target),
    )
    assert r.exit_code == 0, r.stderr
    paths = _sample_paths(target)
    assert len(paths) == 4
    assert all(p.startswith("media/both/gamma/0/") for p in paths), paths
    for p in paths:
        assert (tmp_path / p).is_file()


def test_a_users_own_file_paths_are_not_media(
    cli: Callable[..., Any], fixture_copy: Callable[[str], Path], tmp_path: Path
) -> None:
    """A config's ``{"file_path": "data/train.csv"}`` came out of a merge as
    ``<target>/train.csv``: every ``file_path`` was taken for a media path. Only the
    merged runs' media paths move now."""
    src = fixture_copy("trackio-0.43.0") / "toyproj.db"
    con = sqlite3.connect(src)
    try:
        (raw,) = con.execute("SELECT config FROM configs WHERE run_name = 'gamma'").fetchone()
        config = json.loads(raw)
        config["data"] = {"file_path": "data/train.csv"}
        config["file_path"] = "runs/gamma.yaml"
        con.execute(
            "UPDATE configs SET config = ? WHERE run_name = 'gamma'",
            (json.dumps(config).encode() if isinstance(raw, bytes) else json.dumps(config),),
        )
        con.commit()
    finally:
        con.close()
    target = tmp_path / "moved.db"
    r = cli("merge", "--from", str(src), "--into", str(target), "--run", "gamma")
    assert r.exit_code == 0, r.stderr
    con = sqlite3.connect(target)
    try:
        (raw,) = con.execute("SELECT config FROM configs").fetchone()
    finally:
        con.close()
    paths = _sample_paths(target)
    merged = json.loads(raw)
    assert merged["data"] == {"file_path": "data/train.csv"}
    assert merged["file_path"] == "runs/gamma.yaml"
    assert len(paths) == 4
    assert all(p.startswith("moved/gamma/") for p in paths), paths
    for p in paths:
        assert (tmp_path / "media" / p).is_file()


def test_hundreds_of_conflicts_stay_one_short_line(
    cli: Callable[..., Any], fixture_copy: Callable[[str], Path]
) -> None:
    """Merging a sweep of 300 runs twice listed all 300 (12 KB on one line)."""
    src = fixture_copy("trackio-0.43.0") / "toyproj.db"
    con = sqlite3.connect(src)
    with con:
        con.executemany(
            "INSERT INTO metrics (run_id, timestamp, run_name, step, metrics) VALUES (?,?,?,?,?)",
            [(f"{i:032x}", "2026-01-01T00:00:00+00:00", f"s{i:03}", 0, "{}") for i in range(300)],
        )
    con.close()
    target = src.parent / "again" / "toyproj.db"
    target.parent.mkdir()
    target.write_bytes(src.read_bytes())
    r = cli("merge", "--from", str(src), "--into", str(target))
    _one_clean_line(r, "304 selected runs already exist in toyproj.db: ", ", ... and 294 more;")
    assert len(r.stderr) < 1000


def test_conflicts_are_listed_before_writing(
    cli: Callable[..., Any], fixture_copy: Callable[[str], Path]
) -> None:
    src = fixture_copy("trackio-0.20.2")
    dst = fixture_copy("trackio-0.2.9")
    before = tree_digest(dst)
    r = cli("merge", "--from", str(src / "toyproj.db"), "--into", str(dst / "toyproj.db"))
    _one_clean_line(
        r,
        "4 selected runs already exist in toyproj.db: 'alpha', 'beta', 'dainty-sunset-0', 'gamma'",
        "--run",
    )
    assert tree_digest(dst) == before
    # A run that clashes by name and by id is one run (it was counted twice: fuzz).
    src = fixture_copy("trackio-0.43.0")
    target = src.parent / "again" / "toyproj.db"
    target.parent.mkdir()
    target.write_bytes((src / "toyproj.db").read_bytes())
    r = cli("merge", "--from", str(src / "toyproj.db"), "--into", str(target), "--run", "gamma")
    _one_clean_line(
        r, "a selected run already exists in toyproj.db: 'gamma' (id 72fff1558ccb", "leave it out"
    )


def test_same_named_runs_into_a_legacy_target(
    cli: Callable[..., Any], fixture_copy: Callable[[str], Path], tmp_path: Path
) -> None:
    src = fixture_copy("trackio-0.43.0")
    legacy = tmp_path / "legacy.db"
    shutil.copyfile(FIXTURES / "trackio-0.2.9" / "toyproj-edge.db", legacy)
    before = tree_digest(legacy)
    r = cli("merge", "--from", str(src / "toyproj.db"), "--into", str(legacy))
    _one_clean_line(
        r,
        "keys runs by name",
        "'beta': ids 66bbe7058728471b8bdfacf8593ad4a1, 6afb4a0011dc4614bf8df66d3e75156b",
        "--run <id>",
    )
    assert tree_digest(legacy) == before
    r = cli(
        "merge",
        "--from",
        str(src / "toyproj.db"),
        "--into",
        str(legacy),
        "--run",
        "6afb4a0011dc4614bf8df66d3e75156b",
    )
    assert r.exit_code == 0, r.stderr
    assert "note: tables created in legacy.db: configs (run-name layout" in r.stderr


def _db_with_run_name(tmp: Path, name: str) -> Path:
    path = tmp / "evil" / "evilproj.db"
    path.parent.mkdir()
    shutil.copyfile(FIXTURES / "trackio-0.43.0" / "toyproj-edge.db", path)
    con = sqlite3.connect(path)
    with con:
        con.execute("UPDATE metrics SET run_name = ?", (name,))
        con.execute("UPDATE configs SET run_name = ?", (name,))
    con.close()
    return path


@pytest.mark.parametrize(
    ("case", "needles"),
    [
        ("text-target", ["not an SQLite database"]),
        ("no-metrics-target", ["not a Trackio project"]),
        ("no-payload-column-target", ["its metrics table has no 'metrics' column"]),
        ("no-config-column-target", ["its configs table has no 'config' column"]),
        ("not-db-suffix", ["is not a .db file"]),
        ("missing-source", ["no such file"]),
        ("unknown-run", ["no run 'nope'", "runs: alpha, beta, gamma"]),
        ("escaping-name", ["'../../escape' would escape the media folder"]),
        ("slash-name", ["'a/b' would escape the media folder"]),
        ("bad-new-name", ["not a name Trackio would open"]),
        ("reserved-name", ["reserves project names"]),
        ("same-file", ["source and target are the same file"]),
        # found by the bad-input fuzz: the folders made for a new target stayed behind,
        # and the error blamed the target
        ("no-timestamp-column", ["a source row has no timestamp", "was left unchanged"]),
    ],
)
def test_bad_input(
    case: str,
    needles: list[str],
    cli: Callable[..., Any],
    fixture_copy: Callable[[str], Path],
    tmp_path: Path,
) -> None:
    src = fixture_copy("trackio-0.43.0") / "toyproj.db"
    target = tmp_path / "target.db"
    if case == "text-target":
        target.write_text("hello\n")
    elif case == "no-metrics-target":
        _create(target, "CREATE TABLE users(id INTEGER PRIMARY KEY)")
    elif case == "no-payload-column-target":
        _create(target, "CREATE TABLE metrics (id, run_id, timestamp, run_name, step)")
    elif case == "no-config-column-target":
        _create(
            target,
            "CREATE TABLE metrics (id, timestamp, run_name, step, metrics)",
            "CREATE TABLE configs (id, run_name, created_at)",
        )
    elif case == "not-db-suffix":
        target = tmp_path / "target.sqlite"
    elif case == "missing-source":
        src = tmp_path / "nope.db"
    elif case in ("escaping-name", "slash-name"):
        src = _db_with_run_name(tmp_path, "../../escape" if case == "escaping-name" else "a/b")
    elif case == "bad-new-name":
        target = tmp_path / "my.model.db"
    elif case == "reserved-name":
        target = tmp_path / "toyproj_system.db"
    elif case == "same-file":
        target = src
    elif case == "no-timestamp-column":
        import polars as pl

        frame = pl.read_parquet(src.with_suffix(".parquet"))
        src = tmp_path / "src" / "toyproj.parquet"
        src.parent.mkdir()
        frame.drop("timestamp").write_parquet(src)
        target = tmp_path / "new" / "sub" / "target.db"
    args = ["merge", "--from", str(src), "--into", str(target)]
    if case == "unknown-run":
        args += ["--run", "nope"]
    before = tree_digest(tmp_path)
    src_before = tree_digest(src.parent) if src.exists() else {}
    r = cli(*args)
    _one_clean_line(r, *needles)
    assert tree_digest(tmp_path) == before
    assert not (tmp_path / "new").exists()
    if src.exists():
        assert tree_digest(src.parent) == src_before


def test_read_only_target(cli: Callable[..., Any], fixture_copy: Callable[[str], Path]) -> None:
    src = fixture_copy("trackio-0.43.0")
    dst = fixture_copy("trackio-0.2.9")
    before = tree_digest(dst)
    with immutable(dst / "toyproj.db"):
        r = cli("merge", "--from", str(src / "toyproj-edge.db"), "--into", str(dst / "toyproj.db"))
    _one_clean_line(r, "is read-only", "nothing was changed")
    with immutable(dst):
        r = cli("merge", "--from", str(src / "toyproj-edge.db"), "--into", str(dst / "toyproj.db"))
    _one_clean_line(r, "read-only")
    assert tree_digest(dst) == before


def test_remerge_is_refused_by_log_id(
    cli: Callable[..., Any], fixture_copy: Callable[[str], Path], tmp_path: Path
) -> None:
    """Rows merged before under another name are not duplicated silently."""
    src = fixture_copy("trackio-0.43.0-wal-snapshot") / "walproj.db"
    target = tmp_path / "t.db"
    assert cli("merge", "--from", str(src), "--into", str(target)).exit_code == 0
    assert cli("rename", str(target), "--run", "live", "--to", "live-old").exit_code == 0
    con = sqlite3.connect(target)
    with con:
        con.execute("UPDATE metrics SET run_id = 'other'")
        con.execute("UPDATE configs SET run_id = 'other'")
    con.close()
    before = tree_digest(tmp_path)
    r = cli("merge", "--from", str(src), "--into", str(target))
    _one_clean_line(r, "40 metrics rows of the source are already in t.db (same log_id")
    assert tree_digest(tmp_path) == before
    # --dry-run says so too (it used to promise a merge the real run refuses)
    r = cli("merge", "--from", str(src), "--into", str(target), "--dry-run")
    _one_clean_line(r, "40 metrics rows of the source are already in t.db (same log_id")
    assert tree_digest(tmp_path) == before


def test_a_refused_merge_leaves_a_live_wal_alone(
    cli: Callable[..., Any], fixture_copy: Callable[[str], Path], tmp_path: Path
) -> None:
    """Found by the write-side fuzz: a merge refused for rows merged before said "nothing
    was changed", but its write connection had folded the target's -wal into the .db."""
    live = fixture_copy("trackio-0.43.0-wal-snapshot")
    assert (live / "walproj.db-wal").stat().st_size > 0
    src = tmp_path / "src" / "walproj.db"
    src.parent.mkdir()
    assert cli("merge", "--from", str(live / "walproj.db"), "--into", str(src)).exit_code == 0
    assert cli("rename", str(src), "--run", "live", "--to", "live-copy").exit_code == 0
    con = sqlite3.connect(src)
    with con:
        for table in ("metrics", "configs", "system_metrics"):
            con.execute(f"UPDATE {table} SET run_id = 'other'")
    con.close()
    before = tree_digest(live)
    r = cli("merge", "--from", str(src), "--into", str(live / "walproj.db"))
    _one_clean_line(r, "already in walproj.db (same log_id")
    assert tree_digest(live) == before


@pytest.mark.parametrize("value", ["abc", "0", "-3", "2.5"])
def test_a_bad_transfer_count_is_named(
    cli: Callable[..., Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    """TRACKIO_TOOL_TRANSFERS=abc silently meant 16 (and 0 meant 1) while a bad timeout
    is refused in one line: it is refused the same way, with nothing written."""
    import uuid

    import fsspec

    mem = fsspec.filesystem("memory")
    root = f"/transfers-{uuid.uuid4().hex[:8]}"
    src = FIXTURES / "trackio-0.43.0"
    for p in src.rglob("*"):
        if p.is_file():
            mem.pipe_file(f"{root}/{p.relative_to(src).as_posix()}", p.read_bytes())
    try:
        monkeypatch.setenv("TRACKIO_TOOL_TRANSFERS", value)
        r = cli("merge", "--from", f"memory://{root}/toyproj.db", "--into", str(tmp_path / "t.db"))
        _one_clean_line(r, f"TRACKIO_TOOL_TRANSFERS must be a positive whole number, not {value!r}")
        assert not (tmp_path / "t.db").exists()
        assert list(tmp_path.iterdir()) == []
        monkeypatch.setenv("TRACKIO_TOOL_TRANSFERS", " 2 ")
        r = cli("merge", "--from", f"memory://{root}/toyproj.db", "--into", str(tmp_path / "t.db"))
        assert r.exit_code == 0, r.stderr
        assert len(list((tmp_path / "media" / "t").rglob("*.png"))) == 4
    finally:
        mem.rm(root, recursive=True)
