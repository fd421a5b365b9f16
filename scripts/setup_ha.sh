#!/usr/bin/env bash
# Install Home Assistant core into a virtual environment of its own, .venv-ha,
# for the tests that run a real Home Assistant on 127.0.0.1 (scripts/setup.sh
# --test calls this; it is kept between runs).
#
#   scripts/setup_ha.sh [LOG]     # the pip output goes to LOG (default: stdout)
#
# Idempotent: when .venv-ha already holds the right version with the
# integrations the tests load, it does nothing.
# Why these steps (each was a real trap):
# - homeassistant 2024.3.3 is the last release for Python 3.11;
# - pip alone backtracks for minutes through old sdists: HA's own pins
#   (homeassistant/package_constraints.txt inside the wheel) are the constraints;
# - josepy<2, else the cloud component fails to import;
# - HA pip-installs integrations' requirements at first start: they are
#   pre-installed here and the tests run hass --skip-pip (offline);
# - frontend is critical: if it fails to import, HA starts in recovery mode,
#   listening on 0.0.0.0, so hass_frontend is checked here.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
version=2024.3.3
venv="$here/.venv-ha"
log=${1:-/dev/stdout}

check() {
    "$venv/bin/python" - "$version" <<'EOF' >/dev/null 2>&1
import sys
from homeassistant.const import __version__
import hass_frontend, hassil, home_assistant_intents, sqlalchemy, fnv_hash_fast, webrtc_noise_gain  # noqa
sys.exit(0 if __version__ == sys.argv[1] else 1)
EOF
}

if [[ -x "$venv/bin/python" ]] && check; then
    echo "Home Assistant $version already in $venv" >>"$log"
    exit 0
fi

python=${PYTHON:-python3}
[[ -x "$venv/bin/python" ]] || "$python" -m venv "$venv"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
pip=("$venv/bin/python" -m pip install --disable-pip-version-check)
"$venv/bin/python" -m pip download --disable-pip-version-check --no-deps \
    "homeassistant==$version" -d "$work" >>"$log" 2>&1
(cd "$work" && "$venv/bin/python" -m zipfile -e homeassistant-"$version"-*.whl unpacked >/dev/null)
constraints="$work/unpacked/homeassistant/package_constraints.txt"
# HA's own pins; pip's --constraint options add up with any global one.
"${pip[@]}" -c "$constraints" "homeassistant==$version" "josepy<2" \
    hassil home-assistant-intents home-assistant-frontend webrtc-noise-gain mutagen \
    ha-ffmpeg Pillow janus psutil-home-assistant securetar SQLAlchemy fnv-hash-fast \
    >>"$log" 2>&1
check || {
    echo "Home Assistant $version in $venv does not import (see $log)" >&2
    exit 1
}
echo "Home Assistant $version installed in $venv" >>"$log"
