#!/usr/bin/env bash
# Install voice-agent as a system service (Raspberry Pi OS / Debian bookworm or trixie).
#
#   sudo scripts/install.sh                 # on the Pi, from a clone of the repository
#   scripts/install.sh --root /tmp/tree     # into a directory tree (tests, images)
#
# What it does, each step only when needed (a second run changes nothing
# the user owns; run it again after `git pull` to update):
#   - Debian packages: python3-venv python3-dev gcc portaudio19-dev espeak-ng
#     libsndfile1 libspeexdsp1 (echo cancellation) alsa-utils (skipped under --root unless --with-apt)
#   - the system user voice-agent (no login, groups audio and gpio)
#   - a virtual environment at /opt/voice-agent with this checkout installed
#   - /etc/voice-agent/config.yaml from config/agent.yaml, only if there is
#     none yet (mode 0640, group voice-agent); never overwritten
#   - /etc/systemd/system/voice-agent.service, enabled (not started)
#   - with --with-gateway: the cloud speech engines' packages (extras assemblyai,
#     aiola), /etc/voice-agent/gateway.yaml from config/gateway.yaml (only if
#     there is none yet; 0640, group voice-agent) and
#     /etc/systemd/system/voice-agent-gateway.service, enabled (not started)
#
# Options:
#   --root DIR     install below DIR instead of / (also: DESTDIR=DIR); no user
#                  is created and systemctl is not called
#   --with-apt     under --root, still install the Debian packages on this machine
#   --with-gateway also install the reference gateway as a service (see above)
#   --python PY    the Python to build the venv with (default: python3)
# Environment:
#   VOICE_AGENT_PIP_ARGS   extra arguments for every pip install (e.g. --find-links DIR)
set -euo pipefail

SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ROOT=${DESTDIR:-}
WITH_APT=0
WITH_GATEWAY=0
PYTHON=python3
USER_NAME=voice-agent
DEBS=(python3-venv python3-dev gcc portaudio19-dev espeak-ng libsndfile1 libspeexdsp1 alsa-utils)

say() { printf 'install: %s\n' "$*"; }
die() { printf 'install: error: %s\n' "$*" >&2; exit 1; }
# What apt and pip print goes to a log (outside any --root tree), as with setup.sh.
LOG=${VOICE_AGENT_INSTALL_LOG:-${TMPDIR:-/tmp}/voice-agent-install.log}
# quietly "what it does" command...: one line; the command's output in $LOG, and
# its last lines shown when it fails.
quietly() {
    local what=$1
    shift
    say "$what (output: $LOG)"
    if ! "$@" >>"$LOG" 2>&1; then
        printf 'install: error: %s failed; the last lines of %s:\n' "$what" "$LOG" >&2
        tail -n 15 "$LOG" | sed 's/^/    /' >&2
        exit 1
    fi
}

usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"; }

while (($#)); do
    case $1 in
        --root) ROOT=${2:?--root needs a directory}; shift ;;
        --root=*) ROOT=${1#--root=} ;;
        --with-apt) WITH_APT=1 ;;
        --with-gateway) WITH_GATEWAY=1 ;;
        --python) PYTHON=${2:?--python needs an interpreter}; shift ;;
        -h | --help) usage; exit 0 ;;
        *) usage >&2; exit 2 ;;
    esac
    shift
done
if [[ -n $ROOT ]]; then
    mkdir -p "$ROOT"
    ROOT=$(cd "$ROOT" && pwd)
    [[ $ROOT != / ]] || ROOT=""
fi

VENV=$ROOT/opt/voice-agent
ETC=$ROOT/etc/voice-agent
UNIT_DIR=$ROOT/etc/systemd/system
UNIT=voice-agent.service

[[ -f $SRC/pyproject.toml && -f $SRC/systemd/$UNIT ]] || die "run me from a voice-agent checkout ($SRC is not one)"
[[ -f $SRC/config/agent.yaml ]] || die "$SRC/config/agent.yaml is missing"
if ((WITH_GATEWAY)); then
    [[ -f $SRC/config/gateway.yaml && -f $SRC/systemd/voice-agent-gateway.service ]] ||
        die "$SRC has no config/gateway.yaml or systemd/voice-agent-gateway.service"
fi
if [[ -z $ROOT && $(id -u) -ne 0 ]]; then
    die "needs root to install the service: sudo $0 $*"
fi

systemd_running() { [[ -z $ROOT && -d /run/systemd/system ]]; }

# The group's numeric ID in the target's /etc/group, empty if it has none.
group_id() {
    if [[ -z $ROOT ]]; then
        getent group "$1" | cut -d: -f3
    elif [[ -f $ROOT/etc/group ]]; then
        awk -F: -v g="$1" '$1 == g { print $3 }' "$ROOT/etc/group"
    fi
}

# ---- Debian packages ---------------------------------------------------------
if [[ -n $ROOT ]] && ((!WITH_APT)); then
    say "under --root: not installing Debian packages (${DEBS[*]}); add --with-apt to install them on this machine"
else
    missing=()
    for p in "${DEBS[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    if ((${#missing[@]})); then
        quietly "updating the Debian package lists" apt-get update -qq
        quietly "installing Debian packages: ${missing[*]}" \
            env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
    else
        say "Debian packages present"
    fi
fi

# ---- the service user --------------------------------------------------------
if [[ -n $ROOT ]]; then
    say "under --root: not creating the user $USER_NAME (scripts/install.sh on the target does)"
else
    # The unit asks for both groups; a missing one would stop it at start.
    for g in audio gpio; do
        if [[ -z $(group_id "$g") ]]; then
            say "creating the group $g"
            groupadd --system "$g"
        fi
    done
    if ! id "$USER_NAME" >/dev/null 2>&1; then
        say "creating the system user $USER_NAME"
        useradd --system --user-group --groups audio,gpio \
            --home-dir /var/lib/voice-agent --no-create-home \
            --shell /usr/sbin/nologin --comment "voice-agent service" "$USER_NAME"
    else
        usermod --append --groups audio,gpio "$USER_NAME"
    fi
fi

# ---- the virtual environment -------------------------------------------------
command -v "$PYTHON" >/dev/null || die "$PYTHON not found (apt-get install python3)"
"$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' ||
    die "voice-agent needs Python 3.11 or newer (Raspberry Pi OS bookworm); $PYTHON is $("$PYTHON" --version 2>&1)"
want_version=$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
have_version=$("$VENV/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null || true)
if [[ $have_version != "$want_version" ]]; then
    # Missing, or made by another Python (an OS upgrade): build it afresh.
    [[ -z $have_version ]] || say "replacing the venv (Python $have_version -> $want_version)"
    rm -rf "$VENV"
    say "creating the venv $VENV (Python $want_version)"
    "$PYTHON" -m venv "$VENV"
fi
# shellcheck disable=SC2206  # VOICE_AGENT_PIP_ARGS is a list of words on purpose
pip=("$VENV/bin/python" -m pip install --disable-pip-version-check --no-input --quiet ${VOICE_AGENT_PIP_ARGS:-})
# openWakeWord 0.5.1 carries its models in the wheel; its metadata asks for
# tflite-runtime, which has no wheel for Python 3.12+. We only use its ONNX
# models on onnxruntime, so it goes in without its dependencies.
quietly "installing openwakeword 0.5.1 (pip)" "${pip[@]}" --no-deps "openwakeword==0.5.1"
# pip rebuilds and reinstalls a local directory every time, even at an
# unchanged version: `git pull && sudo scripts/install.sh` updates the code.
# --no-warn-conflicts: pip would otherwise end the first install with
# "ERROR: ... openwakeword 0.5.1 requires tflite-runtime ..., which is not
# installed" (scipy, scikit-learn, tqdm too), the dependencies left out on
# purpose above; it reads as a failed install. It only silences that report
# on what was installed before: pip still fails when voice-agent's own
# requirements cannot be met.
extras=gateway
if ((WITH_GATEWAY)); then extras=gateway,assemblyai,aiola; fi
quietly "installing voice-agent from $SRC (pip)" "${pip[@]}" --no-warn-conflicts "${SRC}[${extras}]"
[[ -x $VENV/bin/voice-agent ]] || die "pip did not install $VENV/bin/voice-agent"
if [[ -n $ROOT ]]; then
    # The tree is for /: its scripts must start /opt/voice-agent/bin/python,
    # not the build directory's (pip wrote $VENV into every shebang, and venv
    # into activate and pyvenv.cfg). grep -I leaves binaries alone.
    say "under --root: pointing the venv's scripts at /opt/voice-agent (where the tree goes)"
    grep -rlIZ --fixed-strings "$VENV" "$VENV/bin" "$VENV/pyvenv.cfg" |
        xargs -0 -r sed -i "s|$VENV|/opt/voice-agent|g"
fi

# ---- the configuration -------------------------------------------------------
gid=$(group_id "$USER_NAME")
install -d -m 0755 "$ETC"
# install_config EXAMPLE NAME: $ETC/NAME.yaml from config/EXAMPLE.yaml unless it
# exists (never overwritten), and the example itself as NAME.example.yaml.
install_config() {
    local example=$1 name=$2
    if [[ -e $ETC/$name.yaml ]]; then
        say "keeping the existing $ETC/$name.yaml"
        # Its content is never touched, but the service must be able to read it:
        # after an uninstall the group voice-agent may come back with a new ID.
        if [[ -n $gid && $(stat -c %g "$ETC/$name.yaml") != "$gid" ]]; then
            say "giving $ETC/$name.yaml to the group $USER_NAME so the service can read it"
            chgrp "$gid" "$ETC/$name.yaml"
        fi
    else
        say "writing $ETC/$name.yaml (from config/$example.yaml)"
        install -m 0640 "$SRC/config/$example.yaml" "$ETC/$name.yaml"
        if [[ -n $gid ]]; then chown "0:$gid" "$ETC/$name.yaml"; fi
    fi
    # The annotated example of this version, to compare with after an update.
    install -m 0644 "$SRC/config/$example.yaml" "$ETC/$name.example.yaml"
}
install_config agent config
if ((WITH_GATEWAY)); then install_config gateway gateway; fi

# ---- the systemd unit --------------------------------------------------------
install -d -m 0755 "$UNIT_DIR"
install_unit() {
    local unit=$1
    install -m 0644 "$SRC/systemd/$unit" "$UNIT_DIR/$unit"
    if systemd_running; then
        systemctl daemon-reload
        systemctl enable "$unit"
        # An update: a running service picks up the new code now.
        systemctl try-restart "$unit"
        say "$unit installed and enabled"
    else
        # No systemd to ask (a chroot, an image, --root): what `systemctl enable`
        # would do for WantedBy=multi-user.target.
        install -d -m 0755 "$UNIT_DIR/multi-user.target.wants"
        ln -sfn "/etc/systemd/system/$unit" "$UNIT_DIR/multi-user.target.wants/$unit"
        say "systemd is not running here: $unit installed and enabled, not started"
    fi
}
install_unit "$UNIT"
if ((WITH_GATEWAY)); then install_unit voice-agent-gateway.service; fi

if [[ -n $ROOT ]]; then
    cat <<EOF

voice-agent is installed below $ROOT, a tree for / (it runs as /opt/voice-agent).
Next steps, for the machine (or image) it goes to:
  1. Copy it to /:  sudo cp -a $ROOT/. /   (or add it to the image)
  2. There, as root: the user and groups the unit runs with (scripts/install.sh
     on the target makes them), then edit /etc/voice-agent/config.yaml
     (gateway.url at least) and check it:
     /opt/voice-agent/bin/voice-agent check-config /etc/voice-agent/config.yaml
  3. The unit is enabled in the tree: it starts at the next boot, or now with
     systemctl daemon-reload && systemctl start voice-agent;
     follow it with journalctl -u voice-agent -f
EOF
    if ((WITH_GATEWAY)); then
        echo "The gateway: /etc/voice-agent/gateway.yaml, then /opt/voice-agent/bin/voice-agent gateway --config /etc/voice-agent/gateway.yaml --check"
    fi
    exit 0
fi
cat <<EOF

voice-agent is installed in $VENV.
Next steps:
  1. Edit the configuration (gateway.url at least):  sudo nano $ETC/config.yaml
     Check it:  sudo $VENV/bin/voice-agent check-config $ETC/config.yaml
  2. Start it:  sudo systemctl start voice-agent
  3. Follow it: journalctl -u voice-agent -f
EOF
if ((WITH_GATEWAY)); then
    cat <<EOF
The gateway: edit $ETC/gateway.yaml (stt.engine; a cloud engine's key goes in a
file named by stt.<engine>.api_key_file), check it with
  sudo $VENV/bin/voice-agent gateway --config $ETC/gateway.yaml --check
then: sudo systemctl start voice-agent-gateway; journalctl -u voice-agent-gateway -f
EOF
fi
