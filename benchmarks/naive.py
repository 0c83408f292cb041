"""Naive baselines: what the original "seed" script did, kept as slow reference points.

Deliberately unoptimised (stdlib sqlite3 + ``json.loads`` per row + pandas boolean masks +
``iterrows`` + one ``cursor.execute`` per inserted row). Do not "fix" these: they are the
baseline trackio-tool is measured against.

Usage::

    python benchmarks/naive.py analyze /tmp/trackio-bench/bench.db [--out summary.json]
    python benchmarks/naive.py plot    /tmp/trackio-bench/bench.db /tmp/trackio-bench/naive.png
    python benchmarks/naive.py merge   /tmp/trackio-bench/bench.parquet /tmp/trackio-bench/naive_merged.db
    python benchmarks/naive.py measure /tmp/trackio-bench [--skip-plot]    # time all of them (fresh process each)
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
from pathlib import Path

STRUCTURAL = ("id", "run_id", "timestamp", "run_name", "step", "log_id", "space_id")


def _load_frame(db_path: str | Path):
    import pandas as pd

    conn = sqlite3.connect(db_path)
    cur = conn.cursor()
    cur.execute("SELECT run_name, step, timestamp, metrics FROM metrics")
    records = []
    for run_name, step, timestamp, metrics in cur.fetchall():
        d = json.loads(metrics)
        d["run_name"] = run_name
        d["step"] = step
        d["timestamp"] = timestamp
        records.append(d)
    conn.close()
    return pd.DataFrame(records)


def naive_analyze(db_path: str | Path) -> dict:
    """Per-run summary (rows, step range, first/last timestamp, metric columns with data).

    Like the seed it groups by ``run_name`` only, so two runs that share a name are merged
    into one entry.
    """
    df = _load_frame(db_path)
    metric_cols = [c for c in df.columns if c not in ("run_name", "step", "timestamp")]
    runs = {}
    for run in df["run_name"].unique():
        sub = df[df.run_name == run]
        runs[str(run)] = {
            "rows": len(sub),
            "step_min": int(sub["step"].min()),
            "step_max": int(sub["step"].max()),
            "first_timestamp": str(sub["timestamp"].min()),
            "last_timestamp": str(sub["timestamp"].max()),
            "metrics": [c for c in metric_cols if sub[c].notna().any()],
        }
    return {"db": str(db_path), "total_rows": len(df), "runs": runs}


def _numeric_metrics(df) -> list[str]:
    import pandas as pd

    out = []
    for c in df.columns:
        if c in ("run_name", "step", "timestamp"):
            continue
        if not pd.api.types.is_numeric_dtype(df[c]):
            try:  # "NaN"/"Infinity" strings make the column object dtype
                df[c] = pd.to_numeric(df[c], errors="coerce")
            except (TypeError, ValueError):  # nested dicts (eval) are not plottable
                continue
        if df[c].notna().any():
            out.append(c)
    return out


def naive_plot(db_path: str | Path, out_png: str | Path) -> Path:
    """One subplot per numeric metric, one line per run name; PNG (or WebP if asked and supported)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    df = _load_frame(db_path)
    metrics = _numeric_metrics(df)
    runs = list(df["run_name"].unique())
    fig, axes = plt.subplots(len(metrics), 1, figsize=(10, 2.2 * len(metrics)), squeeze=False)
    for ax, m in zip(axes[:, 0], metrics, strict=True):
        for r in runs:
            sub = df[df.run_name == r][["step", m]].dropna()
            ax.plot(sub["step"], sub[m], label=r, linewidth=0.6)
        ax.set_title(m, fontsize=8)
    axes[0, 0].legend(fontsize=5, ncol=4)
    fig.tight_layout()
    out = Path(out_png)
    fmt = out.suffix.lstrip(".").lower() or "png"
    if fmt not in fig.canvas.get_supported_filetypes():
        out, fmt = out.with_suffix(".png"), "png"
    fig.savefig(out, format=fmt, dpi=80)
    plt.close(fig)
    return out


def _json_default(o):
    if hasattr(o, "item"):  # numpy scalar
        return o.item()
    if hasattr(o, "tolist"):  # numpy array (list columns)
        return o.tolist()
    return str(o)


def naive_merge(parquet_path: str | Path, target_db: str | Path) -> int:
    """Rebuild a metrics table from a trackio parquet export, one INSERT per row."""
    import pandas as pd

    try:
        from .generate import create_schema
    except ImportError:  # run as a script / imported with benchmarks/ on sys.path
        from generate import create_schema

    df = pd.read_parquet(parquet_path)
    target_db = Path(target_db)
    for suffix in ("", "-wal", "-shm"):
        Path(str(target_db) + suffix).unlink(missing_ok=True)
    conn = sqlite3.connect(target_db)
    conn.execute("PRAGMA journal_mode=WAL")
    create_schema(conn)
    conn.commit()
    cursor = conn.cursor()
    n = 0
    for _, row in df.iterrows():
        metrics = {}
        for k, v in row.items():
            if k in STRUCTURAL or v is None:
                continue
            metrics[k] = v
        cursor.execute(
            "INSERT INTO metrics (run_id, timestamp, run_name, step, metrics, log_id, space_id) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                row["run_id"],
                row["timestamp"],
                row["run_name"],
                int(row["step"]),
                json.dumps(metrics, default=_json_default),
                row["log_id"],
                None,
            ),
        )
        n += 1
    conn.commit()
    conn.close()
    return n


def measure_all(
    out_dir: str | Path, *, skip_plot: bool = False, plot_timeout: float | None = None
) -> dict:
    """Time each baseline (and a raw sqlite3 scan) in a fresh process on OUT_DIR/bench.db."""
    try:
        from ._measure import measure_call, measure_cmd, print_table
    except ImportError:
        from _measure import measure_call, measure_cmd, print_table

    out_dir = Path(out_dir)
    db = out_dir / "bench.db"
    pq = out_dir / "bench.parquet"
    results = []
    results.append(
        measure_cmd(
            ["sqlite3", str(db), "select sum(length(metrics)) from metrics"],
            label="raw sqlite3 scan",
        )
    )
    results.append(measure_call("naive:naive_analyze", str(db), label="naive_analyze"))
    if pq.exists():
        results.append(
            measure_call(
                "naive:naive_merge", str(pq), str(out_dir / "naive_merged.db"), label="naive_merge"
            )
        )
    if not skip_plot:
        results.append(
            measure_call(
                "naive:naive_plot",
                str(db),
                str(out_dir / "naive_plot.webp"),
                label="naive_plot",
                timeout=plot_timeout,
            )
        )
    print_table(results)
    return {r["label"]: r for r in results}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="naive seed-script baselines")
    sub = ap.add_subparsers(dest="cmd", required=True)
    a = sub.add_parser("analyze")
    a.add_argument("db")
    a.add_argument("--out", help="write the JSON summary here instead of stdout")
    p = sub.add_parser("plot")
    p.add_argument("db")
    p.add_argument("out_png")
    m = sub.add_parser("merge")
    m.add_argument("parquet")
    m.add_argument("target_db")
    ms = sub.add_parser("measure")
    ms.add_argument("out_dir")
    ms.add_argument("--skip-plot", action="store_true")
    ms.add_argument(
        "--plot-timeout", type=float, default=None, help="seconds; kill naive_plot after this"
    )
    ms.add_argument("--json", dest="json_out", help="also write the results dict here")
    args = ap.parse_args(argv)

    if args.cmd == "analyze":
        summary = naive_analyze(args.db)
        text = json.dumps(summary, indent=2)
        if args.out:
            Path(args.out).write_text(text + "\n")
        else:
            print(text)
    elif args.cmd == "plot":
        print(naive_plot(args.db, args.out_png))
    elif args.cmd == "merge":
        print(f"{naive_merge(args.parquet, args.target_db)} rows")
    else:
        res = measure_all(args.out_dir, skip_plot=args.skip_plot, plot_timeout=args.plot_timeout)
        if args.json_out:
            Path(args.json_out).write_text(json.dumps(res, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    raise SystemExit(main())
