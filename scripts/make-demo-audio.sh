#!/usr/bin/env bash
# Regenerate agent/data/demo.wav, the recording `voice-agent demo` plays:
# "hey jarvis" + "set a timer", a pause long enough for the reply
# ("For how long?"), the follow-up answer "five seconds", then a long pause
# (the confirmation, and the timer ringing about five seconds later), and
# "hey jarvis" again, which stops the ringing.
# Needs espeak-ng and sox (Debian packages). The output is committed.
set -euo pipefail
out=${1:-"$(dirname "$0")/../agent/data/demo.wav"}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
say() { espeak-ng -v "$1" -s "$2" -w "$tmp/raw.wav" "$3"
        sox "$tmp/raw.wav" -r 16000 -c 1 -b 16 "$tmp/$4.wav"; }
say en-gb 140 "hey jarvis" wake
say en-gb 150 "set a timer" ask
say en-gb 150 "five seconds" answer
sox -n -r 16000 -c 1 -b 16 "$tmp/s1.wav" trim 0 1.0
sox -n -r 16000 -c 1 -b 16 "$tmp/s03.wav" trim 0 0.3
sox -n -r 16000 -c 1 -b 16 "$tmp/s5.wav" trim 0 5.0
sox -n -r 16000 -c 1 -b 16 "$tmp/s10.wav" trim 0 10.0
sox -n -r 16000 -c 1 -b 16 "$tmp/s3.wav" trim 0 3.0
sox "$tmp/s1.wav" "$tmp/wake.wav" "$tmp/s03.wav" "$tmp/ask.wav" "$tmp/s5.wav" \
    "$tmp/answer.wav" "$tmp/s10.wav" "$tmp/wake.wav" "$tmp/s3.wav" "$out"
soxi "$out" | grep -E 'Duration|Sample Rate'
