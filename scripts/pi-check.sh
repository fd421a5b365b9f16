#!/usr/bin/env bash
# Prove voice-agent on the Raspberry Pi's own architecture (arm64), on any
# Debian/Ubuntu x86-64 machine, through qemu-user-static and binfmt_misc.
#
#   sudo scripts/pi-check.sh                 # the whole check on bookworm (root built once, then cached)
#   sudo scripts/pi-check.sh --suite trixie  # the same on trixie (Python 3.13)
#   sudo scripts/pi-check.sh --prepare       # only build and cache the arm64 root
#   scripts/pi-check.sh --dry-run            # print the plan, touch nothing
#
# It builds (once per suite) a Debian arm64 root with debootstrap (bookworm,
# Python 3.11, or trixie, Python 3.13: the two bases of Raspberry Pi OS),
# caches it as a tarball, then on every run unpacks it afresh, copies this checkout and the
# test recordings in, and inside it, emulating a Cortex-A72 (Pi 4):
# runs scripts/install.sh --with-gateway as a Pi user would (real apt, real
# pip, no systemd running), validates the installed configuration, runs the
# wake word models on recordings, makes one whole turn against the reference
# gateway, proves each cloud speech engine loads and answers a transaction
# against the tests' stand-ins, and verifies the installed systemd units. One line per step with its time and
# result; the exit status is non-zero when any step fails.
#
# Emulated inference runs several times slower than real time, so only
# recordings are used; real-time speed, audio hardware and GPIO need a Pi.
set -euo pipefail

SUITE=bookworm
# The suites Raspberry Pi OS is built on, with the Python each ships.
declare -A SUITE_PYTHON=([bookworm]=3.11 [trixie]=3.13)
ARCH=arm64
QEMU_CPU_MODEL=cortex-a72
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE_DIR=${VOICE_AGENT_PI_CACHE:-/var/cache/voice-agent-pi-check}
WORK_PARENT=${VOICE_AGENT_PI_WORKDIR:-/var/tmp}
AUDIO_DIR=${VOICE_AGENT_PI_AUDIO:-$HERE/tests/data/audio}
# Inside the root: where the checkout and the recordings land (a clone in
# the pi user's home, and the recordings beside it).
IN_SRC=/home/pi/voice-agent
IN_AUDIO=/home/pi/test-audio
IN_WORK=/tmp/pi-check
GATEWAY_PORT=${VOICE_AGENT_PI_PORT:-}  # default: 18765 for bookworm, 18766 for trixie
# Generous limits: everything inside runs under emulation.
STEP_TIMEOUT=${VOICE_AGENT_PI_STEP_TIMEOUT:-1800}
# The recordings the steps use (from AUDIO_DIR).
RECORDINGS=(wake_alexa.wav wake_hey_mycroft.wav negative_office_talk_34s.wav
    speech_do_you_have_a_pool.wav)
TURN_HEARD="do you have a pool"  # what the turn's question must be heard as, exactly
TURN_REPLY_MIN_BYTES=100000      # its spoken answer is ~141 kB of 16 kHz WAV (4.4 s)
GATEWAY_START_S=${VOICE_AGENT_PI_GATEWAY_START_S:-600}  # emulated: its workers load slowly

MIRROR=""
REBUILD=0
PREPARE_ONLY=0
KEEP=0
DRY_RUN=0
ROOT=""      # the unpacked arm64 root of this run
WORK=""      # this run's scratch directory (holds ROOT and the log)
LOG=""
GATEWAY_PID=""
FAILED=0

usage() {
    cat <<EOF
Usage: $(basename "$0") [options]

Check voice-agent inside an emulated Debian $ARCH root (a Pi 4 CPU).
Needs root (debootstrap, chroot, mounts) and network access to the Debian
mirror and PyPI.

Options:
  --suite NAME   bookworm (Python 3.11, the default) or trixie (Python 3.13);
                 each suite has its own cached root and downloads
  --mirror URL   Debian mirror (default: the one this machine's apt sources name)
  --cache DIR    where the root tarballs and package caches live
                 (default: $CACHE_DIR)
  --audio DIR    the test recordings (default: the checkout's tests/data/audio)
  --rebuild      build the root with debootstrap even when a cached one exists
  --prepare      only build (or refresh) the cached root, then stop
  --keep         keep the unpacked root after the run (mounts are still undone)
  --dry-run      print the plan and exit without changing anything
  -h, --help     this text
EOF
}

log() { printf 'pi-check: %s\n' "$*" >&2; }
die() { log "$*"; exit 2; }

# ---------------------------------------------------------------- mounts
# Every mount point below DIR (DIR itself included), deepest first.
mounts_below() {
    local dir
    dir=$(realpath -m "$1")
    findmnt -rn -o TARGET | awk -v d="$dir" '$0 == d || index($0, d "/") == 1' | sort -r
}

# Undo every mount below DIR, deepest first; lazily when a process still
# holds one. Returns non-zero when something is still mounted afterwards.
unmount_below() {
    local dir=$1 m
    while read -r m; do
        [[ -n $m ]] || continue
        umount "$m" 2>/dev/null || umount -l "$m" || log "could not unmount $m"
    done < <(mounts_below "$dir")
    [[ -z $(mounts_below "$dir") ]]
}

# rm -rf a root, but only after proving nothing is mounted below it, so a
# bound host directory can never be deleted through it.
safe_remove_root() {
    local dir=$1
    [[ -n $dir && -d $dir ]] || return 0
    if ! unmount_below "$dir"; then
        log "NOT removing $dir: still mounted below it:"
        mounts_below "$dir" >&2
        return 1
    fi
    rm -rf --one-file-system "$dir"
}

# Processes running inside ROOT (started by this run): stop them so the
# mounts can be undone.
kill_inside_root() {
    local root=$1 p r
    [[ -n $root && -d $root ]] || return 0
    root=$(realpath "$root")
    for p in /proc/[0-9]*; do
        r=$(readlink "$p/root" 2>/dev/null) || continue
        if [[ $r == "$root" ]]; then
            kill "${p#/proc/}" 2>/dev/null || true
        fi
    done
}

# /proc and a private /dev/pts and /dev/shm. The device nodes themselves were
# made by debootstrap inside the root (mknod), so the host's /dev is never
# bound in. /sys is deliberately NOT mounted: onnxruntime's CPU detection
# reads the host's cache layout there and crashes under qemu.
mount_root_fs() {
    local root=$1
    mount -t proc proc "$root/proc"
    mkdir -p "$root/dev/pts" "$root/dev/shm"
    mount -t devpts -o newinstance,ptmxmode=0666,mode=620 devpts "$root/dev/pts"
    mount -t tmpfs -o mode=1777,size=256m shm "$root/dev/shm"
}

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    if [[ -n $GATEWAY_PID ]]; then kill "$GATEWAY_PID" 2>/dev/null || true; fi
    if [[ -n $ROOT && -d $ROOT ]]; then
        kill_inside_root "$ROOT"
        sleep 0.5
        unmount_below "$ROOT" || rc=1
    fi
    if [[ -n $WORK && -d $WORK ]]; then
        if ((KEEP)); then
            log "kept the root at $ROOT (log: $LOG)"
        elif [[ -n $ROOT ]] && ! safe_remove_root "$ROOT"; then
            rc=1
        else
            # keep the log of a failed run
            if ((FAILED == 0 && rc == 0)); then rm -rf "$WORK"; else log "log kept at $LOG"; fi
        fi
    fi
    exit "$rc"
}

# ---------------------------------------------------------------- helpers
# The first Debian mirror this machine's apt sources name (deb822 .sources
# first, then one-line .list files) in the apt directory $1.
host_mirror() {
    local apt=$1 f uri=""
    for f in "$apt"/sources.list.d/*.sources; do
        [[ -f $f ]] || continue
        uri=$(awk 'tolower($1) == "uris:" { for (i = 2; i <= NF; i++) if ($i ~ /\/debian\/?$/) { print $i; exit } }' "$f")
        [[ -n $uri ]] && break
    done
    if [[ -z $uri ]]; then
        for f in "$apt"/sources.list "$apt"/sources.list.d/*.list; do
            [[ -f $f ]] || continue
            uri=$(awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /\/debian\/?$/) { print $i; exit } }' "$f")
            [[ -n $uri ]] && break
        done
    fi
    echo "${uri:-http://deb.debian.org/debian}"
}

cache_tarball() {
    if command -v zstd >/dev/null; then
        echo "$CACHE_DIR/$SUITE-$ARCH.tar.zst"
    else
        echo "$CACHE_DIR/$SUITE-$ARCH.tar.gz"
    fi
}

# apt's .debs and pip's cache kept between runs, one directory per suite:
# the suites' packages and wheels (cp311, cp313) differ.
download_cache() { echo "$CACHE_DIR/$SUITE-$ARCH"; }

# Run a command inside the root as root with a clean environment (no host pip
# settings leak in), emulating a Pi 4 CPU. The host's CA bundle is passed to
# pip because HTTPS may be intercepted on the way to PyPI.
in_root() {
    timeout --kill-after=30 "$STEP_TIMEOUT" chroot "$ROOT" /usr/bin/env -i \
        PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
        HOME=/root LANG=C.UTF-8 TERM=dumb DEBIAN_FRONTEND=noninteractive \
        QEMU_CPU="$QEMU_CPU_MODEL" PIP_CERT=/etc/ssl/pi-check-host-ca.crt \
        "$@"
}

# ---------------------------------------------------------------- steps
# Each step writes its key figure to $WORK/figure and returns non-zero on
# failure; its output goes to the log.
figure() { printf '%s' "$*" >"$WORK/figure"; }

step_host() {
    local need=()
    command -v debootstrap >/dev/null || need+=(debootstrap)
    [[ -e /usr/libexec/qemu-binfmt/aarch64-binfmt-P ]] || need+=(qemu-user-static)
    command -v update-binfmts >/dev/null || need+=(binfmt-support)
    if ((${#need[@]})); then
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}"
    fi
    if [[ ! -e /proc/sys/fs/binfmt_misc/status ]]; then
        mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
    fi
    update-binfmts --enable qemu-aarch64 || true
    grep -q '^enabled' /proc/sys/fs/binfmt_misc/qemu-aarch64
    # F flag: the interpreter is opened now, so the root needs no copy of it.
    grep -q '^flags: .*F' /proc/sys/fs/binfmt_misc/qemu-aarch64
    figure "$(qemu-aarch64-static --version | head -n1), binfmt enabled"
}

build_root() {
    local dest=$1 tarball tmp
    tarball=$(cache_tarball)
    log "debootstrap $SUITE $ARCH from $MIRROR"
    # What Raspberry Pi OS Lite already has: python3, CA certificates, systemd.
    debootstrap --arch="$ARCH" --variant=minbase \
        --include=python3,ca-certificates,systemd,systemd-sysv,passwd,procps \
        "$SUITE" "$dest" "$MIRROR"
    unmount_below "$dest"  # debootstrap undoes its mounts, unless it was interrupted
    printf 'deb %s %s main\ndeb %s %s-updates main\n' "$MIRROR" "$SUITE" "$MIRROR" "$SUITE" \
        >"$dest/etc/apt/sources.list"
    echo voice-agent-pi >"$dest/etc/hostname"
    rm -rf "$dest"/var/cache/apt/archives/*.deb
    mkdir -p "$CACHE_DIR"
    tmp="$tarball.partial"
    if [[ $tarball == *.zst ]]; then
        tar --numeric-owner --one-file-system -C "$dest" -cpf - . | zstd -T0 -q -f -o "$tmp"
    else
        tar --numeric-owner --one-file-system -C "$dest" -czpf "$tmp" .
    fi
    mv -f "$tmp" "$tarball"
    echo "$SUITE $ARCH $MIRROR built $(date -u +%FT%TZ)" >"$CACHE_DIR/$SUITE-$ARCH.stamp"
}

step_root() {
    local tarball
    tarball=$(cache_tarball)
    mkdir -p "$ROOT"
    if ((PREPARE_ONLY && !REBUILD)) && [[ -f $tarball ]]; then
        figure "already cached: $tarball ($(cat "$CACHE_DIR/$SUITE-$ARCH.stamp" 2>/dev/null))"
        return 0
    fi
    if ((REBUILD)) || [[ ! -f $tarball ]]; then
        build_root "$ROOT"
        figure "built with debootstrap from $MIRROR, cached as $tarball ($(du -h "$tarball" | cut -f1))"
    else
        if [[ $tarball == *.zst ]]; then
            zstd -dc -T0 "$tarball" | tar --numeric-owner -C "$ROOT" -xpf -
        else
            tar --numeric-owner -C "$ROOT" -xzpf "$tarball"
        fi
        figure "unpacked $tarball ($(du -h "$tarball" | cut -f1); $(cat "$CACHE_DIR/$SUITE-$ARCH.stamp" 2>/dev/null))"
    fi
}

step_copy() {
    local src_desc
    mkdir -p "$ROOT$IN_SRC" "$ROOT$IN_AUDIO" "$ROOT$IN_WORK"
    if git -C "$HERE" rev-parse --git-dir >/dev/null 2>&1; then
        # Tracked and untracked-but-not-ignored files that exist: this working
        # tree as a clone would have it once committed, without .venv or caches.
        (cd "$HERE" && git ls-files -z --cached --others --exclude-standard \
            | while IFS= read -r -d '' f; do if [[ -e $f ]]; then printf '%s\0' "$f"; fi; done \
            | tar --null -T - -cf -) | tar -C "$ROOT$IN_SRC" -xf -
        src_desc="$(git -C "$HERE" rev-parse --short HEAD)$(git -C "$HERE" diff --quiet HEAD 2>/dev/null || echo '+changes')"
    else
        tar -C "$HERE" --exclude=.venv --exclude=.git --exclude=__pycache__ \
            --exclude='*.egg-info' --exclude=build -cf - . | tar -C "$ROOT$IN_SRC" -xf -
        src_desc="tree"
    fi
    cp -a "$AUDIO_DIR"/. "$ROOT$IN_AUDIO"/
    cp -L /etc/resolv.conf "$ROOT/etc/resolv.conf"
    cp -L /etc/ssl/certs/ca-certificates.crt "$ROOT/etc/ssl/pi-check-host-ca.crt"
    # Downloads kept from earlier runs (apt's .debs, pip's cache): apt and pip
    # still do all their work, they just need not fetch the same files again.
    local dl
    dl=$(download_cache)
    if [[ -d $dl/debs ]]; then
        cp -a "$dl/debs/." "$ROOT/var/cache/apt/archives/"
    fi
    if [[ -d $dl/pip ]]; then
        mkdir -p "$ROOT/root/.cache"
        cp -a "$dl/pip" "$ROOT/root/.cache/pip"
    fi
    figure "source $src_desc, $(find "$ROOT$IN_AUDIO" -name '*.wav' | wc -l) recordings"
    local clip
    for clip in "${RECORDINGS[@]}"; do
        [[ -s $ROOT$IN_AUDIO/$clip ]] || { echo "missing recording: $AUDIO_DIR/$clip"; return 1; }
    done
}

step_arch() {
    local m py
    m=$(in_root uname -m)
    py=$(in_root python3 -c 'import platform; print(platform.machine(), platform.python_version())')
    figure "uname -m: $m; python3: $py; QEMU_CPU=$QEMU_CPU_MODEL"
    # The suite's own Python: the check is about that version.
    [[ $m == aarch64 && $py == "aarch64 ${SUITE_PYTHON[$SUITE]}."* ]]
}

step_install() {
    local dl
    dl=$(download_cache)
    in_root bash "$IN_SRC/scripts/install.sh" --with-gateway
    # Save the downloads for the next run.
    mkdir -p "$dl/debs" "$dl/pip"
    cp -a "$ROOT"/var/cache/apt/archives/*.deb "$dl/debs/" 2>/dev/null || true
    if [[ -d $ROOT/root/.cache/pip ]]; then
        cp -a "$ROOT/root/.cache/pip/." "$dl/pip/"
    fi
    [[ -x $ROOT/opt/voice-agent/bin/voice-agent ]]
    [[ -f $ROOT/etc/systemd/system/voice-agent.service ]]
    [[ -L $ROOT/etc/systemd/system/multi-user.target.wants/voice-agent.service ]]
    in_root id voice-agent
    [[ $(in_root stat -c '%a %U %G' /etc/voice-agent/config.yaml) == "640 root voice-agent" ]]
    [[ -L $ROOT/etc/systemd/system/multi-user.target.wants/voice-agent-gateway.service ]]
    [[ $(in_root stat -c '%a %U %G' /etc/voice-agent/gateway.yaml) == "640 root voice-agent" ]]
    figure "$(in_root /opt/voice-agent/bin/python -c 'import importlib.metadata as m, platform; print("voice-agent", m.version("voice-agent"), "onnxruntime", m.version("onnxruntime"), "pymicro-wakeword", m.version("pymicro-wakeword"), "numpy", m.version("numpy"), "python-socketio", m.version("python-socketio"), "aiohttp", m.version("aiohttp"), "on Python", platform.python_version(), platform.machine())'); units enabled, not started"
}

step_check_config() {
    in_root /opt/voice-agent/bin/voice-agent check-config --config /etc/voice-agent/config.yaml \
        >"$WORK/check-config.out"
    cat "$WORK/check-config.out"
    figure "/etc/voice-agent/config.yaml valid (mode $(in_root stat -c '%a %U:%G' /etc/voice-agent/config.yaml))"
}

# grpcio (the Diatheke dialog back end) came in with install.sh's [gateway]
# extra: an aarch64 wheel, its C core loads, and the project's generated
# Diatheke messages round-trip on this protobuf. wyoming (the Wyoming speech
# servers' library, same extra) imports too (on Python 3.13 without audioop).
step_grpc() {
    local out
    out=$(in_root /opt/voice-agent/bin/python -c '
import grpc, google.protobuf
from agent.gateway.dialog.diatheke.pb import diatheke2_pb2 as pb
msg = pb.SessionOutput(action_list=[pb.ActionData(input=pb.WaitForUserAction())])
assert pb.SessionOutput.FromString(msg.SerializeToString()) == msg
grpc.insecure_channel("127.0.0.1:9").close()
import importlib.metadata, wyoming.audio, wyoming.client
import agent.gateway.stt.wyoming, agent.gateway.tts.wyoming
print("grpcio", grpc.__version__, "protobuf", google.protobuf.__version__,
      "wyoming", importlib.metadata.version("wyoming"))')
    echo "$out"
    [[ $out == grpcio* ]]
    figure "$out"
}

# `voice-agent detect` prints one line per detection ("  0.52 s  alexa  score
# 0.994") and a summary ("1 detection in 0.62 s of audio (...)").
detect_clip() {
    local clip=$1 expect=$2 out="$WORK/detect-$1.out" n scores
    shift 2
    in_root /opt/voice-agent/bin/voice-agent detect "$@" "$IN_AUDIO/$clip" >"$out" || {
        cat "$out"
        figure "$clip: voice-agent detect failed"
        return 1
    }
    cat "$out"
    n=$(sed -nE 's/^([0-9]+) detections? in .*/\1/p' "$out")
    [[ -n $n ]] || return 1
    scores=$(awk '$2 == "s" && $4 == "score" { printf "%s%s %s", sep, $3, $5; sep = ", " }' "$out")
    if [[ $expect == some ]]; then
        ((n > 0)) || return 1
        figure "$clip: $scores"
    else
        ((n == 0)) || { figure "$clip: unexpected $scores"; return 1; }
        figure "$clip: 0 detections ($(sed -nE 's/.*\(models: ([^;]*);.*/\1/p' "$out"))"
    fi
}

step_detect_alexa() { detect_clip wake_alexa.wav some --model alexa; }
step_detect_mycroft() { detect_clip wake_hey_mycroft.wav some --model hey_mycroft; }
# Every built-in wake word model on 34 s of talk without one.
step_detect_negative() { detect_clip negative_office_talk_34s.wav none; }
# microWakeWord (pymicro-wakeword's aarch64 wheel: its TFLite C library needs glibc
# 2.35, bookworm has 2.36): both wake clips detected, nothing in the talk clip.
step_detect_micro() {
    local got=()
    # Called plainly (no `|| return`): errexit stays on inside detect_clip.
    detect_clip wake_alexa.wav some --engine micro --model alexa
    got+=("$(cat "$WORK/figure")")
    detect_clip wake_hey_mycroft.wav some --engine micro --model hey_mycroft
    got+=("$(cat "$WORK/figure")")
    detect_clip negative_office_talk_34s.wav none --engine micro \
        --model alexa --model hey_jarvis --model hey_mycroft --model okay_nabu
    got+=("$(cat "$WORK/figure")")
    figure "micro: ${got[0]}; ${got[1]}; ${got[2]}"
}

# The turn's gateway: GATEWAY_PID is the background shell running in_root,
# whose child `timeout` passes a SIGTERM on to the gateway itself (killing
# the shell alone left the gateway running, and holding its port).
stop_gateway() {
    [[ -n ${GATEWAY_PID:-} ]] || return 0
    pkill -TERM -P "$GATEWAY_PID" 2>/dev/null || true
    kill "$GATEWAY_PID" 2>/dev/null || true
    wait "$GATEWAY_PID" 2>/dev/null || true
    GATEWAY_PID=""
}

step_turn() {
    local w=$IN_WORK out="$WORK/turn.out"
    # One utterance: silence, the wake word, a question, then silence for the
    # end of speech. Made inside with the root's own Python (stdlib only).
    in_root python3 - "$IN_AUDIO/wake_hey_mycroft.wav" "$IN_AUDIO/speech_do_you_have_a_pool.wav" "$w/turn.wav" <<'PY'
import sys, wave
parts = []
for path in sys.argv[1:3]:
    with wave.open(path, "rb") as f:
        assert (f.getframerate(), f.getnchannels(), f.getsampwidth()) == (16000, 1, 2), path
        parts.append(f.readframes(f.getnframes()))
silence = lambda s: b"\0\0" * int(16000 * s)
with wave.open(sys.argv[3], "wb") as out:
    out.setnchannels(1); out.setsampwidth(2); out.setframerate(16000)
    out.writeframes(silence(1.0) + parts[0] + silence(0.3) + parts[1] + silence(3.0))
PY
    cat >"$ROOT$w/turn.yaml" <<EOF
gateway:
  url: ws://127.0.0.1:$GATEWAY_PORT
audio:
  input: {file: $w/turn.wav, realtime: false}
  output: {file: $w/reply.wav, realtime: false}
wake:
  models: [hey_mycroft]
sounds: {wake: null, done: null, error: null}
log: {format: json, level: info}
EOF
    in_root /opt/voice-agent/bin/voice-agent gateway --host 127.0.0.1 --port "$GATEWAY_PORT" \
        >"$WORK/gateway.out" 2>&1 &
    GATEWAY_PID=$!
    local waited=0 rc=0
    # The gateway listens once its speech-to-text workers have loaded.
    until (exec 3<>"/dev/tcp/127.0.0.1/$GATEWAY_PORT") 2>/dev/null; do
        if ! kill -0 "$GATEWAY_PID" 2>/dev/null || ((waited >= GATEWAY_START_S * 2)); then
            cat "$WORK/gateway.out"
            figure "the gateway did not listen within $((waited / 2)) s"
            stop_gateway
            return 1
        fi
        sleep 0.5
        waited=$((waited + 1))
    done
    in_root /opt/voice-agent/bin/voice-agent run --config "$w/turn.yaml" >"$out" || rc=$?
    stop_gateway
    echo "--- the gateway's log"
    cat "$WORK/gateway.out"
    echo "--- the daemon's events"
    if ((rc != 0)); then
        cat "$out"
        figure "voice-agent run failed (exit $rc)"
        return 1
    fi
    cat "$out"
    turn_verdict "$out" "$ROOT$w/reply.wav"
}

# Judge one turn from the daemon's JSON events (OUT) and the reply it wrote
# (REPLY): the wake word fired, exactly one transcript and it is
# TURN_HEARD, a response, no error, and more than TURN_REPLY_MIN_BYTES of
# reply audio. The figure says what happened either way.
turn_verdict() {
    local out=$1 reply=$2 heard bytes=0 errors latency
    heard=$(sed -nE 's/.*"event": *"transcript".*"text": *"([^"]*)".*/\1/p' "$out")
    if [[ -f $reply ]]; then bytes=$(stat -c %s "$reply"); fi
    errors=$(sed -nE 's/.*"event": *"error".*"message": *"([^"]*)".*/\1/p' "$out" | paste -sd';' -)
    # The device's own clock, both in one process: audio_end to the first reply sample played.
    latency=$(awk '/"event": *"(audio_end|playback_start)"/ {
            match($0, /"ts": *[0-9.]+/); t = substr($0, RSTART, RLENGTH); sub(/.*: */, "", t)
            if ($0 ~ /audio_end/ && !e) e = t; else if ($0 ~ /playback_start/ && e && !p) p = t
        } END { if (e && p) printf "%.1f s", p - e; else printf "none" }' "$out")
    figure "transcript: ${heard//$'\n'/ | }; reply $bytes bytes; end of speech to reply audio: $latency${errors:+; errors: $errors}"
    grep -q '"event": *"wake"' "$out"
    [[ $heard == "$TURN_HEARD" ]]
    grep -q '"event": *"response"' "$out"
    [[ -z $errors ]]
    ((bytes > TURN_REPLY_MIN_BYTES))
}

# Each cloud engine (assemblyai, aiola) through the installed gateway code
# against the tests' stand-ins inside the root: the engines' packages load on
# arm64 and a transaction gets the stand-in's transcript, no session left open.
step_engines() {
    local out="$WORK/engines.out"
    in_root /opt/voice-agent/bin/python -I "$IN_SRC/scripts/engine-check.py" >"$out" 2>&1 || {
        cat "$out"
        return 1
    }
    cat "$out"
    in_root /opt/voice-agent/bin/voice-agent gateway --config /etc/voice-agent/gateway.yaml \
        --check >>"$out"
    local answered
    answered=$(grep -c ' OK ' "$out" || true)
    figure "$answered of 2 engines answered; gateway --check on the installed settings passed"
    ((answered == 2))
}

step_unit() {
    local out unit
    for unit in voice-agent.service voice-agent-gateway.service; do
        # verify only warns (exit 0) about unknown directives: any output fails.
        out=$(in_root systemd-analyze verify "/etc/systemd/system/$unit" 2>&1)
        echo "$out"
        [[ -z $out ]]
        [[ $(readlink "$ROOT/etc/systemd/system/multi-user.target.wants/$unit") == */$unit ]]
    done
    figure "systemd-analyze verify clean on both units; both enabled in multi-user.target"
}

# install.sh again, as after `git pull`: the user exists, the config stays.
step_reinstall() {
    local before out="$WORK/reinstall.out"
    echo "# edited on the Pi" >>"$ROOT/etc/voice-agent/config.yaml"
    before=$(sha256sum <"$ROOT/etc/voice-agent/config.yaml")
    in_root bash "$IN_SRC/scripts/install.sh" --with-gateway >"$out"
    cat "$out"
    grep -q "keeping the existing /etc/voice-agent/config.yaml" "$out"
    [[ $(sha256sum <"$ROOT/etc/voice-agent/config.yaml") == "$before" ]]
    [[ $(in_root stat -c '%a %U %G' /etc/voice-agent/config.yaml) == "640 root voice-agent" ]]
    in_root /opt/voice-agent/bin/voice-agent --help >/dev/null
    figure "the edited /etc/voice-agent/config.yaml kept (640 root:voice-agent); the venv still runs"
}

STEPS=(host root copy arch install check_config grpc detect_alexa detect_mycroft detect_negative detect_micro turn engines unit reinstall)
# Later steps make no sense without these.
ESSENTIAL=" host root copy install "

describe() {
    case $1 in
        host) echo "qemu-user-static, binfmt_misc and debootstrap on this machine" ;;
        root) echo "Debian $SUITE $ARCH root: unpack $(cache_tarball), or debootstrap from $MIRROR and cache it" ;;
        copy) echo "copy $HERE (working tree, no .venv) to $IN_SRC and $AUDIO_DIR to $IN_AUDIO" ;;
        arch) echo "uname -m and python3 inside report aarch64, Python ${SUITE_PYTHON[$SUITE]} (QEMU_CPU=$QEMU_CPU_MODEL)" ;;
        install) echo "scripts/install.sh --with-gateway inside: apt, user voice-agent, venv /opt/voice-agent with the engines' extras, configs, units enabled" ;;
        check_config) echo "voice-agent check-config --config /etc/voice-agent/config.yaml" ;;
        grpc) echo "grpcio and the Diatheke messages import and round-trip inside, wyoming and the Wyoming engines import (installed by the [gateway] extra)" ;;
        detect_alexa) echo "voice-agent detect on wake_alexa.wav: expect an alexa detection" ;;
        detect_mycroft) echo "voice-agent detect on wake_hey_mycroft.wav: expect a hey_mycroft detection" ;;
        detect_negative) echo "voice-agent detect on the 34 s talk clip: expect no detection" ;;
        detect_micro) echo "voice-agent detect --engine micro (microWakeWord): alexa and hey_mycroft clips detected, none in the talk clip" ;;
        turn) echo "one turn: wake word + question from a file (realtime: false) against voice-agent gateway inside: heard exactly '$TURN_HEARD', a reply over $TURN_REPLY_MIN_BYTES bytes, no error" ;;
        engines) echo "scripts/engine-check.py inside: assemblyai and aiola each answer a transaction against the stand-ins" ;;
        unit) echo "systemd-analyze verify on the installed units (device and gateway)" ;;
        reinstall) echo "scripts/install.sh again (an update): config kept, nothing broken" ;;
    esac
}

elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

# What a step reads of the run's state (set by main before the steps run).
STATE=(SUITE SUITE_PYTHON RECORDINGS TURN_HEARD TURN_REPLY_MIN_BYTES GATEWAY_START_S
    ARCH QEMU_CPU_MODEL HERE CACHE_DIR WORK_PARENT AUDIO_DIR IN_SRC
    IN_AUDIO IN_WORK GATEWAY_PORT STEP_TIMEOUT MIRROR REBUILD PREPARE_ONLY KEEP ROOT WORK LOG)

# Inside a step's own process: errexit on, so every command of the step
# that fails fails it, and the check that failed is named in the log.
step_main() {
    STEP_NAME=$1
    set -eEuo pipefail
    trap 'echo "pi-check: step $STEP_NAME: check failed: $BASH_COMMAND" >&2' ERR
    "step_$STEP_NAME"
}

# Run step NAME in a bash process of its own, with this script's state and
# functions. Not a subshell: bash ignores errexit in everything run under an
# `if`, `!`, `&&` or `||`, subshells and `set -e` inside them included, so
# main's `if ! run_step` made every check but a step's last command count for
# nothing (a turn that heard nothing passed). A new process starts outside
# any such context, whoever calls run_step and however.
step_process() {
    bash -c "$(declare -p "${STATE[@]}")
$(declare -f)
step_main \"\$1\"" pi-check-step "$1"
}

run_step() {
    local name=$1 t0 t1 rc=0 result fig
    : >"$WORK/figure"
    printf '\n===== %s: %s\n' "$name" "$(describe "$name")" >>"$LOG"
    t0=$EPOCHREALTIME
    step_process "$name" >>"$LOG" 2>&1 || rc=$?
    t1=$EPOCHREALTIME
    fig=$(cat "$WORK/figure")
    if ((rc == 0)); then result=PASS; else result=FAIL; FAILED=$((FAILED + 1)); fi
    printf '%-16s %7ss  %s  %s\n' "$name" "$(elapsed "$t0" "$t1")" "$result" "$fig"
    if ((rc != 0)); then
        tail -n 15 "$LOG" | sed 's/^/    | /'
    fi
    return "$rc"
}

main() {
    while (($#)); do
        case $1 in
            --suite) [[ $# -ge 2 ]] || { usage >&2; return 2; }; SUITE=$2; shift ;;
            --suite=*) SUITE=${1#--suite=} ;;
            --mirror) MIRROR=$2; shift ;;
            --cache) CACHE_DIR=$2; shift ;;
            --audio) AUDIO_DIR=$2; shift ;;
            --rebuild) REBUILD=1 ;;
            --prepare) PREPARE_ONLY=1 ;;
            --keep) KEEP=1 ;;
            --dry-run) DRY_RUN=1 ;;
            -h | --help) usage; return 0 ;;
            *) usage >&2; return 2 ;;
        esac
        shift
    done
    if [[ -z $SUITE || -z ${SUITE_PYTHON[$SUITE]+set} ]]; then
        log "unknown suite '$SUITE' (bookworm or trixie)"
        usage >&2
        return 2
    fi
    [[ -n $MIRROR ]] || MIRROR=$(host_mirror /etc/apt)
    # Its own port per suite, so a bookworm and a trixie check can run at once
    # (a chroot shares the host's network).
    if [[ -z $GATEWAY_PORT ]]; then
        if [[ $SUITE == bookworm ]]; then GATEWAY_PORT=18765; else GATEWAY_PORT=18766; fi
    fi
    local steps=("${STEPS[@]}") s
    if ((PREPARE_ONLY)); then steps=(host root); fi

    if ((DRY_RUN)); then
        echo "pi-check plan (dry run: nothing is changed)"
        echo "  suite:  Debian $SUITE $ARCH, Python ${SUITE_PYTHON[$SUITE]}"
        echo "  mirror: $MIRROR"
        echo "  cache:  $(cache_tarball) ($([[ -f $(cache_tarball) ]] && echo present || echo absent: will be built))"
        echo "  downloads: $(download_cache)/debs and $(download_cache)/pip"
        echo "  audio:  $AUDIO_DIR"
        echo "  work:   a new directory under $WORK_PARENT, removed afterwards"
        for s in "${steps[@]}"; do printf '  %-16s %s\n' "$s" "$(describe "$s")"; done
        return 0
    fi

    [[ $(id -u) -eq 0 ]] || die "needs root (debootstrap, chroot and mounts): sudo $0"
    [[ -d $AUDIO_DIR ]] || die "no test recordings at $AUDIO_DIR (use --audio DIR)"
    WORK=$(mktemp -d "$WORK_PARENT/voice-agent-pi-check.XXXXXX")
    ROOT=$WORK/root
    LOG=$WORK/pi-check.log
    trap cleanup EXIT
    trap 'exit 130' INT TERM
    log "log: $LOG"

    local t_start=$EPOCHREALTIME
    for s in "${steps[@]}"; do
        if ! run_step "$s" && [[ $ESSENTIAL == *" $s "* ]]; then
            log "step $s failed: stopping"
            break
        fi
        if [[ $s == root ]] && ((!PREPARE_ONLY)); then mount_root_fs "$ROOT"; fi
    done
    printf '%-16s %7ss  %s\n' total "$(elapsed "$t_start" "$EPOCHREALTIME")" \
        "$( ((FAILED == 0)) && echo PASS || echo "FAIL ($FAILED step(s))")"
    ((FAILED == 0))
}

# Sourced (tests), only the functions are defined. Run, everything above is
# parsed before main starts, and exit follows at once: editing this file
# during a run cannot change the running script.
if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
    main "$@"
    exit $?
fi
