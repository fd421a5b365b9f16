#!/usr/bin/env bash
# Set up a development/demo checkout: Debian packages, a virtual environment
# at .venv, and the package installed into it (editable).
#
#   scripts/setup.sh           # runtime + reference gateway (enough for the demo)
#   scripts/setup.sh --test    # also the test and lint tools (shellcheck, systemd-analyze)
#                              # and Home Assistant core in .venv-ha (scripts/setup_ha.sh)
#
# Idempotent: a second run installs nothing new. Needs root (or sudo) only
# when a Debian package is missing. Prints one line per step; what apt and pip
# say goes to .venv-setup.log (named when a step fails).
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"

extras="gateway,assemblyai,aiola"
test_mode=0
if [[ "${1:-}" == "--test" ]]; then
    extras="gateway,assemblyai,aiola,test"
    test_mode=1
fi

log="$here/.venv-setup.log"
: >"$log"
started=$SECONDS

# step "what it does" command...: one line, the command's output in the log.
step() {
    local what=$1
    shift
    local t0=$SECONDS
    printf 'setup: %s ... ' "$what"
    if "$@" >>"$log" 2>&1; then
        printf 'done (%d s)\n' $((SECONDS - t0))
    else
        local rc=$?
        printf 'FAILED (exit %d)\n' "$rc"
        echo "setup: the output of that step is in $log; its last lines:" >&2
        tail -n 15 "$log" | sed 's/^/    /' >&2
        exit "$rc"
    fi
}

# Debian packages: PortAudio headers for PyAudio (no Linux wheel), a compiler
# and Python headers for it, espeak-ng for speech, sox for test audio,
# libsndfile for decoding WAV/Ogg replies, libspeexdsp for echo cancellation,
# alsa-utils for arecord/aplay.
# For the tests: shellcheck (the shell scripts), systemd (systemd-analyze
# checks the units; nothing is started) and mosquitto with its clients (the
# MQTT hook example of docs/hooks.md runs against a broker the test starts
# on 127.0.0.1; on a machine run by systemd, the package's own broker
# service listens on localhost only).
debs=(python3-venv python3-dev gcc portaudio19-dev espeak-ng sox libsndfile1 libspeexdsp1 alsa-utils)
if ((test_mode)); then
    debs+=(shellcheck systemd mosquitto mosquitto-clients)
fi
missing=()
for p in "${debs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
    sudo_cmd=()
    if [[ $(id -u) -ne 0 ]]; then sudo_cmd=(sudo); fi
    step "updating the Debian package lists" "${sudo_cmd[@]}" apt-get update
    step "installing Debian packages: ${missing[*]}" \
        env DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y "${missing[@]}"
else
    echo "setup: Debian packages already installed"
fi

python=${PYTHON:-python3}
if [[ ! -x .venv/bin/python ]]; then
    step "creating .venv with $($python --version)" "$python" -m venv .venv
fi
pip=(.venv/bin/python -m pip install --disable-pip-version-check)

# openWakeWord 0.5.1 carries its models in the wheel; its metadata asks for
# tflite-runtime, which has no wheel for Python 3.12+. We never use TFLite,
# so install it without its dependencies on every Python.
step "installing openwakeword 0.5.1 (its models; --no-deps)" "${pip[@]}" --no-deps "openwakeword==0.5.1"
# --no-warn-conflicts: pip would report openwakeword's deliberately missing
# dependencies (tflite-runtime, SciPy...) as an ERROR line after a good install.
step "installing voice-agent and its Python packages (extras: ${extras})" \
    "${pip[@]}" --no-warn-conflicts -e ".[${extras}]"
if ((test_mode)); then
    # The tests run a real Home Assistant (its own venv, .venv-ha, kept between runs).
    step "installing Home Assistant core for the tests into .venv-ha" bash scripts/setup_ha.sh
fi
echo "setup: ready in $((SECONDS - started)) s ($(.venv/bin/python --version), extras: ${extras}; log: $log)"
