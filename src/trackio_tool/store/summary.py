"""What is in a project: the data behind ``analyze``."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any

import polars as pl

from trackio_tool import _waiting
from trackio_tool.store.project import Project
from trackio_tool.store.select import select_runs


@dataclass(frozen=True)
class RunSummary:
    name: str
    id: str | None
    rows: int
    step_min: int | None
    step_max: int | None
    first: str | None
    last: str | None
    metrics: list[str]
    media_files: int | None
    system_rows: int
    alerts: int
    configs: int = 0
    traces: int = 0
    """Rows in the ``traces`` table (Trackio 0.26+: LLM conversations logged with trackio.Trace)."""
    config: dict[str, Any] | None = field(default=None, repr=False)


@dataclass(frozen=True)
class ProjectSummary:
    project: str
    source: str
    kind: str
    total_rows: int
    metrics: list[str]
    runs: list[RunSummary]
    inbox_rows: int = 0
    """Logged rows included from Trackio's JSONL inbox (not in the .db yet)."""

    @property
    def duplicate_names(self) -> set[str]:
        seen: set[str] = set()
        dup: set[str] = set()
        for r in self.runs:
            (dup if r.name in seen else seen).add(r.name)
        return dup

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        for run in data["runs"]:
            run.pop("config", None)
        return data


def _counts(frame: pl.DataFrame) -> dict[str, int]:
    return dict(
        zip(frame.get_column("run_key").to_list(), frame.get_column("n").to_list(), strict=True)
    )


def summarize(
    project: Project, *, runs: Sequence[str] = (), media: bool = True, with_config: bool = False
) -> ProjectSummary:
    """Per-run rows, steps, times, metric keys, media, system rows and alerts."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        # Without a selection the key scan (the slow part) needs no run index:
        # start it first so the index query runs alongside.
        pending = pool.submit(project.metric_keys, None) if not runs else None
        try:
            index = project.run_index()
            keys = select_runs(index, runs, where=f"project {project.name!r} ({project.source})")
            metric_pairs = _waiting.result(pending) if pending else project.metric_keys(keys)
        except BaseException:
            project.cancel()  # an unknown --run, Ctrl-C: do not wait for the whole scan
            raise
    selected = index.filter(pl.col("run_key").is_in(keys))
    per_run: dict[str, list[str]] = {}
    for run_key, metric in metric_pairs.sort("metric").iter_rows():
        per_run.setdefault(run_key, []).append(metric)
    system = _counts(project.side_counts("system_metrics"))
    alerts = _counts(project.side_counts("alerts"))
    config_rows = _counts(project.side_counts("configs"))
    traces = _counts(project.side_counts("traces"))
    configs = project.configs() if with_config else {}
    names = set(selected.get_column("run_name").to_list())
    media_counts = project.media_counts(names) if media else {}
    out: list[RunSummary] = []
    for row in selected.iter_rows(named=True):  # one row per run, not per log entry
        key = row["run_key"]
        out.append(
            RunSummary(
                name=row["run_name"],
                id=row["run_id"],
                rows=row["rows"],
                step_min=row["step_min"],
                step_max=row["step_max"],
                first=row["first"],
                last=row["last"],
                metrics=per_run.get(key, []),
                media_files=media_counts.get(row["run_name"], 0) if media else None,
                system_rows=system.get(key, 0),
                alerts=alerts.get(key, 0),
                configs=config_rows.get(key, 0),
                traces=traces.get(key, 0),
                config=configs.get(key),
            )
        )
    all_metrics = sorted({m for r in out for m in r.metrics})
    return ProjectSummary(
        project=project.name,
        source=project.source,
        kind="inbox" if project.files.inbox_only else project.files.kind,
        total_rows=int(selected.get_column("rows").sum() or 0),
        metrics=all_metrics,
        runs=out,
        inbox_rows=project.pending.count("metric") if project.pending else 0,
    )
