"""Round trips: every public fixture (DB, parquet, static) into a new, a 0.43 and a legacy target."""

from __future__ import annotations

import math
import re
import shutil
from pathlib import Path

import pytest

from tests.conftest import FIXTURES, tree_digest
from tests.store.test_write_support import (
    SOURCE_DBS,
    SOURCE_EXPORTS,
    counts,
    db_rows,
    export_tables,
    integrity,
    parquet_rows,
    run_ids_by_name,
)
from trackio_tool.errors import ConflictError
from trackio_tool.sources import resolve_sources
from trackio_tool.store import open_project
from trackio_tool.store._sqlite_ro import read_only
from trackio_tool.store.write import drop, merge, rename

TARGETS = {"run_id": "trackio-0.43.0", "legacy": "trackio-0.2.9"}


@pytest.fixture(scope="module")
def target_templates(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Copies of the 0.43 and 0.2.9 fixtures whose runs are renamed out of the way."""
    base = tmp_path_factory.mktemp("targets")
    out = {}
    for kind, name in TARGETS.items():
        folder = base / kind
        shutil.copytree(FIXTURES / name, folder)
        db = folder / "toyproj.db"
        with open_project(resolve_sources([str(db)])[0]) as project:
            index = project.run_index()
        for i, (key, run_name) in enumerate(index.select("run_key", "run_name").iter_rows()):
            rename(db, run=key, to=f"old{i}-{run_name}")
        out[kind] = folder
    # The 0.43 fixture's own runs keep their ids when renamed, so merging them back
    # is refused; they go into a copy whose runs were dropped instead.
    emptied = base / "run_id-dropped"
    shutil.copytree(FIXTURES / "trackio-0.43.0", emptied)
    keys = _keys(emptied / "toyproj.db")
    drop(emptied / "toyproj.db", runs=keys)
    out["run_id-dropped"] = emptied
    return out


def _keys(path: Path) -> list[str]:
    with open_project(resolve_sources([str(path)])[0]) as project:
        return project.run_index().get_column("run_key").to_list()


def _copy_source(source: str, tmp: Path) -> Path:
    rel = Path(source)
    top = rel.parts[0]
    shutil.copytree(FIXTURES / top, tmp / "src" / top)
    return tmp / "src" / rel


def _duplicate_names(path: Path) -> list[str]:
    with open_project(resolve_sources([str(path)])[0]) as project:
        index = project.run_index()
    if not project.has_run_ids:
        return []
    seen: set[str] = set()
    later = []
    for key, name in index.select("run_key", "run_name").iter_rows():
        if name in seen:
            later.append(key)
        seen.add(name)
    return later


def _source_ids(files) -> list[str]:
    with open_project(files) as project:
        return project.run_index().get_column("run_id").drop_nulls().to_list()


def _all_ids(db: Path) -> set[str]:
    return {i for ids in run_ids_by_name(db).values() for i in ids}


def _media_paths(db: Path, names: set[str]) -> list[str]:
    found = []
    with read_only(db) as con:
        for run_name, text in con.execute("SELECT run_name, CAST(metrics AS TEXT) FROM metrics"):
            if run_name in names:
                found += re.findall(r'"file_path":\s*"([^"]+)"', text)
    return found


@pytest.mark.parametrize("target_kind", ["new", "run_id", "legacy"])
@pytest.mark.parametrize("source", SOURCE_DBS + SOURCE_EXPORTS)
def test_round_trip(
    source: str,
    target_kind: str,
    tmp_path: Path,
    target_templates: dict[str, Path],
) -> None:
    src = _copy_source(source, tmp_path)
    src_digest = tree_digest(src.parent if src.is_file() else src)
    if target_kind == "new":
        target = tmp_path / "out" / "merged.db"
    else:
        shutil.copytree(target_templates[target_kind], tmp_path / "t")
        target = tmp_path / "t" / "toyproj.db"
    files = resolve_sources([str(src)])[0]
    if target_kind == "run_id" and set(_source_ids(files)) & _all_ids(target):
        with pytest.raises(ConflictError, match="already exist"):
            merge(files, target)
        shutil.rmtree(tmp_path / "t")
        shutil.copytree(target_templates["run_id-dropped"], tmp_path / "t")
    before = counts(target) if target.exists() else {}

    runs: list[str] = []
    skip = _duplicate_names(src) if target_kind == "legacy" else []
    if skip:
        # A legacy target keys runs by name: same-named runs cannot all go in.
        with pytest.raises(ConflictError, match="share a name"):
            merge(files, target)
        assert (counts(target) if target.exists() else {}) == before
        with open_project(files) as project:
            keys = project.run_index().get_column("run_key").to_list()
        runs = [k for k in keys if k not in skip]

    result = merge(files, target, runs=runs)

    assert integrity(target) == "ok"
    after = counts(target)
    for table, n in result.rows.items():
        assert after[table] == before.get(table, 0) + n, table
    for table in set(after) - set(result.rows):
        assert after[table] == before.get(table, 0), table

    names = {r.name for r in result.runs}
    ids = set(runs) if runs else None
    if src.suffix == ".db":
        for table in ("metrics", "configs", "system_metrics", "alerts", "traces"):
            expected = db_rows(src, table, names, ids)
            assert db_rows(target, table, names) == expected, table
            assert result.rows.get(table, 0) == sum(expected.values()), table
    else:
        for table, path in export_tables(src).items():
            expected = parquet_rows(path, table, names, ids)
            assert db_rows(target, table, names) == expected, table
            assert result.rows.get(table, 0) == sum(expected.values()), table

    # One id per run, the same in every table; legacy runs got uuid4 hex ids.
    if target_kind != "legacy":
        by_name = run_ids_by_name(target)
        for run in result.runs:
            assert run.run_id is not None
            assert run.run_id in by_name[run.name]
        with open_project(files) as project:
            legacy_source = not project.has_run_ids
        if legacy_source:
            for run in result.runs:
                assert re.fullmatch(r"[0-9a-f]{32}", run.run_id or ""), run
                assert by_name[run.name] == {run.run_id}

    # Media: every path of a merged row points into the target project, at a file.
    paths = _media_paths(target, names)
    assert len(paths) >= result.media_files
    for p in paths:
        rel = p[len("media/") :] if p.startswith("media/") else p
        assert rel.startswith(f"{target.stem}/"), p
        assert (target.parent / "media" / rel).is_file(), p

    assert tree_digest(src.parent if src.is_file() else src) == src_digest


def test_new_target_schema_is_trackios(tmp_path: Path) -> None:
    target = tmp_path / "fresh.db"
    edge = tmp_path / "src" / "edge.db"
    edge.parent.mkdir()
    shutil.copyfile(FIXTURES / "trackio-0.43.0" / "toyproj-edge.db", edge)
    merge(resolve_sources([str(edge)])[0], target)

    def schema(db: Path) -> list[tuple[str, str]]:
        with read_only(db) as con:
            return sorted(
                con.execute(
                    "SELECT name, sql FROM sqlite_master WHERE name != 'sqlite_sequence'"
                ).fetchall(),
                key=lambda r: r[0],
            )

    ref = tmp_path / "ref"
    shutil.copytree(FIXTURES / "trackio-0.43.0", ref)
    assert schema(target) == schema(ref / "toyproj.db")
    with read_only(target) as con:
        assert con.execute("PRAGMA user_version").fetchone()[0] == 2
        assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert not list(tmp_path.glob(".trackio-tool-*"))


def test_parquet_payloads_are_trackios_bytes(tmp_path: Path) -> None:
    """A 0.43 export packed back gives the very bytes Trackio stored."""
    src = tmp_path / "src"
    shutil.copytree(FIXTURES / "trackio-0.43.0", src)
    target = tmp_path / "out.db"
    merge(resolve_sources([str(src / "toyproj.parquet")])[0], target, media=False)

    def payloads(db: Path, table: str) -> list[tuple[str, bytes]]:
        with read_only(db) as con:
            col = "config" if table == "configs" else "metrics"
            return sorted(
                (str(r[0]), bytes(r[1]))
                for r in con.execute(
                    f"SELECT log_id, {col} FROM {table}"
                    if table != "configs"
                    else f"SELECT run_id, {col} FROM {table}"
                )
            )

    for table in ("metrics", "system_metrics"):
        assert payloads(target, table) == payloads(src / "toyproj.db", table)


def test_a_resumed_runs_two_configs_in_a_legacy_file_merge_as_one(tmp_path: Path) -> None:
    """Trackio 0.24-0.40 appending to a pre-0.24 file writes configs with run_id: a uuid on
    the first session, the run's name on a resume. Both rows belong to one run; merge
    refused the whole file (UNIQUE constraint). The last config written is kept.
    Found by the write-side fuzz (checked against the trackio 0.30.0 wheel)."""
    import sqlite3

    src = tmp_path / "toyproj.db"
    con = sqlite3.connect(src)
    con.executescript(
        """
        CREATE TABLE metrics (id INTEGER PRIMARY KEY AUTOINCREMENT, timestamp TEXT NOT NULL,
          run_name TEXT NOT NULL, step INTEGER NOT NULL, metrics TEXT NOT NULL, log_id TEXT,
          space_id TEXT);
        CREATE TABLE configs (id INTEGER PRIMARY KEY AUTOINCREMENT, run_id TEXT NOT NULL,
          run_name TEXT NOT NULL, config TEXT NOT NULL, created_at TEXT NOT NULL, UNIQUE(run_id));
        INSERT INTO metrics (timestamp, run_name, step, metrics)
          VALUES ('2026-01-01T00:00:00+00:00', 'newrun', 0, '{"a": 1}');
        INSERT INTO configs (run_id, run_name, config, created_at)
          VALUES ('221f0997078e47ac8a3aab4f5e368a06', 'newrun', '{"lr": 1}', '2026-01-01T00:00:00');
        INSERT INTO configs (run_id, run_name, config, created_at)
          VALUES ('newrun', 'newrun', '{"lr": 2}', '2026-01-01T00:00:01');
        """
    )
    con.close()
    legacy = tmp_path / "legacy.db"
    con = sqlite3.connect(legacy)
    con.executescript(
        """
        CREATE TABLE metrics (id INTEGER PRIMARY KEY AUTOINCREMENT, timestamp TEXT NOT NULL,
          run_name TEXT NOT NULL, step INTEGER NOT NULL, metrics TEXT NOT NULL);
        CREATE TABLE configs (id INTEGER PRIMARY KEY AUTOINCREMENT, run_name TEXT NOT NULL,
          config TEXT NOT NULL, created_at TEXT NOT NULL, UNIQUE(run_name));
        """
    )
    con.close()
    for target in (tmp_path / "new.db", legacy):
        (files,) = resolve_sources([str(src)])
        result = merge(files, target)
        assert result.runs[0].rows["configs"] == 1
        with read_only(target) as con:
            rows = con.execute("SELECT run_name, config FROM configs").fetchall()
        assert rows == [("newrun", '{"lr": 2}')]


def test_a_text_payload_that_is_not_utf8_is_copied_byte_for_byte(tmp_path: Path) -> None:
    """Python's sqlite3 stopped at the row ("Could not decode to UTF-8 column"), and the
    merge failed with an error that blamed the target. Found by the write-side fuzz."""
    import sqlite3

    src = tmp_path / "toyproj.db"
    bad = b'{"loss": 0.5, "note": "\xff"}'
    con = sqlite3.connect(src)
    con.executescript(
        """
        CREATE TABLE metrics (id INTEGER PRIMARY KEY AUTOINCREMENT, timestamp TEXT NOT NULL,
          run_name TEXT NOT NULL, step INTEGER NOT NULL, metrics TEXT NOT NULL);
        """
    )
    rows = [
        (0, '{"loss": 1.0}'),
        (1, bad),
        (2, '{"loss": NaN, "c": "caf\\u00e9"}'),
        (3, '{"loss": 0.25, "c": "café"}'),
    ]
    for step, payload in rows:
        con.execute(
            "INSERT INTO metrics (timestamp, run_name, step, metrics)"
            " VALUES ('2026-01-01T00:00:00', 'r', ?, CAST(? AS TEXT))",
            (step, payload),
        )
    con.commit()
    con.close()
    target = tmp_path / "out.db"
    (files,) = resolve_sources([str(src)])
    assert merge(files, target).runs[0].rows["metrics"] == 4
    with read_only(target) as con:
        con.text_factory = bytes
        out = con.execute("SELECT typeof(metrics), metrics FROM metrics ORDER BY step").fetchall()
    assert out == [
        (b"text", b'{"loss": 1.0}'),
        (b"blob", bad),  # the same bytes; SQLite TEXT cannot hold them for Python
        (b"text", b'{"loss":"NaN","c":"caf\xc3\xa9"}'),
        (b"text", '{"loss": 0.25, "c": "café"}'.encode()),
    ]


def test_rename_keeps_a_text_payload_that_is_not_utf8(tmp_path: Path) -> None:
    """The rename's path function got the payload as a Python str: a TEXT payload that
    is not UTF-8 stopped the rename ("user-defined function raised exception")."""
    import sqlite3

    shutil.copytree(FIXTURES / "trackio-0.2.9", tmp_path / "p")
    db = tmp_path / "p" / "toyproj.db"
    con = sqlite3.connect(db)
    con.text_factory = bytes
    rowid, raw = con.execute(
        "SELECT id, metrics FROM metrics WHERE instr(metrics, 'file_path') LIMIT 1"
    ).fetchone()
    bad = raw.replace(b"}", b', "x": "\xff"}', 1)
    con.execute("UPDATE metrics SET metrics = CAST(? AS TEXT) WHERE id = ?", (bad, rowid))
    con.commit()
    con.close()
    rename(db, run="gamma", to="g2")
    with read_only(db) as con:
        con.text_factory = bytes
        types = con.execute("SELECT DISTINCT typeof(metrics) FROM metrics").fetchall()
        (out,) = con.execute("SELECT metrics FROM metrics WHERE id = ?", (rowid,)).fetchone()
    assert types == [(b"text",)]  # every payload keeps its storage class
    assert out == bad.replace(b"/gamma/", b"/g2/")


def test_rename_leaves_a_key_that_only_ends_in_file_path(tmp_path: Path) -> None:
    """The key 'q"file_path' (``"q\\"file_path"`` in JSON) was taken for a media path."""
    import json
    import sqlite3

    db = tmp_path / "src.db"
    con = sqlite3.connect(db)
    con.execute(
        "CREATE TABLE metrics (id INTEGER PRIMARY KEY AUTOINCREMENT, timestamp TEXT NOT NULL,"
        " run_name TEXT NOT NULL, step INTEGER NOT NULL, metrics TEXT NOT NULL)"
    )
    payload = {'q"file_path': "src/a/notes.txt", "img": {"file_path": "src/a/0/x.png"}}
    con.execute(
        "INSERT INTO metrics (timestamp, run_name, step, metrics)"
        " VALUES ('2026-01-01T00:00:00', 'a', 0, ?)",
        (json.dumps(payload),),
    )
    con.commit()
    con.close()
    rename(db, run="a", to="b")
    with read_only(db) as con:
        (out,) = con.execute("SELECT metrics FROM metrics").fetchone()
    assert json.loads(out) == {
        'q"file_path': "src/a/notes.txt",
        "img": {"file_path": "src/b/0/x.png"},
    }


def test_an_id_used_only_by_a_mixed_targets_alerts_is_taken(tmp_path: Path) -> None:
    """Found by the write-side fuzz: merge a -> rename a b -> merge a again into a mixed
    target (legacy metrics, alerts with run_id) gave runs a and b one run_id: the id
    check read only metrics and configs, and here the id lives in alerts only."""
    import sqlite3

    from trackio_tool.store import _schema

    x = "becbda7e977d4cfc84f1d9a520d2afd8"
    legacy_metrics = (
        "CREATE TABLE metrics (id INTEGER PRIMARY KEY AUTOINCREMENT, timestamp TEXT NOT NULL,"
        " run_name TEXT NOT NULL, step INTEGER NOT NULL, metrics TEXT NOT NULL)"
    )
    src = tmp_path / "src.db"
    con = sqlite3.connect(src)
    con.execute(legacy_metrics)
    con.execute(_schema.TABLES["configs"])
    con.execute(_schema.TABLES["alerts"])
    con.execute(
        "INSERT INTO metrics (timestamp, run_name, step, metrics)"
        " VALUES ('2026-01-01T00:00:00', 'a', 0, '{\"loss\": 1.0}')"
    )
    con.execute(
        "INSERT INTO configs (run_id, run_name, config, created_at)"
        " VALUES (?, 'a', '{\"lr\": 0.1}', '2026-01-01T00:00:00')",
        (x,),
    )
    con.execute(
        "INSERT INTO alerts (run_id, timestamp, run_name, title, level)"
        " VALUES (?, '2026-01-01T00:00:00', 'a', 'spike', 'warn')",
        (x,),
    )
    con.commit()
    con.close()
    target = tmp_path / "proj.db"
    con = sqlite3.connect(target)
    con.execute(legacy_metrics)
    con.execute(_schema.LEGACY_TABLES["configs"])
    con.execute(_schema.TABLES["alerts"])
    con.commit()
    con.close()
    (files,) = resolve_sources([str(src)])
    merge(files, target, media=False)
    rename(target, run="a", to="b")
    with pytest.raises(ConflictError, match=f"id {x}"):
        merge(files, target, media=False)


def _wide_row(step: int, run: str, *, keys: int = 2000) -> dict[str, object]:
    """A payload of ``keys`` per-layer metrics, some non-finite (Trackio's strings), one
    a string that only holds the token, and every third step an image."""
    mods, stats = ("attn", "mlp", "ln1", "ln2"), ("mean", "std", "min", "max", "norm")
    row: dict[str, object] = {
        f"layers/{i // 20}/{mods[i // 5 % 4]}/{stats[i % 5]}": (step * keys + i) / 7
        for i in range(keys)
    }
    row[f"layers/{step % 50}/attn/max"] = ("NaN", "Infinity", "-Infinity")[step % 3]
    row["note"] = "NaNaN, Infinity"
    if step % 3 == 0:
        row["img"] = {"_type": "trackio.image", "file_path": f"wide/{run}/{step}/x.png"}
    return row


def test_wide_payloads_are_merged_dropped_and_renamed_exactly(tmp_path: Path) -> None:
    """Rows of 2,000 keys, two runs interleaved by id: a merge copies them in id order
    with the same bytes (media paths moved to the target, a bare NaN of a TEXT row
    quoted), a drop of one run leaves the other's bytes, a rename of a run without a
    media folder still rewrites its media paths."""
    import json
    import sqlite3
    import uuid

    import orjson

    from trackio_tool.store import _schema

    src = tmp_path / "wide.db"
    con = sqlite3.connect(src)
    _schema.create_new_database(con)
    ids = {"a": uuid.uuid4().hex, "b": uuid.uuid4().hex}
    expected: list[tuple[str, int, str, bytes]] = []
    for step in range(6):
        for run in ("a", "b"):
            row = _wide_row(step, run)
            if run == "b" and step == 4:
                # Trackio <= 0.4's TEXT payload: json.dumps, a bare NaN.
                row["layers/4/attn/max"] = "NaN"
                stored: object = json.dumps(dict(row, **{"layers/4/attn/max": math.nan}))
                kind = "text"
            else:
                stored, kind = orjson.dumps(row), "blob"
            moved = orjson.dumps(row).replace(b'"file_path":"wide/', b'"file_path":"other/')
            con.execute(
                "INSERT INTO metrics (run_id, timestamp, run_name, step, metrics, log_id)"
                " VALUES (?, '2026-01-01T00:00:00+00:00', ?, ?, ?, ?)",
                (ids[run], run, step, stored, uuid.uuid4().hex),
            )
            expected.append((run, step, kind, moved))
    con.commit()
    con.close()

    def target_rows(db: Path) -> list[tuple[str, int, str, bytes]]:
        with read_only(db) as con:
            con.text_factory = bytes
            return [
                (name.decode(), step, kind.decode(), payload)
                for name, step, kind, payload in con.execute(
                    "SELECT run_name, step, typeof(metrics), metrics FROM metrics ORDER BY id"
                )
            ]

    (files,) = resolve_sources([str(src)])
    new = tmp_path / "new" / "other.db"
    result = merge(files, new)
    assert result.rows == {"metrics": 12}
    assert target_rows(new) == expected  # id order, bytes, storage classes
    existing = tmp_path / "existing" / "other.db"
    merge(files, existing, runs=["a"])
    merge(files, existing, runs=["b"])
    assert target_rows(existing) == [r for r in expected if r[0] == "a"] + [
        r for r in expected if r[0] == "b"
    ]

    dropped = drop(new, runs=["a"])
    assert dropped.runs[0].rows["metrics"] == 6
    assert dropped.media_files == 0
    assert target_rows(new) == [r for r in expected if r[0] == "b"]

    assert not (new.parent / "media").exists()  # no media folder: the paths still move
    renamed = rename(new, run="b", to="c")
    assert renamed.runs[0].rows["metrics"] == 6
    assert target_rows(new) == [
        ("c", step, kind, payload.replace(b'"other/b/', b'"other/c/'))
        for run, step, kind, payload in expected
        if run == "b"
    ]


def test_the_big_blob_search_finds_what_instr_finds() -> None:
    """``_contains_sql`` (Python's search for BLOBs past 4 KiB) against ``instr``:
    NULL, TEXT, small and big BLOBs, bytes that are not UTF-8, a non-ASCII needle."""
    import sqlite3

    from trackio_tool.store.write import _CONTAINS, _contains, _contains_sql

    pad = b'{"layers/0/mlp/mean":0.5,' * 300
    values: list[object] = [
        None,
        '{"file_path": "p/café/0/x.png"}',
        b'{"file_path":"p/a/0/x.png"}',
        pad + b'"img":{"file_path":"p/caf\xc3\xa9/0/x.png"}}',
        pad + b'"note":"\xff\xfe file_path"}',
        pad + b'"img":{"file_path":"p/caf\\u00e9/0/x.png"}}',
    ]
    con = sqlite3.connect(":memory:")
    con.create_function(_CONTAINS, 2, _contains, deterministic=True)
    con.execute("CREATE TABLE t (m)")
    con.executemany("INSERT INTO t VALUES (?)", [(v,) for v in values])
    for needle in ('"file_path"', "café/", "\\", "a/0/"):
        fast = con.execute(
            f"SELECT {_contains_sql('m')} FROM t ORDER BY rowid", (needle, needle)
        ).fetchall()
        slow = con.execute("SELECT instr(m, ?) > 0 FROM t ORDER BY rowid", (needle,)).fetchall()
        assert [bool(r[0]) if r[0] is not None else None for r in fast] == [
            bool(r[0]) if r[0] is not None else None for r in slow
        ], needle
    con.close()
