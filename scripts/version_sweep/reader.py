"""Dump what THIS interpreter's trackio reads from a project, as JSON on stdout.

    TRACKIO_DIR=D HF_HOME=H python reader.py PROJECT

Uses whatever the version has: get_run_records / get_runs, get_logs / get_metrics,
get_run_config, get_system_logs, get_alerts. Values are kept as trackio returns
them (NaN as a JSON NaN token), timestamps dropped (merge may not keep them).
"""

from __future__ import annotations

import inspect
import json
import sys
import warnings

warnings.simplefilter("ignore")
from trackio.sqlite_storage import SQLiteStorage as S  # noqa: E402

project = sys.argv[1]


def call(name: str, *args, **kw):
    f = getattr(S, name, None)
    if f is None:
        return None
    params = inspect.signature(f).parameters
    kw = {k: v for k, v in kw.items() if k in params}
    return f(*args, **kw)


if hasattr(S, "get_run_records"):
    runs = [(r["name"], r.get("id")) for r in S.get_run_records(project)]
else:
    runs = [(r, None) for r in S.get_runs(project)]
out = []
for name, rid in runs:
    logs = call("get_logs", project, name, run_id=rid)
    if logs is None:
        logs = call("get_metrics", project, name)
    rows = []
    for r in logs or []:
        r = dict(r)
        r.pop("timestamp", None)
        rows.append(r)
    entry = {"name": name, "id": rid, "logs": rows}
    cfg = call("get_run_config", project, name, run_id=rid)
    if cfg is not None:
        entry["config"] = {k: v for k, v in cfg.items() if k != "_Created"}
    sysl = call("get_system_logs", project, name, run_id=rid)
    if sysl is not None:
        entry["system"] = [{k: v for k, v in r.items() if k != "timestamp"} for r in sysl]
    if hasattr(S, "get_alerts"):
        al = call("get_alerts", project, run_name=name, run_id=rid)
        entry["alerts"] = [
            {k: a.get(k) for k in ("title", "text", "level", "step")} for a in al or []
        ]
    out.append(entry)
json.dump(out, sys.stdout, default=str, sort_keys=True)
