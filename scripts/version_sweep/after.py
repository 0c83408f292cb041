"""Keep logging to a project with THIS interpreter's trackio (after a merge/drop/rename).

TRACKIO_DIR=D HF_HOME=H python after.py PROJECT RUN_TO_RESUME
"""

from __future__ import annotations

import inspect
import json
import sys
import time
import warnings

warnings.simplefilter("ignore")
import trackio  # noqa: E402

project, resume_run = sys.argv[1], sys.argv[2]
trackio.init(project=project, name="after")
for i in range(3):
    trackio.log({"after_loss": 1.0 + i, "nested": {"v": i}})
done = {"system": 0, "alerts": 0}
if hasattr(trackio, "log_system"):
    trackio.log_system({"cpu": 1.0})
    done["system"] += 1
if hasattr(trackio, "alert"):
    trackio.alert(title="after-alert", text="t")
    done["alerts"] += 1
time.sleep(1.0)
trackio.finish()
if "resume" in inspect.signature(trackio.init).parameters:
    trackio.init(project=project, name=resume_run, resume="allow")
    trackio.log({"resumed": 1.0})
    time.sleep(1.0)
    trackio.finish()
print(json.dumps(done))
