#!/usr/bin/env bash
# Remove what scripts/install.sh installed.
#
#   sudo scripts/uninstall.sh            # stop and remove the service, venv and user
#   sudo scripts/uninstall.sh --purge    # also /etc/voice-agent and /var/lib/voice-agent
#   scripts/uninstall.sh --root DIR      # from a directory tree (also: DESTDIR=DIR)
#
# The configuration in /etc/voice-agent is kept unless --purge is given.
# The groups audio and gpio stay: other software uses them.
set -euo pipefail

ROOT=${DESTDIR:-}
PURGE=0
USER_NAME=voice-agent
UNIT=voice-agent.service

say() { printf 'uninstall: %s\n' "$*"; }
die() { printf 'uninstall: error: %s\n' "$*" >&2; exit 1; }

while (($#)); do
    case $1 in
        --root) ROOT=${2:?--root needs a directory}; shift ;;
        --root=*) ROOT=${1#--root=} ;;
        --purge) PURGE=1 ;;
        -h | --help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"; exit 0 ;;
        *) die "unknown argument: $1 (see --help)" ;;
    esac
    shift
done
if [[ -n $ROOT ]]; then
    [[ -d $ROOT ]] || die "--root $ROOT: no such directory"
    ROOT=$(cd "$ROOT" && pwd)
    [[ $ROOT != / ]] || ROOT=""
fi
if [[ -z $ROOT && $(id -u) -ne 0 ]]; then
    die "needs root: sudo $0 $*"
fi

UNIT_DIR=$ROOT/etc/systemd/system

for unit in "$UNIT" voice-agent-gateway.service; do
    [[ -e $UNIT_DIR/$unit || $unit == "$UNIT" ]] || continue
    if [[ -z $ROOT && -d /run/systemd/system ]]; then
        systemctl disable --now "$unit" 2>/dev/null || true
    fi
    rm -f "$UNIT_DIR/multi-user.target.wants/$unit" "$UNIT_DIR/$unit"
    if [[ -z $ROOT && -d /run/systemd/system ]]; then
        systemctl daemon-reload
        systemctl reset-failed "$unit" 2>/dev/null || true
    fi
    say "removed the unit $unit"
done
rmdir --ignore-fail-on-non-empty "$UNIT_DIR/multi-user.target.wants" 2>/dev/null || true

rm -rf "$ROOT/opt/voice-agent"
say "removed $ROOT/opt/voice-agent"

if [[ -n $ROOT ]]; then
    say "under --root: the user $USER_NAME is left alone"
elif id "$USER_NAME" >/dev/null 2>&1; then
    userdel "$USER_NAME"
    say "removed the user $USER_NAME"
fi

if ((PURGE)); then
    rm -rf "$ROOT/etc/voice-agent" "$ROOT/var/lib/voice-agent" "$ROOT/var/lib/voice-agent-gateway"
    say "purged $ROOT/etc/voice-agent and $ROOT/var/lib/voice-agent"
elif [[ -d $ROOT/etc/voice-agent ]]; then
    say "kept the configuration in $ROOT/etc/voice-agent (remove it with --purge)"
fi
