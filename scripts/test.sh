#!/usr/bin/env bash
# Quick start, command 2: install everything the tests use (Debian chromium for kaleido,
# openssh-server for the ssh:// tests, sqlite3 for remote snapshots) and run the whole suite.
. "$(dirname "$0")/_bootstrap.sh" "chromium openssh-server sqlite3" "[test]"
exec .venv/bin/python -m pytest "$@"
