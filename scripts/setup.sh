#!/usr/bin/env bash
# Set up a development/demo checkout: Debian packages, a virtual environment
# at .venv, and the package installed into it (editable).
#
#   scripts/setup.sh           # runtime + reference gateway (enough for the demo)
#   scripts/setup.sh --test    # also the test and lint tools
#
# Idempotent: a second run installs nothing new. Needs root (or sudo) only
# when a Debian package is missing.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"

extras="gateway"
if [[ "${1:-}" == "--test" ]]; then
    extras="gateway,test"
fi

# Debian packages: PortAudio headers for PyAudio (no Linux wheel), a compiler
# and Python headers for it, espeak-ng for speech, sox for test audio,
# libsndfile for decoding WAV/Ogg replies, alsa-utils for arecord/aplay.
debs=(python3-venv python3-dev gcc portaudio19-dev espeak-ng sox libsndfile1 alsa-utils)
missing=()
for p in "${debs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
    echo "setup: installing Debian packages: ${missing[*]}"
    sudo_cmd=()
    if [[ $(id -u) -ne 0 ]]; then sudo_cmd=(sudo); fi
    "${sudo_cmd[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq "${missing[@]}" >/dev/null
fi

python=${PYTHON:-python3}
if [[ ! -x .venv/bin/python ]]; then
    echo "setup: creating .venv with $($python --version)"
    "$python" -m venv .venv
fi
pip=(.venv/bin/python -m pip install --quiet --disable-pip-version-check)

# openWakeWord 0.5.1 carries its models in the wheel; its metadata asks for
# tflite-runtime, which has no wheel for Python 3.12+. We never use TFLite,
# so install it without its dependencies on every Python.
"${pip[@]}" --no-deps "openwakeword==0.5.1"
# --no-warn-conflicts: pip would report openwakeword's deliberately missing
# dependencies (tflite-runtime, SciPy...) as an ERROR line after a good install.
"${pip[@]}" --no-warn-conflicts -e ".[${extras}]"
echo "setup: ready ($(.venv/bin/python --version), extras: ${extras})"
