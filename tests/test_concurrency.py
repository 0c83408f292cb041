"""Trackio logs into the target project from another process while a merge runs: nothing is lost."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import REPO
from trackio_tool.sources import resolve_sources
from trackio_tool.store.write import merge

sys.path.insert(0, str(REPO / "benchmarks"))
from generate import generate_db

LOGGER = r"""
import sys, time
import trackio

project, n = sys.argv[1], int(sys.argv[2])
trackio.init(project=project, name="live", config={"who": "logger"})
for i in range(n):
    trackio.log({"i": i, "half": i * 0.5})
    time.sleep(0.01)
trackio.finish()
print("logged", n)
"""
LOGGED = 600
SOURCE_ROWS = 60_000


def _count(db: Path, sql: str) -> int:
    if not db.exists():
        return 0
    con = sqlite3.connect(db, timeout=30)
    try:
        return con.execute(sql).fetchone()[0]
    except sqlite3.OperationalError:
        return 0
    finally:
        con.close()


def test_trackio_keeps_logging_during_a_merge(tmp_path: Path) -> None:
    source = generate_db(
        tmp_path / "src" / "big.db",
        runs=2,
        steps=SOURCE_ROWS // 2,
        metrics=8,
        system_rows_per_run=20,
    )
    tdir = tmp_path / "trackio"
    tdir.mkdir()
    target = tdir / "shared.db"
    env = {**os.environ, "TRACKIO_DIR": str(tdir), "HF_HUB_OFFLINE": "1"}
    with (tmp_path / "logger.out").open("w+") as out:
        logger = subprocess.Popen(
            [sys.executable, "-c", LOGGER, "shared", str(LOGGED)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
        try:
            deadline = time.monotonic() + 60
            while _count(target, "SELECT COUNT(*) FROM metrics") < 20:
                assert logger.poll() is None, "the logger stopped before the merge started"
                assert time.monotonic() < deadline
                time.sleep(0.05)
            result = merge(resolve_sources([str(source)])[0], target)
            assert logger.poll() is None, "the merge should overlap the logging"
            logger.wait(timeout=120)
        finally:
            if logger.poll() is None:
                logger.kill()
                logger.wait()
        out.seek(0)
        log = out.read()
    assert logger.returncode == 0, log
    assert f"logged {LOGGED}" in log
    assert "failed" not in log.lower(), log
    assert "could not" not in log.lower(), log

    assert result.rows["metrics"] == SOURCE_ROWS
    assert _count(target, "SELECT COUNT(*) FROM metrics WHERE run_name = 'live'") == LOGGED
    assert (
        _count(target, "SELECT COUNT(DISTINCT step) FROM metrics WHERE run_name = 'live'") == LOGGED
    )
    assert _count(target, "SELECT COUNT(*) FROM metrics") == LOGGED + SOURCE_ROWS
    assert _count(target, "SELECT COUNT(*) FROM configs") == 3
    con = sqlite3.connect(target)
    try:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        con.close()
