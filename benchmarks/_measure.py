"""Wall time + peak RSS of one measurement, always in a fresh process.

* ``measure_cmd(cmd)``: run a command; peak RSS comes from ``os.wait4``'s rusage for exactly
  that child (Linux: ``ru_maxrss`` in KiB, covering the child and descendants it reaped).
* ``measure_call("module:function", *args)``: run a function from ``benchmarks/`` (or any
  importable module) in a fresh ``python -c`` child; also reports the time spent inside the
  function (``inner_s``), i.e. without interpreter start-up and imports at module level.
* ``measure_callable(fn, *args)``: same for any picklable callable, via a spawned
  multiprocessing child (peak RSS = the child's own ``RUSAGE_SELF``).

``print_table(results)`` prints them aligned. Every function returns a plain dict.

CLI::

    python benchmarks/_measure.py -- sqlite3 /tmp/trackio-bench/bench.db "select count(*) from metrics"
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
PYTHON = sys.executable


def bench_parser(doc: str | None) -> argparse.ArgumentParser:
    """The options every bench_*.py script shares (data size, repeats, baseline)."""
    ap = argparse.ArgumentParser(
        description=doc, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--dir", default="/tmp/trackio-bench")
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--steps", type=int, default=50_000)
    ap.add_argument("--metrics", type=int, default=20)
    ap.add_argument("--repeat", type=int, default=3, help="runs of our command (best is reported)")
    ap.add_argument("--skip-naive", action="store_true")
    return ap


def trackio_tool_exe() -> str:
    """The trackio-tool script of this interpreter's environment (or on PATH)."""
    return shutil.which("trackio-tool") or str(Path(sys.executable).with_name("trackio-tool"))


def measure_cmd(
    cmd: list[str],
    *,
    label: str | None = None,
    timeout: float | None = None,
    env: dict[str, str] | None = None,
    cwd: str | Path | None = None,
    quiet: bool = True,
) -> dict:
    """Run ``cmd`` once; return {label, wall_s, peak_rss_mb, returncode, timed_out, stdout_tail}."""
    with tempfile.TemporaryFile() as out:
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            cmd,
            stdout=out,
            stderr=None if not quiet else subprocess.DEVNULL,
            env=env,
            cwd=cwd,
            start_new_session=True,
        )
        timed_out = False
        while True:
            pid, status, ru = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if timeout is not None and time.perf_counter() - t0 > timeout:
                timed_out = True
                os.killpg(proc.pid, signal.SIGKILL)  # the child's own session/group only
                pid, status, ru = os.wait4(proc.pid, 0)
                break
            time.sleep(0.02)
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        stdout = out.read().decode(errors="replace")
    return {
        "label": label or " ".join(map(str, cmd))[:40],
        "wall_s": wall,
        "peak_rss_mb": ru.ru_maxrss / 1024,  # Linux: KiB
        "returncode": proc.returncode,
        "timed_out": timed_out,
        "stdout_tail": stdout[-500:],
    }


_CALL_TEMPLATE = """
import json, sys, time
sys.path.insert(0, {bench_dir!r})
import importlib
mod = importlib.import_module({module!r})
fn = getattr(mod, {func!r})
args = json.loads({args!r})
t0 = time.perf_counter()
res = fn(*args)
inner = time.perf_counter() - t0
with open({result_file!r}, "w") as f:
    json.dump({{"inner_s": inner, "result": repr(res)[:300]}}, f)
"""


def measure_call(
    target: str, *args: object, label: str | None = None, timeout: float | None = None
) -> dict:
    """Run ``module:function(*args)`` (JSON-able args) in a fresh interpreter and measure it."""
    module, func = target.split(":")
    fd, result_file = tempfile.mkstemp(suffix=".json")
    os.close(fd)
    code = _CALL_TEMPLATE.format(
        bench_dir=str(BENCH_DIR),
        module=module,
        func=func,
        args=json.dumps(list(args)),
        result_file=result_file,
    )
    try:
        res = measure_cmd([PYTHON, "-c", code], label=label or target, timeout=timeout, quiet=False)
        try:
            inner = json.loads(Path(result_file).read_text() or "{}")
        except ValueError:
            inner = {}
    finally:
        Path(result_file).unlink(missing_ok=True)
    res["inner_s"] = inner.get("inner_s")
    res["result"] = inner.get("result")
    return res


def _child(fn, args, q) -> None:  # pragma: no cover - runs in the child
    import resource

    t0 = time.perf_counter()
    fn(*args)
    inner = time.perf_counter() - t0
    q.put((inner, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024))


def measure_callable(fn, *args: object, label: str | None = None) -> dict:
    """Run a picklable ``fn(*args)`` in a spawned child process and measure it."""
    import multiprocessing as mp

    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    t0 = time.perf_counter()
    p = ctx.Process(target=_child, args=(fn, args, q))
    p.start()
    inner, rss = q.get()
    p.join()
    return {
        "label": label or getattr(fn, "__name__", str(fn)),
        "wall_s": time.perf_counter() - t0,
        "inner_s": inner,
        "peak_rss_mb": rss,
        "returncode": p.exitcode,
        "timed_out": False,
    }


def _fmt(v: object, spec: str) -> str:
    return "-" if v is None else format(v, spec)


def best_of(cmd: list[str], *, label: str, repeat: int) -> dict:
    """``measure_cmd(cmd)`` ``repeat`` times; the run with the shortest wall time."""
    return min((measure_cmd(cmd, label=label) for _ in range(repeat)), key=lambda r: r["wall_s"])


def print_table(results: list[dict], file=sys.stdout) -> None:
    """Aligned table: label, wall s, inner s, peak RSS MB, status."""
    header = ("measurement", "wall s", "inner s", "peak RSS MB", "status")
    rows = []
    for r in results:
        status = (
            "TIMEOUT"
            if r.get("timed_out")
            else ("ok" if r.get("returncode") == 0 else f"rc={r.get('returncode')}")
        )
        rows.append(
            (
                r["label"],
                _fmt(r["wall_s"], ".2f"),
                _fmt(r.get("inner_s"), ".2f"),
                _fmt(r["peak_rss_mb"], ".0f"),
                status,
            )
        )
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows, strict=True)]
    for i, row in enumerate([header, *rows]):
        cells = [
            str(c).ljust(w) if j == 0 else str(c).rjust(w)
            for j, (c, w) in enumerate(zip(row, widths, strict=True))
        ]
        print("  ".join(cells), file=file)
        if i == 0:
            print("  ".join("-" * w for w in widths), file=file)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "--":
        argv = argv[1:]
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    res = measure_cmd(argv, quiet=False)
    print_table([res])
    return 0 if res["returncode"] == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
