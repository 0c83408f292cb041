#!/bin/bash
# Version sweep: write projects with many trackio releases, check trackio-tool on them.
# A manual audit tool (not part of the test suite); see README.md. Needs uv and PyPI.
#
#   scripts/version_sweep/sweep.sh [VERSION...]     (default: the list below)
#
# SWEEP=/tmp/sweep (venvs/, out/, merge/, logs/); TOOL_PY = the repo's venv python.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
SWEEP=${SWEEP:-/tmp/sweep}
TOOL_PY=${TOOL_PY:-$REPO/.venv/bin/python}
VERSIONS=${*:-"0.2.4 0.2.9 0.3.2 0.3.4 0.4.1 0.5.3 0.6.0 0.8.1 0.10.0 0.13.1 0.14.2 0.16.1 0.17.0 0.18.0 0.20.2 0.22.0 0.23.0 0.24.2 0.25.1 0.26.0 0.28.1 0.30.4 0.33.0 0.36.0 0.37.1 0.38.1 0.40.0 0.41.0 0.42.0 0.43.0"}
mkdir -p "$SWEEP"/venvs "$SWEEP"/out "$SWEEP"/logs
export SWEEP_VENVS=$SWEEP/venvs SWEEP_WORK=$SWEEP/merge TOOL_PY
export SWEEP_NEW_PYTHON=$SWEEP/venvs/0.43.0/bin/python

install() {  # one venv per release; dependencies as of a few days after it came out
  local v=$1 dir=$SWEEP/venvs/$1 date
  [ -x "$dir/bin/python" ] && "$dir/bin/python" -c "import trackio" 2>/dev/null && return
  date=$(curl -s "https://pypi.org/pypi/trackio/json" | V=$v python3 -c \
    'import json,sys,os,datetime as d; t=json.load(sys.stdin)["releases"][os.environ["V"]][0]["upload_time"]; print((d.datetime.fromisoformat(t)+d.timedelta(days=5)).strftime("%Y-%m-%dT00:00:00Z"))')
  uv venv -q -p 3.11 "$dir"
  uv pip install -q --python "$dir/bin/python" --exclude-newer "$date" "trackio==$v" numpy pillow pyarrow pandas requests
  # <= 0.16 send logs to a local gradio server; httpx >= 0.28 refuses NaN in request JSON
  if [ "$(printf '%s\n0.17.0\n' "$v" | sort -V | head -1)" != "0.17.0" ]; then
    uv pip install -q --python "$dir/bin/python" "httpx<0.28"
  fi
}

write() {
  local v=$1 d=$SWEEP/out/$1
  rm -rf "$d"; mkdir -p "$d"
  (cd "$d" && env HF_HUB_OFFLINE=1 HF_HOME="$d/hf" TRACKIO_DIR="$d/hf/trackio" GRADIO_ANALYTICS_ENABLED=False \
    GRADIO_SERVER_PORT=$((7000 + RANDOM % 2000)) timeout 600 \
    "$SWEEP/venvs/$v/bin/python" "$HERE/writer.py" "$d/truth.json" > "$d/writer.log" 2>&1)
  echo "write $v rc=$?"
}

install 0.43.0 && write 0.43.0
for v in $VERSIONS; do install "$v"; [ "$v" = 0.43.0 ] || write "$v"; done
dirs=$(for v in $VERSIONS; do echo "$SWEEP/out/$v"; done)
# analyze / series / plot on .db, parquet, static; then the 0.43-upgraded copy
PYTHONPATH=$REPO/src "$TOOL_PY" "$HERE/check.py" $dirs | tee "$SWEEP/logs/check.out"
# merge --from each version's parquet/static export into a 0.43 DB
PYTHONPATH=$REPO/src "$TOOL_PY" "$HERE/merge_exports.py" "$SWEEP/out" $VERSIONS | tee "$SWEEP/logs/mexp.out"
# merge both ways + drop + rename, read back by both trackio versions, then logged to
for v in $VERSIONS; do
  [ "$v" = 0.43.0 ] || python3 "$HERE/merge_check.py" "$SWEEP/out" "$v"
done | tee "$SWEEP/logs/merge.out"
