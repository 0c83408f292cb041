"""Traces (0.25+) and artifacts (0.30+) where the version has them: project ``rich``.

TRACKIO_DIR=D HF_HOME=H python traces_artifacts.py
"""

from __future__ import annotations

import json
import os
import time
import warnings
from pathlib import Path

warnings.simplefilter("ignore")
import trackio  # noqa: E402

done = {"traces": 0, "artifacts": 0}
trackio.init(project="rich", name="t1")
for step in range(3):
    m: dict = {"loss": 1.0 / (step + 1)}
    if hasattr(trackio, "Trace") and step == 1:
        m["chat"] = trackio.Trace(
            messages=[{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}],
            metadata={"model": "x"},
        )
        done["traces"] += 1
    trackio.log(m, step=step)
if hasattr(trackio, "log_artifact"):
    f = Path(os.environ["TRACKIO_DIR"]).parent / "weights.bin"
    f.parent.mkdir(parents=True, exist_ok=True)  # TRACKIO_DIR's parent may not exist yet
    f.write_bytes(b"\x00" * 100)
    trackio.log_artifact(str(f), name="w", type="model")
    done["artifacts"] += 1
time.sleep(1.0)
trackio.finish()
print(json.dumps(done))
