"""A project whose name is not canonical ("my.proj" -> myproj.db), with one image.

    TRACKIO_DIR=D HF_HOME=H python dotted.py
Trackio <= 0.29 puts its media under media/<raw name>/, 0.30+ under media/<canonical>/.
"""

from __future__ import annotations

import time
import warnings

warnings.simplefilter("ignore")
import numpy as np  # noqa: E402
import trackio  # noqa: E402

trackio.init(project="my.proj", name="r1")
img = trackio.Image((np.arange(4 * 4 * 3) % 255).astype(np.uint8).reshape(4, 4, 3), caption="c")
trackio.log({"loss": 1.0, "img": img}, step=3)
trackio.log({"loss": 0.5}, step=4)
time.sleep(1.0)
trackio.finish()
print("ok")
