"""Generate a Trackio-0.43.0-shaped project DB (and its parquet export) for benchmarks.

Usage::

    python benchmarks/generate.py /tmp/trackio-bench                 # bench.db, 20 runs x 50,000 steps x 20 metrics
    python benchmarks/generate.py /tmp/trackio-bench --parquet       # + bench.parquet, bench_system.parquet, bench_configs.parquet
    python benchmarks/generate.py /tmp/small --runs 3 --steps 2000 --metrics 8

The DB has exactly the schema trackio 0.43.0 writes (tables and indexes copied verbatim
from ``shared/fixtures/trackio-0.43.0/toyproj.db``), ``PRAGMA user_version=2`` and WAL
journal mode. Content follows TRACKIO_FORMATS.md §3/§4: uuid4-hex run ids, two runs sharing
a name, one UTC ``+00:00`` timestamp per ~50-row batch, orjson BLOB metrics with ``/`` keys,
int metrics, a nested ``eval`` dict every 100 steps, and non-finite values stored as the
strings ``"NaN"``/``"Infinity"``/``"-Infinity"``.

Output is deterministic for a given set of parameters. A sidecar ``<db>.params.json`` records
them; an existing DB with the same parameters is reused (pass ``--force`` to rebuild).
"""

from __future__ import annotations

import argparse
import json
import math
import sqlite3
import sys
import time
from datetime import datetime, timedelta, timezone
from itertools import repeat
from pathlib import Path

import numpy as np
import orjson

GENERATOR_VERSION = 1
PROJECT = "bench"

# Verbatim sqlite_master.sql of a DB written by trackio 0.43.0 (user_version=2),
# in sqlite_master order. Source: shared/fixtures/trackio-0.43.0/toyproj.db.
# sqlite_sequence and the sqlite_autoindex_* entries are created implicitly.
SCHEMA_0_43_TABLES: tuple[str, ...] = (
    "CREATE TABLE metrics (\n                        id INTEGER PRIMARY KEY AUTOINCREMENT,\n                        run_id TEXT NOT NULL,\n                        timestamp TEXT NOT NULL,\n                        run_name TEXT NOT NULL,\n                        step INTEGER NOT NULL,\n                        metrics TEXT NOT NULL\n                    , log_id TEXT, space_id TEXT)",
    "CREATE TABLE configs (\n                        id INTEGER PRIMARY KEY AUTOINCREMENT,\n                        run_id TEXT NOT NULL,\n                        run_name TEXT NOT NULL,\n                        config TEXT NOT NULL,\n                        created_at TEXT NOT NULL,\n                        UNIQUE(run_id)\n                    )",
    "CREATE TABLE system_metrics (\n                        id INTEGER PRIMARY KEY AUTOINCREMENT,\n                        run_id TEXT NOT NULL,\n                        timestamp TEXT NOT NULL,\n                        run_name TEXT NOT NULL,\n                        metrics TEXT NOT NULL\n                    , log_id TEXT, space_id TEXT)",
    "CREATE TABLE traces (\n                        id TEXT PRIMARY KEY,\n                        run_id TEXT NOT NULL,\n                        timestamp TEXT NOT NULL,\n                        run_name TEXT NOT NULL,\n                        step INTEGER NOT NULL,\n                        key TEXT NOT NULL,\n                        trace_index INTEGER,\n                        messages TEXT NOT NULL,\n                        metadata TEXT NOT NULL,\n                        search_text TEXT NOT NULL,\n                        log_id TEXT,\n                        space_id TEXT,\n                        spans TEXT NOT NULL DEFAULT '[]'\n                    )",
    "CREATE TABLE project_metadata (\n                        key TEXT PRIMARY KEY,\n                        value TEXT NOT NULL\n                    )",
    "CREATE TABLE pending_uploads (\n                        id INTEGER PRIMARY KEY AUTOINCREMENT,\n                        space_id TEXT NOT NULL,\n                        run_id TEXT,\n                        run_name TEXT,\n                        step INTEGER,\n                        file_path TEXT NOT NULL,\n                        relative_path TEXT,\n                        created_at TEXT NOT NULL\n                    , kind TEXT NOT NULL DEFAULT 'media', digest TEXT)",
    "CREATE TABLE alerts (\n                        id INTEGER PRIMARY KEY AUTOINCREMENT,\n                        run_id TEXT NOT NULL,\n                        timestamp TEXT NOT NULL,\n                        run_name TEXT NOT NULL,\n                        title TEXT NOT NULL,\n                        text TEXT,\n                        level TEXT NOT NULL DEFAULT 'warn',\n                        step INTEGER,\n                        alert_id TEXT\n                    )",
    "CREATE TABLE artifacts (\n                        id INTEGER PRIMARY KEY AUTOINCREMENT,\n                        name TEXT NOT NULL UNIQUE,\n                        type TEXT NOT NULL,\n                        description TEXT,\n                        created_at TEXT NOT NULL\n                    )",
    "CREATE TABLE artifact_versions (\n                        id INTEGER PRIMARY KEY AUTOINCREMENT,\n                        artifact_id INTEGER NOT NULL REFERENCES artifacts(id),\n                        version INTEGER NOT NULL,\n                        manifest_digest TEXT NOT NULL,\n                        manifest TEXT NOT NULL,\n                        metadata TEXT,\n                        size_bytes INTEGER NOT NULL,\n                        producer_run_id TEXT,\n                        producer_run_name TEXT,\n                        created_at TEXT NOT NULL,\n                        UNIQUE(artifact_id, version),\n                        UNIQUE(artifact_id, manifest_digest)\n                    )",
    "CREATE TABLE artifact_aliases (\n                        artifact_id INTEGER NOT NULL REFERENCES artifacts(id),\n                        alias TEXT NOT NULL,\n                        artifact_version_id INTEGER NOT NULL REFERENCES artifact_versions(id),\n                        PRIMARY KEY (artifact_id, alias)\n                    )",
    "CREATE TABLE run_artifact_links (\n                        id INTEGER PRIMARY KEY AUTOINCREMENT,\n                        run_id TEXT,\n                        run_name TEXT,\n                        run_project TEXT,\n                        artifact_version_id INTEGER NOT NULL REFERENCES artifact_versions(id),\n                        direction TEXT NOT NULL CHECK(direction IN ('input', 'output')),\n                        created_at TEXT NOT NULL\n                    )",
    "CREATE TABLE external_run_artifact_links (\n                        id INTEGER PRIMARY KEY AUTOINCREMENT,\n                        run_id TEXT,\n                        run_name TEXT,\n                        source_project TEXT NOT NULL,\n                        source_version_id INTEGER NOT NULL,\n                        source_artifact TEXT NOT NULL,\n                        source_type TEXT NOT NULL,\n                        source_version INTEGER NOT NULL,\n                        source_size_bytes INTEGER NOT NULL,\n                        direction TEXT NOT NULL CHECK(direction IN ('input', 'output')),\n                        created_at TEXT NOT NULL\n                    )",
)
SCHEMA_0_43_INDEXES: tuple[str, ...] = (
    "CREATE INDEX idx_run_artifact_links_run\n                    ON run_artifact_links(run_id, run_name)\n                    ",
    "CREATE INDEX idx_run_artifact_links_name\n                    ON run_artifact_links(run_name, run_id)\n                    ",
    "CREATE INDEX idx_run_artifact_links_version\n                    ON run_artifact_links(artifact_version_id)\n                    ",
    "CREATE INDEX idx_run_artifact_links_project_run\n                    ON run_artifact_links(run_project, run_id, run_name)",
    "CREATE INDEX idx_external_artifact_links_run\n                    ON external_run_artifact_links(run_id, run_name)",
    "CREATE UNIQUE INDEX idx_external_artifact_links_unique\n                    ON external_run_artifact_links(\n                        COALESCE(run_id, ''), COALESCE(run_name, ''),\n                        source_project, source_version_id, direction\n                    )",
    "CREATE INDEX idx_pending_uploads_kind\n                    ON pending_uploads(kind)\n                    ",
    "CREATE INDEX idx_metrics_run_step\n                    ON metrics(run_id, step)\n                    ",
    "CREATE INDEX idx_metrics_run_timestamp\n                    ON metrics(run_id, timestamp)\n                    ",
    "CREATE INDEX idx_configs_run_name\n                    ON configs(run_name)\n                    ",
    "CREATE INDEX idx_system_metrics_run_timestamp\n                    ON system_metrics(run_id, timestamp)\n                    ",
    "CREATE INDEX idx_traces_run_step\n                    ON traces(run_id, step)\n                    ",
    "CREATE INDEX idx_traces_run_timestamp\n                    ON traces(run_id, timestamp)\n                    ",
    "CREATE INDEX idx_traces_search\n                    ON traces(search_text)\n                    ",
    "CREATE INDEX idx_alerts_run\n                    ON alerts(run_id)\n                    ",
    "CREATE INDEX idx_alerts_timestamp\n                    ON alerts(timestamp)\n                    ",
    "CREATE UNIQUE INDEX idx_alerts_alert_id\n                    ON alerts(alert_id) WHERE alert_id IS NOT NULL\n                    ",
    "CREATE UNIQUE INDEX idx_metrics_log_id\n                        ON metrics(log_id) WHERE log_id IS NOT NULL",
    "CREATE INDEX idx_metrics_pending\n                        ON metrics(space_id) WHERE space_id IS NOT NULL",
    "CREATE UNIQUE INDEX idx_system_metrics_log_id\n                        ON system_metrics(log_id) WHERE log_id IS NOT NULL",
    "CREATE INDEX idx_system_metrics_pending\n                        ON system_metrics(space_id) WHERE space_id IS NOT NULL",
    "CREATE INDEX idx_metrics_run_record\n                        ON metrics(run_id, run_name, timestamp)",
    "CREATE UNIQUE INDEX idx_run_artifact_links_unique\n                    ON run_artifact_links(\n                        COALESCE(run_project, ''), COALESCE(run_id, ''),\n                        COALESCE(run_name, ''), artifact_version_id, direction\n                    )",
)

# Realistic training-metric keys; more are synthesised as "custom/metric_NNN" if asked for.
FLOAT_KEYS = (
    "train/loss",
    "train/lr",
    "train/grad_norm",
    "train/acc",
    "train/perplexity",
    "train/tokens_per_sec",
    "train/step_time",
    "train/weight_norm",
    "train/clip_fraction",
    "train/entropy",
    "train/kl",
    "train/reward",
    "train/reward_std",
    "optim/update_ratio",
    "optim/loss_scale",
    "val/loss",
    "val/acc",
    "gpu/mem_gb",
)
INT_KEYS = ("epoch", "tokens")
EVAL_EVERY = 100
NONFINITE = ("NaN", "Infinity", "-Infinity")
ADJECTIVES = (
    "brisk",
    "calm",
    "dainty",
    "eager",
    "fancy",
    "gentle",
    "happy",
    "icy",
    "jolly",
    "keen",
)
NOUNS = ("river", "sunset", "forest", "meadow", "comet", "harbor", "canyon", "glacier")
BASE_TIME = datetime(2026, 1, 5, 9, 0, 0, tzinfo=timezone.utc)
BATCH_SECONDS = 0.5  # trackio's sender flushes every 0.5 s -> one timestamp per batch
SYSTEM_KEYS_FLOAT = (
    "cpu/utilization",
    "cpu/frequency",
    "memory/used",
    "memory/total",
    "memory/available",
    "memory/percent",
    "swap/used",
    "swap/total",
    "swap/percent",
)
SYSTEM_KEYS_INT = (
    "cpu/count_logical",
    "cpu/count_physical",
    "disk/read_bytes",
    "disk/write_bytes",
    "network/sent_bytes",
    "network/recv_bytes",
)

METRICS_INSERT = (
    "INSERT INTO metrics (run_id, timestamp, run_name, step, metrics, log_id, space_id) "
    "VALUES (?, ?, ?, ?, ?, ?, ?)"
)


def metric_keys(metrics: int) -> tuple[list[str], list[str]]:
    """Split ``metrics`` top-level scalar keys into (float keys, int keys)."""
    n_int = 2 if metrics >= 3 else 0
    n_float = metrics - n_int
    floats = list(FLOAT_KEYS[:n_float])
    floats += [f"custom/metric_{i:03d}" for i in range(len(floats), n_float)]
    return floats, list(INT_KEYS[:n_int])


def create_schema(conn: sqlite3.Connection, *, indexes: bool = True) -> None:
    """Create trackio 0.43.0's tables (and, unless ``indexes=False``, its indexes)."""
    for sql in SCHEMA_0_43_TABLES:
        conn.execute(sql)
    if indexes:
        create_indexes(conn)


def create_indexes(conn: sqlite3.Connection) -> None:
    for sql in SCHEMA_0_43_INDEXES:
        conn.execute(sql)


def _uuid4_hex(rng: np.random.Generator, n: int) -> list[str]:
    """n deterministic uuid4-shaped hex strings (version nibble 4, RFC 4122 variant)."""
    b = np.frombuffer(rng.bytes(16 * n), dtype=np.uint8).reshape(n, 16).copy()
    b[:, 6] = (b[:, 6] & 0x0F) | 0x40
    b[:, 8] = (b[:, 8] & 0x3F) | 0x80
    h = b.tobytes().hex()
    return [h[i : i + 32] for i in range(0, 32 * n, 32)]


def _run_names(runs: int) -> list[str]:
    names = [
        f"{ADJECTIVES[i % len(ADJECTIVES)]}-{NOUNS[(i * 3) % len(NOUNS)]}-{i}" for i in range(runs)
    ]
    if runs >= 2:
        # Trackio >= 0.24: init(name=X) again without resume -> new run_id, same name.
        names[-1] = names[min(3, runs - 2)]
    return names


def _float_curves(rng: np.random.Generator, keys: list[str], steps: int) -> np.ndarray:
    """(len(keys), steps) float64 array of plausible training curves with noise."""
    t = np.arange(steps, dtype=np.float64)
    frac = t / max(steps - 1, 1)
    out = np.empty((len(keys), steps))
    noise = rng.standard_normal((len(keys), steps))
    for j, key in enumerate(keys):
        a, b, tau = rng.uniform(0.5, 3.0), rng.uniform(0.05, 0.5), rng.uniform(0.05, 0.4)
        if key == "train/lr":
            warm = np.minimum(1.0, t / max(steps * 0.02, 1))
            out[j] = 3e-4 * warm * 0.5 * (1 + np.cos(math.pi * frac))
        elif key.endswith("acc"):
            out[j] = np.clip(1 - (1 - b) * np.exp(-frac / tau) + 0.01 * noise[j], 0, 1)
        elif key == "train/grad_norm":
            out[j] = np.exp(0.3 * noise[j]) * (0.5 + a * np.exp(-frac / tau))
        elif key == "train/perplexity":
            out[j] = np.exp(b + a * np.exp(-frac / tau) + 0.02 * noise[j])
        else:
            out[j] = b + a * np.exp(-frac / tau) + 0.05 * a * noise[j]
    return out


def _batch_timestamps(
    rng: np.random.Generator, start: datetime, steps: int
) -> tuple[list[str], datetime]:
    """One isoformat() UTC timestamp per flushed batch of ~50 rows, expanded to one per row."""
    sizes = rng.integers(35, 66, size=steps // 35 + 2)
    ends = np.cumsum(sizes)
    nb = int(np.searchsorted(ends, steps)) + 1
    sizes = sizes[:nb].copy()
    sizes[-1] -= int(ends[nb - 1] - steps)
    jitter = rng.integers(0, 20_000, size=nb)  # microseconds
    stamps = [
        (start + timedelta(seconds=BATCH_SECONDS * i, microseconds=int(jitter[i]))).isoformat()
        for i in range(nb)
    ]
    per_row = [stamps[i] for i in np.repeat(np.arange(nb), sizes).tolist()]
    end = start + timedelta(seconds=BATCH_SECONDS * nb)
    return per_row, end


def _metric_blobs(
    rng: np.random.Generator, steps: int, fkeys: list[str], ikeys: list[str], nan_fraction: float
) -> list[bytes]:
    vals = _float_curves(rng, fkeys, steps)
    cols: list[list] = [row.tolist() for row in vals]
    if nan_fraction > 0:
        mask = rng.random(vals.shape) < nan_fraction
        jj, ii = np.nonzero(mask)
        kinds = rng.choice(3, size=len(jj), p=[0.6, 0.2, 0.2])
        for j, i, k in zip(jj.tolist(), ii.tolist(), kinds.tolist(), strict=True):
            cols[j][i] = NONFINITE[k]
    step_arr = np.arange(steps)
    steps_per_epoch = max(steps // 5, 1)
    int_cols = {
        "epoch": (step_arr // steps_per_epoch).tolist(),
        "tokens": ((step_arr + 1) * 4096).tolist(),
    }
    cols += [int_cols[k] for k in ikeys]
    keys = fkeys + ikeys
    dumps = orjson.dumps
    rows = list(zip(*cols, strict=True)) if cols else [()] * steps
    blobs = [dumps(dict(zip(keys, r, strict=True))) for r in rows]
    eval_steps = range(0, steps, EVAL_EVERY)
    ev = rng.random((len(eval_steps), 2)).tolist()
    for n, s in enumerate(eval_steps):
        d: dict[str, object] = dict(zip(keys, rows[s], strict=True))
        frac = s / max(steps - 1, 1)
        d["eval"] = {
            "loss": 0.3 + 2.0 * math.exp(-4 * frac) + 0.05 * ev[n][0],
            "acc": min(1.0, 0.4 + 0.5 * frac + 0.02 * ev[n][1]),
        }
        blobs[s] = dumps(d)
    return blobs


def _system_blob(rng: np.random.Generator) -> bytes:
    per_core = [round(float(rng.uniform(0, 100)), 1) for _ in range(2)]
    d: dict[str, object] = {f"cpu/{c}/utilization": u for c, u in enumerate(per_core)}
    d["cpu/utilization"] = sum(per_core) / len(per_core)
    d["cpu/frequency"] = float(rng.uniform(2000, 3500))
    d["cpu/count_logical"] = 2
    d["cpu/count_physical"] = 2
    used = float(rng.uniform(1, 20))
    d.update(
        {
            "memory/used": used,
            "memory/total": 23.54016876220703,
            "memory/available": 23.54016876220703 - used,
            "memory/percent": round(100 * used / 23.54016876220703, 1),
            "swap/used": 0.0,
            "swap/total": 0.0,
            "swap/percent": 0.0,
        }
    )
    io = rng.integers(0, 10**10, size=4).tolist()
    d.update(
        {
            "disk/read_bytes": io[0],
            "disk/write_bytes": io[1],
            "network/sent_bytes": io[2],
            "network/recv_bytes": io[3],
        }
    )
    return orjson.dumps(d)


def _params(**kw: object) -> dict[str, object]:
    return {"generator_version": GENERATOR_VERSION, **kw}


def _sidecar(path: Path) -> Path:
    return path.with_name(path.name + ".params.json")


def generate_db(
    path: str | Path,
    *,
    runs: int = 20,
    steps: int = 50_000,
    metrics: int = 20,
    seed: int = 0,
    system_rows_per_run: int = 200,
    nan_fraction: float = 0.01,
    force: bool = False,
    verbose: bool = False,
) -> Path:
    """Write (or reuse) a trackio-0.43.0-shaped project DB with ``runs * steps`` metric rows."""
    path = Path(path)
    params = _params(
        runs=runs,
        steps=steps,
        metrics=metrics,
        seed=seed,
        system_rows_per_run=system_rows_per_run,
        nan_fraction=nan_fraction,
    )
    side = _sidecar(path)
    if not force and path.exists() and side.exists():
        try:
            if json.loads(side.read_text()) == params:
                if verbose:
                    print(f"reusing {path} (same parameters)", file=sys.stderr)
                return path
        except (OSError, ValueError):
            pass
    path.parent.mkdir(parents=True, exist_ok=True)
    for p in (path, side, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        p.unlink(missing_ok=True)

    t0 = time.perf_counter()
    rng = np.random.default_rng(seed)
    fkeys, ikeys = metric_keys(metrics)
    run_ids = _uuid4_hex(rng, runs)
    names = _run_names(runs)
    tmp = path.with_name(path.name + ".tmp")
    tmp.unlink(missing_ok=True)
    conn = sqlite3.connect(tmp, isolation_level=None)
    try:
        # Bulk-load settings; journal mode is switched to WAL (persisted in the header) at the end.
        conn.execute("PRAGMA journal_mode=OFF")
        conn.execute("PRAGMA synchronous=OFF")
        conn.execute("PRAGMA cache_size=-262144")
        conn.execute("PRAGMA temp_store=MEMORY")
        conn.execute("BEGIN")
        create_schema(conn, indexes=False)
        start = BASE_TIME
        spans: list[tuple[datetime, datetime]] = []
        for r in range(runs):
            ts, end = _batch_timestamps(rng, start, steps)
            blobs = _metric_blobs(rng, steps, fkeys, ikeys, nan_fraction)
            log_ids = _uuid4_hex(rng, steps)
            conn.executemany(
                METRICS_INSERT,
                zip(
                    repeat(run_ids[r]),
                    ts,
                    repeat(names[r]),
                    range(steps),
                    blobs,
                    log_ids,
                    repeat(None),
                ),
            )
            spans.append((start, end))
            start = end + timedelta(seconds=30)
            if verbose:
                print(
                    f"  run {r + 1}/{runs} {names[r]} ({time.perf_counter() - t0:.1f}s)",
                    file=sys.stderr,
                )
        _write_side_tables(conn, rng, run_ids, names, spans, steps, system_rows_per_run)
        t_idx = time.perf_counter()
        create_indexes(conn)
        conn.execute("COMMIT")
        if verbose:
            print(f"  indexes {time.perf_counter() - t_idx:.1f}s", file=sys.stderr)
        conn.execute("PRAGMA user_version=2")
        conn.execute("PRAGMA journal_mode=WAL")
    finally:
        conn.close()
    for suffix in ("-wal", "-shm"):
        tmp.with_name(tmp.name + suffix).unlink(missing_ok=True)
    tmp.replace(path)
    side.write_text(json.dumps(params, indent=2) + "\n")
    if verbose:
        print(
            f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB) in {time.perf_counter() - t0:.1f}s",
            file=sys.stderr,
        )
    return path


def _write_side_tables(
    conn: sqlite3.Connection,
    rng: np.random.Generator,
    run_ids: list[str],
    names: list[str],
    spans: list[tuple[datetime, datetime]],
    steps: int,
    system_rows_per_run: int,
) -> None:
    for r, (rid, name) in enumerate(zip(run_ids, names, strict=True)):
        start, end = spans[r]
        cfg = {
            "lr": 3e-4,
            "batch_size": int(2 ** (4 + r % 4)),
            "optimizer": {"name": "adamw", "betas": [0.9, 0.999]},
            "seed": r,
            "model": "tiny-llama",
            "_Username": None,
            "_Created": (start - timedelta(seconds=1, microseconds=r * 137)).isoformat(),
            "_Group": None,
        }
        conn.execute(
            "INSERT INTO configs (run_id, run_name, config, created_at) VALUES (?, ?, ?, ?)",
            (
                rid,
                name,
                orjson.dumps(cfg),
                (start + timedelta(microseconds=115_000 + r)).isoformat(),
            ),
        )
        n = system_rows_per_run
        if n:
            dur = (end - start).total_seconds()
            offs = np.sort(rng.uniform(0, dur, size=n))
            conn.executemany(
                "INSERT INTO system_metrics (run_id, timestamp, run_name, metrics, log_id, space_id) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                [
                    (
                        rid,
                        (start + timedelta(seconds=float(o))).isoformat(),
                        name,
                        _system_blob(rng),
                        lid,
                        None,
                    )
                    for o, lid in zip(offs, _uuid4_hex(rng, n), strict=True)
                ],
            )
    alerts = [
        (0, "loss spike", "train/loss jumped above 3.0", "warn"),
        (len(run_ids) // 2, "diverged", "grad norm exploded", "error"),
        (len(run_ids) - 1, "checkpoint saved", None, "info"),
    ]
    alert_ids = _uuid4_hex(rng, len(alerts))
    for (r, title, text, level), aid in zip(alerts, alert_ids, strict=True):
        r = min(r, len(run_ids) - 1)
        step = int(steps * 0.6)
        ts = spans[r][0] + timedelta(seconds=BATCH_SECONDS * step / 50)
        conn.execute(
            "INSERT INTO alerts (run_id, timestamp, run_name, title, text, level, step, alert_id) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (run_ids[r], ts.isoformat(), names[r], title, text, level, step, aid),
        )


# --------------------------------------------------------------------------- parquet export


def _deserialize_top_level(d: dict) -> dict:
    # trackio.utils.deserialize_values: only top-level "NaN"/"Infinity"/"-Infinity" strings.
    for k, v in d.items():
        if v.__class__ is str and v in _NONFINITE_MAP:
            d[k] = _NONFINITE_MAP[v]
    return d


_NONFINITE_MAP = {"NaN": float("nan"), "Infinity": float("inf"), "-Infinity": float("-inf")}


def _export_table(conn: sqlite3.Connection, table: str, json_col: str, chunk_rows: int):
    """Arrow table equal to trackio 0.43 ``_flatten_json_rows`` + ``pa.Table.from_pylist``.

    Processed in chunks so that 1M rows do not need 1M Python dicts at once; the per-chunk
    tables are then aligned to the global first-seen column order and unified types.
    """
    import pyarrow as pa

    cur = conn.execute(f"SELECT * FROM {table}")
    cols = [d[0] for d in cur.description]
    jpos = cols.index(json_col)
    struct_cols = [c for c in cols if c != json_col]
    order: list[str] = []
    seen: set[str] = set()
    pieces = []
    loads = orjson.loads
    while True:
        rows = cur.fetchmany(chunk_rows)
        if not rows:
            break
        flat_rows = []
        for row in rows:
            flat = dict(zip(struct_cols, row[:jpos] + row[jpos + 1 :], strict=True))
            raw = row[jpos]
            expanded = _deserialize_top_level(loads(raw)) if raw is not None else {}
            for k, v in expanded.items():
                if k not in flat:
                    flat[k] = v
            flat_rows.append(flat)
        chunk_order: list[str] = []
        chunk_seen: set[str] = set()
        for fr in flat_rows:
            if len(fr) != len(chunk_order) or fr.keys() != chunk_seen:
                for k in fr:
                    if k not in chunk_seen:
                        chunk_order.append(k)
                        chunk_seen.add(k)
        for k in chunk_order:
            if k not in seen:
                order.append(k)
                seen.add(k)
        pieces.append(
            pa.Table.from_pylist([{k: fr.get(k) for k in chunk_order} for fr in flat_rows])
        )
        del flat_rows, rows
    if not pieces:
        return None
    schemas = []
    for p in pieces:
        schemas.append(p.schema)
    unified = pa.unify_schemas(schemas, promote_options="permissive")
    schema = pa.schema([unified.field(k) for k in order])
    aligned = []
    for p in pieces:
        arrays = []
        for f in schema:
            if f.name in p.column_names:
                col = p.column(f.name)
                arrays.append(col if col.type == f.type else col.cast(f.type))
            else:
                arrays.append(pa.nulls(p.num_rows, type=f.type))
        aligned.append(pa.Table.from_arrays(arrays, schema=schema))
    return pa.concat_tables(aligned).combine_chunks()


def _write_parquet(table, out: Path) -> None:
    import pyarrow.parquet as pq

    # Same options as trackio 0.43 SQLiteStorage._write_parquet_rows.
    pq.write_table(table, out, write_page_index=True, use_content_defined_chunking=True)


def generate_parquet(
    db_path: str | Path, out_path: str | Path, *, chunk_rows: int = 100_000
) -> list[Path]:
    """Write the trackio 0.43 ``export_to_parquet`` files for ``db_path``.

    ``out_path`` is ``<project>.parquet``; ``<project>_system.parquet`` and
    ``<project>_configs.parquet`` are written next to it. Returns the paths written
    (a sidecar is skipped, as in trackio, when its table is empty).
    """
    db_path, out_path = Path(db_path), Path(out_path)
    stem = out_path.name.removesuffix(".parquet")
    targets = [
        ("metrics", "metrics", out_path),
        ("system_metrics", "metrics", out_path.with_name(f"{stem}_system.parquet")),
        ("configs", "config", out_path.with_name(f"{stem}_configs.parquet")),
    ]
    written = []
    # A plain (read-write) connection, like trackio's: a read-only one cannot remove the
    # -wal/-shm files of this WAL-mode DB when it closes.
    conn = sqlite3.connect(db_path)
    try:
        for table, json_col, out in targets:
            t = _export_table(conn, table, json_col, chunk_rows)
            if t is None:
                continue
            _write_parquet(t, out)
            written.append(out)
            del t
    finally:
        conn.close()
    return written


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("out_dir", type=Path)
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--steps", type=int, default=50_000)
    ap.add_argument("--metrics", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--system-rows-per-run", type=int, default=200)
    ap.add_argument("--nan-fraction", type=float, default=0.01)
    ap.add_argument(
        "--parquet",
        action="store_true",
        help="also write bench.parquet, bench_system.parquet, bench_configs.parquet",
    )
    ap.add_argument("--force", action="store_true", help="regenerate even if cached")
    args = ap.parse_args(argv)

    db = args.out_dir / f"{PROJECT}.db"
    t0 = time.perf_counter()
    generate_db(
        db,
        runs=args.runs,
        steps=args.steps,
        metrics=args.metrics,
        seed=args.seed,
        system_rows_per_run=args.system_rows_per_run,
        nan_fraction=args.nan_fraction,
        force=args.force,
        verbose=True,
    )
    print(f"db       {db}  {db.stat().st_size / 1e6:8.1f} MB  {time.perf_counter() - t0:6.1f} s")
    if args.parquet:
        pq_path = args.out_dir / f"{PROJECT}.parquet"
        side = json.loads(_sidecar(db).read_text())
        pq_side = _sidecar(pq_path)
        fresh = (
            not args.force
            and pq_path.exists()
            and pq_side.exists()
            and json.loads(pq_side.read_text()) == side
            and pq_path.stat().st_mtime_ns > db.stat().st_mtime_ns
        )
        t1 = time.perf_counter()
        if fresh:
            paths = [
                p
                for p in (
                    pq_path,
                    args.out_dir / f"{PROJECT}_system.parquet",
                    args.out_dir / f"{PROJECT}_configs.parquet",
                )
                if p.exists()
            ]
            print("reusing parquet export (same parameters)", file=sys.stderr)
        else:
            paths = generate_parquet(db, pq_path)
            pq_side.write_text(json.dumps(side, indent=2) + "\n")
        for p in paths:
            print(f"parquet  {p}  {p.stat().st_size / 1e6:8.1f} MB")
        print(f"parquet total {time.perf_counter() - t1:6.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
