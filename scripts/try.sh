#!/usr/bin/env bash
# Quick start, command 1: install trackio-tool into .venv and analyze the bundled example project.
. "$(dirname "$0")/_bootstrap.sh" "" ""
echo "+ .venv/bin/trackio-tool analyze examples/trackio-0.43.0/toyproj.db" >&2
.venv/bin/trackio-tool analyze examples/trackio-0.43.0/toyproj.db
echo >&2
echo "trackio-tool is installed in .venv/bin (or: pipx install .); try also" >&2
echo "  .venv/bin/trackio-tool plot examples/trackio-0.43.0/toyproj.db -o plot.html" >&2
