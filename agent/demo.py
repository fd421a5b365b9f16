"""``voice-agent demo``: a whole conversation on one machine, no Pi, no cloud.

Starts the reference gateway on loopback, plays the bundled recording
(``agent/data/demo.wav``: "hey jarvis, set a timer" ... "five seconds" ...
"hey jarvis") through the real daemon in real time, and prints the
conversation as it happens: two turns, the timer ringing five seconds later,
and the wake word stopping it. The spoken replies go to a WAV file, and to the speaker too when
there is one.
"""

from __future__ import annotations

import logging
import sys
import tempfile
import threading
import time
import wave
from pathlib import Path
from typing import Any, TextIO

DEMO_WAV = Path(__file__).with_name("data") / "demo.wav"
TURNS = 2  # the recording holds a question and the answer to a follow-up, then the stop
TIME_LIMIT_S = 30.0


class ConversationPrinter:
    """An event sink that tells the story of the conversation as it happens."""

    def __init__(self, out: TextIO = sys.stdout) -> None:
        self.out = out
        self.t0 = time.monotonic()
        self.done = threading.Event()
        self.playbacks = 0
        self.stopped_by: str | None = None
        self.transcripts: list[str] = []
        self.replies: list[str] = []
        self.errors: list[str] = []
        self._end_of_speech: float | None = None
        self._reply_started: float | None = None
        self._lock = threading.Lock()

    def _say(self, text: str) -> None:
        with self._lock:
            self.out.write(f"[{time.monotonic() - self.t0:5.1f} s] {text}\n")
            self.out.flush()

    def emit(self, event: str, **f: Any) -> None:
        """Print the events a person cares about, with timings."""
        now = time.monotonic()
        if event == "connected":
            self._say(f"connected to the local gateway at {f.get('url')}")
        elif event == "wake":
            self._say(f"wake word '{f['model']}' (score {f['score']:.2f})")
        elif event == "listening" and f.get("reason") == "followup":
            self._say("listening for the answer (no wake word needed) ...")
        elif event == "listening":
            self._say("listening ...")
        elif event == "audio_end":
            self._end_of_speech = now
            self._say(f"end of speech ({f['reason']})")
        elif event == "transcript":
            self.transcripts.append(f["text"])
            lag = f", {now - self._end_of_speech:.2f} s after end of speech" if (
                self._end_of_speech) else ""
            conf = f.get("confidence")
            conf_text = f", confidence {conf:.2f}" if isinstance(conf, int | float) else ""
            self._say(f'heard: "{f["text"]}"{conf_text}{lag}')
        elif event == "text":
            self.replies.append(f["text"])
            question = "  (a question: it will listen again)" if f.get("prompt") else ""
            self._say(f'assistant: "{f["text"]}"{question}')
        elif event == "playback_start":
            self._reply_started = now
            self._say("reply audio ... (written to the replies file, not played)")
        elif event == "playback_end":
            took = f" ({now - self._reply_started:.1f} s)" if self._reply_started else ""
            self._say(f"reply done{took}")
            self.playbacks += 1
        elif event == "timer" and f.get("timer_event") == "started":
            self._say(f"the {f['name']} timer started (the gateway keeps it)")
        elif event == "announcement":
            self._say(f'announcement from the gateway: "{f["text"]}"')
        elif event == "timer" and f.get("timer_event") == "ringing":
            self._say(f"the {f['name']} timer is RINGING: the alarm and the announcement, "
                      "again and again until stopped ...")
        elif event == "timer" and f.get("timer_event") == "stopped":
            how = {"wake": "the wake word", "button": "the button"}.get(f["stopped_by"],
                                                                       f["stopped_by"])
            self._say(f"the {f['name']} timer stopped by {how} (no turn opened)")
            self.stopped_by = f["stopped_by"]
            self.done.set()
        elif event == "error":
            self.errors.append(f["message"])
            self._say(f"error ({f.get('source')}): {f['message']}")


def _speaker_present() -> bool:
    """Whether PortAudio has a default output device (quietly)."""
    try:
        from agent.audio.devices import list_devices
        from agent.audio.quiet import quiet_portaudio

        with quiet_portaudio():  # PortAudio's ALSA/JACK probing noise is not news
            return any(d.max_output_channels > 0 for d in list_devices())
    except Exception:
        return False


def _play_file(path: Path) -> None:
    from agent.audio.playback import Player
    from agent.audio.sinks import PyAudioSink

    done = threading.Event()
    player = Player(PyAudioSink("default"), on_finished=lambda _r, _i: done.set())
    try:
        player.start("demo")
        player.feed(path.read_bytes())
        player.finish()
        done.wait(60)
    finally:
        player.close()


def run_demo(out_dir: Path | None = None, *, play: bool = True) -> int:
    """Run the demo; 0 when the two turns, the ringing and its stop all happened."""
    from agent.config.load import parse_config
    from agent.device.daemon import Daemon
    from agent.gateway.in_thread import serve_in_thread

    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    out_dir = out_dir or Path(tempfile.mkdtemp(prefix="voice-agent-demo-"))
    out_dir.mkdir(parents=True, exist_ok=True)
    replies = out_dir / "replies.wav"
    with wave.open(str(DEMO_WAV)) as w:
        seconds = w.getnframes() / w.getframerate()
    print("voice-agent demo: a two-turn conversation with the local reference gateway,")
    print("  then the timer it set rings, and the wake word stops it")
    print(f"  input: {DEMO_WAV.name} ({seconds:.1f} s, played in real time as if spoken)")
    print("  gateway: pocketsphinx speech to text, espeak-ng text to speech, on 127.0.0.1")
    print(f"  output: the spoken replies go to {replies}, in real time; nothing plays meanwhile\n")

    gateway = serve_in_thread()
    printer = ConversationPrinter()
    settings = parse_config(
        {
            "gateway": {"url": gateway.url},
            "audio": {
                "input": {"file": str(DEMO_WAV), "realtime": True},
                "output": {"file": str(replies), "realtime": True},
            },
            "wake": {"models": ["hey_jarvis"]},
            "output": {"print": False},
            "log": {"level": "warning"},
            "control": {"socket": None},  # a running service may hold the default one
        },
        "demo",
    )
    try:
        daemon = Daemon(settings, events=printer)
        thread = threading.Thread(target=daemon.run, name="daemon", daemon=True)
        thread.start()
        finished = printer.done.wait(TIME_LIMIT_S)
        daemon.stop()
        thread.join(10)
    finally:
        gateway.stop()
    took = time.monotonic() - printer.t0
    print()
    if not finished:
        print(f"demo: the conversation did not complete within {TIME_LIMIT_S:.0f} s "
              f"(heard {printer.transcripts}, errors {printer.errors})")
        return 1
    stopped = printer.stopped_by or "nothing"
    how = {"wake": "wake word"}.get(stopped, stopped)
    print(f"demo: {TURNS} turns and a timer stopped by the {how} in {took:.1f} s."
          f" The spoken replies are in {replies}")
    if not play:
        print("demo: nothing was played (--no-play).")
    elif _speaker_present():
        print("demo: playing the replies on the default output device ...")
        _play_file(replies)
    else:
        print("demo: nothing was played: this machine has no speaker (PortAudio lists no "
              "output device). Copy the file to a machine with one to listen.")
    return 0
