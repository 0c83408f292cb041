"""Write a Trackio project with the trackio installed in THIS interpreter; record the truth.

Run by sweep.py inside one venv per trackio version:

    HF_HUB_OFFLINE=1 HF_HOME=D/hf TRACKIO_DIR=D/hf/trackio  python writer.py D/truth.json

Adapts to the API of the version (no log_system/alert/Image/Table/resume where absent).
The truth file says what was logged, per session, with the step each row should get.
"""

from __future__ import annotations

import importlib.metadata
import inspect
import json
import math
import os
import shutil
import sys
import time
import warnings
from pathlib import Path

warnings.simplefilter("ignore")
import numpy as np  # noqa: E402
import trackio  # noqa: E402

VERSION = importlib.metadata.version("trackio")
V = tuple(int(x) for x in VERSION.split(".")[:3])
PROJECT = "sweep"
BIG = 2**53 + 3  # not representable as a float64
HAS = {
    "resume": "resume" in inspect.signature(trackio.init).parameters,
    "config": V >= (0, 4, 0),
    "system": hasattr(trackio, "log_system"),
    "alert": hasattr(trackio, "alert"),
    "image": hasattr(trackio, "Image") and V >= (0, 2, 8),
    "table": hasattr(trackio, "Table"),
}

truth: dict = {"version": VERSION, "project": PROJECT, "has": HAS, "sessions": []}


def session(name: str, *, resume: str | None, config: dict | None, rows: list, extra=None) -> None:
    kw: dict = {"project": PROJECT, "name": name}
    if config is not None:
        kw["config"] = config
    if resume is not None and HAS["resume"]:
        kw["resume"] = resume
    run = trackio.init(**kw)
    got_name = getattr(run, "name", name)
    run_id = getattr(run, "id", None) if V >= (0, 24, 0) else None
    logged = []
    for step, metrics in rows:
        metrics = dict(metrics)
        if step is None:
            trackio.log(metrics)
        else:
            trackio.log(metrics, step=step)
        logged.append({"step": step, "metrics": metrics})
    sysrows, alerts, media = 0, 0, 0
    if extra:
        sysrows, alerts, media, more = extra(len(rows))
        logged += more
    time.sleep(1.0)
    trackio.finish()
    truth["sessions"].append(
        {
            "project": PROJECT,
            "requested": name,
            "name": got_name,
            "id": run_id,
            "resume": resume,
            "rows": [{"step": r["step"], "metrics": _jsonable(r["metrics"])} for r in logged],
            "system_rows": sysrows,
            "alerts": alerts,
            "media": media,
            "config": config if HAS["config"] else None,
        }
    )


def _jsonable(m: dict) -> dict:
    out = {}
    for k, v in m.items():
        if HAS["image"] and isinstance(v, trackio.Image):
            out[k] = {"_type": "trackio.image"}
        elif HAS["table"] and isinstance(v, trackio.Table):
            out[k] = {"_type": "trackio.table"}
        else:
            out[k] = v
    return out


def alpha_rows(start: int, n: int) -> list:
    rows = []
    for i in range(start, start + n):
        m: dict = {
            "loss": 1.0 / (i + 1),
            "acc": i * 0.01,
            "epoch": i // 5,
            "train/lr": 1e-3 * 0.9**i,
        }
        if i == 3:
            m["loss"] = float("nan")
        if i == 5:
            m["grad"] = float("inf")
        elif i == 7:
            m["grad"] = float("-inf")
        else:
            m["grad"] = float(i)
        if i % 2 == 0:
            m["sparse"] = i * 10
        if i % 4 == 0:
            m["eval"] = {"loss": 0.5 + i, "inner": {"top1": i / 100}}
        if i == 9:
            m["big"] = BIG
        m["phase"] = "warm" if i < 3 else "main"
        rows.append((None, m))
    return rows


def sys_alert_media(step0: int):
    def extra(n: int):
        sysrows = alerts = media = 0
        more = []
        if HAS["system"]:
            for j in range(3):
                trackio.log_system(
                    {
                        "cpu": 10.0 + j,
                        "mem": float("nan") if j == 1 else 1.5,
                        "gpu": {"0": {"util": 50.0 + j}},
                    }
                )
                sysrows += 1
                time.sleep(0.05)
        if HAS["alert"]:
            sig = inspect.signature(trackio.alert).parameters
            kw = {"title": "loss spike", "text": "look"}
            if "level" in sig:
                kw["level"] = trackio.AlertLevel.WARN if hasattr(trackio, "AlertLevel") else "warn"
            trackio.alert(**kw)
            alerts += 1
        if HAS["image"]:
            arr = (np.arange(8 * 8 * 3) % 255).astype(np.uint8).reshape(8, 8, 3)
            m = {"img": trackio.Image(arr, caption="c")}
            trackio.log(m, step=step0 + 100)
            more.append({"step": step0 + 100, "metrics": m})
            media += 1
        if HAS["table"]:
            import pandas as pd

            # Table(data=, columns=) drops the column names in some versions (0.17:
            # int keys, and orjson then refuses the whole batch)
            t = trackio.Table(dataframe=pd.DataFrame({"n": [1, 2], "s": ["a", "b"]}))
            m = {"tbl": t}
            trackio.log(m, step=step0 + 101)
            more.append({"step": step0 + 101, "metrics": m})
        return sysrows, alerts, media, more

    return extra


def main() -> None:
    session("alpha", resume=None, config={"lr": 0.001, "nested": {"a": 1}}, rows=alpha_rows(0, 12))
    session("alpha", resume="allow", config=None, rows=alpha_rows(12, 5))
    beta = [(s, {"loss": 2.0 - s / 10, "acc": s / 10, "only_beta": s}) for s in range(10)]
    session("beta", resume=None, config={"lr": 0.01}, rows=beta, extra=sys_alert_media(10))
    session(
        "beta", resume=None, config={"lr": 0.02}, rows=[(None, {"loss": 9.0 + s}) for s in range(6)]
    )
    gamma = [(s, {"loss": float(s), "neg": -s}) for s in (0, 1, 2, 2, 5, 4)]  # repeat + backwards
    session("gamma", resume=None, config={"x": [1, 2]}, rows=gamma)
    exports()
    # Nested non-finite values make every trackio's parquet export raise, so they go
    # to a second project, logged after the export.
    global PROJECT
    PROJECT = "sweepedge"
    truth["edge_from"] = len(truth["sessions"])
    edge = [
        (0, {"grp": {"a": float("nan"), "b": float("inf"), "c": -1.5}, "x": 1.0}),
        (1, {"grp": {"a": 2.0, "b": float("-inf"), "c": 0.5}, "lst": [1.0, 2.0], "big": 2**63 - 1}),
        (2, {"grp": {"a": 3.0}, "x": float("nan"), "neg_big": -(2**62)}),
    ]
    session("edge", resume=None, config=None, rows=edge)
    Path(sys.argv[1]).write_text(json.dumps(truth, indent=1))


def exports() -> None:
    from trackio.sqlite_storage import SQLiteStorage

    d = Path(os.environ["TRACKIO_DIR"])
    truth["exports"] = {}
    if hasattr(SQLiteStorage, "export_to_parquet"):
        SQLiteStorage._dataset_import_attempted = True
        try:
            SQLiteStorage.export_to_parquet()
            truth["exports"]["parquet"] = str(d / f"{PROJECT}.parquet")
        except Exception as e:
            truth["exports"]["parquet_error"] = repr(e)
    if hasattr(SQLiteStorage, "export_for_static_space"):
        out = d.parent / "static" / PROJECT
        try:
            SQLiteStorage.export_for_static_space(PROJECT, out)
            media = d / "media" / PROJECT
            if media.is_dir():
                shutil.copytree(media, out / "media", dirs_exist_ok=True)
            truth["exports"]["static"] = str(out)
        except Exception as e:
            truth["exports"]["static_error"] = repr(e)


if __name__ == "__main__":
    assert not math.isnan(0.0)
    main()
