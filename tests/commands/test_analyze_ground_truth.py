"""analyze --json against the ground truth computed from the fixtures by plain sqlite3/pyarrow."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import FIXTURES, GROUND_TRUTH, tree_digest
from trackio_tool.store import sqlite

TRUTH = {p.stem: json.loads(p.read_text()) for p in sorted(GROUND_TRUTH.glob("*.json"))}
DB_CASES = [(fx, db["file"]) for fx, t in TRUTH.items() for db in t["dbs"]]
PARQUET_CASES = [
    (fx, pq["file"])
    for fx, t in TRUTH.items()
    for pq in t["parquet"]
    if pq.get("rows_per_run") is not None
    and pq["file"].endswith(("toyproj.parquet", "metrics.parquet"))
]


def _analyze(cli: Any, *args: str) -> dict[str, Any]:
    result = cli("analyze", *args, "--json")
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def _truth_db(fixture: str, file: str) -> dict[str, Any]:
    return next(db for db in TRUTH[fixture]["dbs"] if db["file"] == file)


@pytest.mark.parametrize("keys", ["one-pass", "windows"])
@pytest.mark.parametrize(("fixture", "file"), DB_CASES, ids=[f"{a}/{b}" for a, b in DB_CASES])
def test_db_matches_ground_truth(
    cli: Any, fixture: str, file: str, keys: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both ways of reading a run's keys: small tables in one pass, large ones in
    windows (forced here on the small fixtures)."""
    if keys == "windows":
        monkeypatch.setattr(sqlite, "SMALL_TABLE_ROWS", 0)
    folder = FIXTURES / fixture
    before = tree_digest(folder)
    data = _analyze(cli, str(folder / file))
    truth = _truth_db(fixture, file)
    (project,) = data["projects"]
    assert project["project"] == file.removesuffix(".db")
    assert project["total_rows"] == truth["tables"]["metrics"]["rows"]
    runs = project["runs"]
    assert [(r["name"], r["id"]) for r in runs] == [
        (t["run_name"], t["run_id"]) for t in truth["runs"]
    ]
    for run, t in zip(runs, truth["runs"], strict=True):
        assert run["rows"] == t["rows"]
        assert (run["step_min"], run["step_max"]) == (t["step_min"], t["step_max"])
        assert (run["first"], run["last"]) == (t["first_timestamp"], t["last_timestamp"])
        assert run["metrics"] == sorted(t["metric_names"])
        assert run["media_files"] == t["media_files_on_disk_under_run_name_dir"]
        assert run["system_rows"] == (t.get("system_metrics_rows") or 0)
        assert run["alerts"] == (t.get("alerts_rows") or 0)
        assert run["traces"] == (t.get("traces_rows") or 0)
    assert project["metrics"] == sorted({m for t in truth["runs"] for m in t["metric_names"]})
    # Reading is side-effect free: same files, same bytes (no -wal/-shm left behind).
    assert tree_digest(folder) == before


def test_wal_rows_are_seen(cli: Any) -> None:
    """40 rows live only in -wal; a naive copy of the .db alone shows 1."""
    data = _analyze(cli, str(FIXTURES / "trackio-0.43.0-wal-snapshot" / "walproj.db"))
    assert data["projects"][0]["total_rows"] == 40


@pytest.mark.parametrize(
    ("fixture", "file"), PARQUET_CASES, ids=[f"{a}/{b}" for a, b in PARQUET_CASES]
)
def test_parquet_matches_ground_truth(cli: Any, fixture: str, file: str) -> None:
    path = FIXTURES / fixture / file
    source = path.parent if path.name == "metrics.parquet" else path
    data = _analyze(cli, str(source))
    (project,) = data["projects"]
    truth = next(pq for pq in TRUTH[fixture]["parquet"] if pq["file"] == file)
    got = {(r["id"] or r["name"]): r["rows"] for r in project["runs"]}
    assert got == truth["rows_per_run"]
    assert project["total_rows"] == truth["rows"]
    # Every metric column of the export shows up for some run; none structural.
    structural = {"id", "run_id", "run_name", "step", "timestamp", "log_id", "space_id"}
    columns = {c.split(":", 1)[0] for c in truth["columns"]} - structural
    assert set(project["metrics"]) == columns


def _db_truth_for(fixture: str) -> dict[str, Any] | None:
    base = fixture.removesuffix("-static")
    if base not in TRUTH:
        return None
    return next((db for db in TRUTH[base]["dbs"] if db["file"] == "toyproj.db"), None)


@pytest.mark.parametrize("fixture", [f for f in TRUTH if f.endswith("-static")])
def test_static_export(cli: Any, fixture: str) -> None:
    folder = FIXTURES / fixture / "toyproj"
    data = _analyze(cli, str(folder))
    (project,) = data["projects"]
    runs_json = TRUTH[fixture]["json_files"]["toyproj/runs.json"]
    assert [r["name"] for r in project["runs"]] == [r["name"] for r in runs_json]
    for run, expected in zip(project["runs"], runs_json, strict=True):
        assert run["rows"] == expected["log_count"]
        assert run["step_max"] == expected["last_step"]
        if "id" in expected and run["id"] is not None:
            assert run["id"] == expected["id"]
    # Static media folders are media/<run>/..., counted like the DB's per-run folders.
    db = _db_truth_for(fixture)
    if db is not None:
        by_name = {t["run_name"]: t["media_files_on_disk_under_run_name_dir"] for t in db["runs"]}
        for run in project["runs"]:
            if run["name"] in by_name:
                assert run["media_files"] == by_name[run["name"]]


def test_trackio_dir_lists_every_project(cli: Any) -> None:
    data = _analyze(cli, str(FIXTURES / "trackio-0.43.0"))
    assert sorted(p["project"] for p in data["projects"]) == ["toyproj", "toyproj-edge"]


def test_bare_project_name_uses_trackio_dir(
    cli: Any, fixture_copy: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder: Path = fixture_copy("trackio-0.20.2")
    monkeypatch.setenv("TRACKIO_DIR", str(folder))
    data = _analyze(cli, "toyproj")
    assert data["projects"][0]["total_rows"] == 300
    data = _analyze(cli)  # no SOURCE: every project in TRACKIO_DIR
    assert sorted(p["project"] for p in data["projects"]) == ["toyproj", "toyproj-edge"]


def test_no_media_gives_null(cli: Any) -> None:
    data = _analyze(cli, str(FIXTURES / "trackio-0.43.0" / "toyproj.db"), "--no-media")
    assert {r["media_files"] for r in data["projects"][0]["runs"]} == {None}


def test_run_selection_by_name_and_id(cli: Any) -> None:
    db = str(FIXTURES / "trackio-0.43.0" / "toyproj.db")
    data = _analyze(cli, db, "--run", "beta")
    assert [r["rows"] for r in data["projects"][0]["runs"]] == [50, 30]
    data = _analyze(cli, db, "--run", "6afb4a0011dc4614bf8df66d3e75156b,gamma")
    assert [(r["name"], r["rows"]) for r in data["projects"][0]["runs"]] == [
        ("beta", 30),
        ("gamma", 120),
    ]
    data = _analyze(cli, db, "-r", "alpha", "-r", "gamma")
    assert data["projects"][0]["total_rows"] == 220


def test_unknown_run_names_close_matches(cli: Any) -> None:
    result = cli("analyze", str(FIXTURES / "trackio-0.43.0" / "toyproj.db"), "--run", "gama")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.strip().splitlines() == [result.stderr.strip()]
    assert "no run 'gama'" in result.stderr
    assert "'gamma'" in result.stderr


def test_a_run_in_one_of_several_projects(cli: Any) -> None:
    """Over a Trackio directory, --run alpha failed as soon as one project lacked alpha
    (plot took it): a selector is refused only when no project has it, and projects
    where nothing is selected are left out, as in plot."""
    folder = FIXTURES / "trackio-0.43.0"
    for args, env in (((str(folder),), None), ((), {"TRACKIO_DIR": str(folder)})):
        result = cli("analyze", *args, "--run", "alpha,edge-run", "--json", env=env)
        assert result.exit_code == 0, result.stderr
        data = json.loads(result.stdout)
        assert [(p["project"], [r["name"] for r in p["runs"]]) for p in data["projects"]] == [
            ("toyproj", ["alpha"]),
            ("toyproj-edge", ["edge-run"]),
        ]
    data = _analyze(cli, str(folder), "--run", "alpha")
    assert [p["project"] for p in data["projects"]] == ["toyproj"]
    result = cli("analyze", str(folder), "--run", "alpha,alpah")
    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr == (
        "error: no run 'alpah' in 2 projects (toyproj, toyproj-edge); closest: 'alpha', 'gamma'\n"
    )


def test_one_run_is_said_in_the_singular(cli: Any) -> None:
    result = cli("analyze", str(FIXTURES / "trackio-0.43.0" / "toyproj.db"), "-r", "alpha")
    assert result.exit_code == 0, result.stderr
    assert "\n100 rows, 1 run, 8 metrics: " in result.stdout  # not "1 runs"


def test_human_output(cli: Any) -> None:
    result = cli("analyze", str(FIXTURES / "trackio-0.43.0" / "toyproj.db"))
    assert result.exit_code == 0
    out = result.stdout
    assert "toyproj" in out
    assert "300 rows, 4 runs, 11 metrics" in out
    # duplicate names show their ids
    assert "66bbe705" in out
    assert "6afb4a00" in out
    assert "Configs" in out
    assert "lr=0.001" in out
    # Runs lacking the same metrics share one line (the heavy-content audit had 19 equal lines).
    lines = out.splitlines()
    start = lines.index("Metrics not tracked by every run") + 1
    assert lines[start : start + 2] == [
        "  alpha, beta (66bbe705): all but preds, samples, weights",
        "  beta (6afb4a00): all but eval, preds, samples, weights",
    ]


def test_a_huge_config_is_cut_to_one_readable_line(
    cli: Any, fixture_copy: Callable[[str], Path]
) -> None:
    """A run logged with 5,000 config keys, or a long text or deep dict as one value,
    had its whole config printed: 1.9 MB of output for 20 runs."""
    d = fixture_copy("trackio-0.43.0")
    huge = {f"param_{i:05d}": i / 7 for i in range(5000)}
    deep: dict[str, Any] = {}
    leaf = deep
    for level in range(50):
        leaf["child"] = leaf = {"level": level}
    con = sqlite3.connect(d / "toyproj.db")
    with con:
        con.execute("UPDATE configs SET config = ? WHERE run_name = 'alpha'", (json.dumps(huge),))
        con.execute(
            "UPDATE configs SET config = ? WHERE run_name = 'gamma'",
            (json.dumps({"lr": 0.01, "notes": "x" * 20000, "net": deep}),),
        )
    con.close()
    # A terminal wide enough that rich does not wrap the lines being measured.
    result = cli("analyze", str(d / "toyproj.db"), env={"COLUMNS": "1000"})
    assert result.exit_code == 0, result.stderr
    lines = {line.split(":")[0].strip(): line for line in result.stdout.splitlines()}
    alpha, gamma = lines["alpha"], lines["gamma"]
    assert alpha.startswith("  alpha: param_00000=0.0, param_00001=0.14285714285714285, ")
    shown = alpha.count("param_")
    assert alpha.endswith(f", ... {5000 - shown:,} more keys")
    assert gamma.startswith("  gamma: lr=0.01, notes=xxxx")
    assert "..., net={'child': {'level': 0, 'child': {'level': 1," in gamma
    assert max(len(alpha), len(gamma)) < 600
    assert "lr=0.0003, batch_size=64, notes=second run, layers=[128, 64]" in result.stdout


@pytest.mark.parametrize(
    "source", ["toyproj.db", "toyproj.parquet", "../trackio-0.43.0-static/toyproj"]
)
def test_traces_are_counted_per_run(cli: Any, source: str) -> None:
    """Trackio 0.26+ keeps trackio.Trace records in their own table; analyze said nothing
    about them (found by the heavy-content audit: 10,000 traces, not a word)."""
    data = _analyze(cli, str(FIXTURES / "trackio-0.43.0" / source))
    runs = data["projects"][0]["runs"]
    assert [(r["name"], r["traces"]) for r in runs] == [
        ("alpha", 0),
        ("beta", 0),
        ("beta", 0),
        ("gamma", 1),
    ]
    table = cli("analyze", str(FIXTURES / "trackio-0.43.0" / source))
    header = next(line for line in table.stdout.splitlines() if line.startswith("Run"))
    assert header.split()[-1] == "Traces"


def test_thousands_of_metrics_are_counted_by_group(cli: Any, tmp_path: Path) -> None:
    """2,000 per-layer keys made the metric line 50 KB long (~600 lines of a terminal
    above the run table); past 40 names, metrics are counted per group."""
    import shutil
    import sqlite3

    db = tmp_path / "wide.db"
    shutil.copyfile(FIXTURES / "trackio-0.43.0" / "toyproj.db", db)
    layers = {f"layers/{i}/grad_norm": 1.0 for i in range(300)}
    con = sqlite3.connect(db)
    with con:
        con.execute("DELETE FROM metrics")
        con.executemany(
            "INSERT INTO metrics (run_id, timestamp, run_name, step, metrics) VALUES (?,?,?,?,?)",
            [
                ("a", "2026-01-01T00:00:00+00:00", "a", 0, json.dumps({**layers, "loss": 1})),
                ("b", "2026-01-01T00:00:00+00:00", "b", 0, json.dumps({"eval/acc": 1, "loss": 1})),
            ],
        )
    con.close()
    r = cli("analyze", str(db), "--no-media")
    assert r.exit_code == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[1] == (
        "2 rows, 2 runs, 302 metrics: eval/acc, layers/* (300), loss (--json lists every name)"
    )
    assert "  a: all but eval/acc" in lines
    assert "  b: all but layers/* (300) (--json lists every name)" in lines
    assert len(r.stdout) < 2000
    listed = json.loads(cli("analyze", str(db), "--json").stdout)["projects"][0]["metrics"]
    assert len(listed) == 302
