# Shared by try.sh and test.sh: make sure Debian/Ubuntu has what we need, then a venv.
# Usage: . scripts/_bootstrap.sh "<extra apt packages>" "<pip extras>"
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

apt_missing=()
python3 -c 'import ensurepip, venv' 2>/dev/null || apt_missing+=(python3-venv python3-pip)
for pkg in $1; do
  case "$pkg" in
    chromium) { [ -x /usr/bin/chromium ] || command -v chromium >/dev/null; } || apt_missing+=(chromium fonts-liberation) ;;
    openssh-server) [ -x /usr/sbin/sshd ] || apt_missing+=(openssh-server) ;;
    sqlite3) command -v sqlite3 >/dev/null || apt_missing+=(sqlite3) ;;
    *) dpkg -s "$pkg" >/dev/null 2>&1 || apt_missing+=("$pkg") ;;
  esac
done
if [ ${#apt_missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then sudo=""; elif command -v sudo >/dev/null; then sudo="sudo"; else
    echo "please install: apt-get install ${apt_missing[*]}" >&2; exit 1
  fi
  echo "installing Debian packages: ${apt_missing[*]}" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${apt_missing[@]}" >/dev/null
fi

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip
.venv/bin/python -m pip install -q --disable-pip-version-check -e ".$2"
