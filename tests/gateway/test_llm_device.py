"""The whole chain with a language model: a real device process <-> a real gateway process
<-> the OpenAI-compatible stand-in, at ``log_level: debug``.

``voice-agent run`` listens to a WAV file paced in real time with two wake word
models (``hey_jarvis``, ``alexa``) and plays into a WAV file; ``voice-agent
gateway`` runs as its own process with ``dialog.engine: [skills, llm]`` and
``dialog.by_wake_word: {alexa: [llm]}``, its API key in a file, its log in a
file; the stand-in (tests/standins/openai_standin.py) answers from scripts.

1. "hey jarvis, what time is it": the skills answer; the model is never asked.
2. "alexa, why is the sky blue": the model answers in two sentences; the
   stand-in holds the second until the device has started playing the first.
   The answer ends with a question, so the device listens again.
3. "set a timer for five seconds", with no wake word: the follow-up keeps the
   word "alexa", so the model gets it (the skills would have answered it
   under the default chain); it calls ``set_timer``, and the timer rings on
   the device five seconds later.
The key is in no line of either log.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from daemon_process import Daemon, write_config
from speech import compose
from standins.openai_standin import KEY, MODEL, OpenAIStandIn, Script

ROOT = Path(__file__).resolve().parents[2]


def env() -> dict[str, str]:
    out = {k: v for k, v in os.environ.items() if k not in ("OPENAI_API_KEY", "NOTIFY_SOCKET")}
    return {**out, "PYTHONUNBUFFERED": "1"}


@pytest.fixture
def gateway(tmp_path: Path) -> Iterator[tuple[str, OpenAIStandIn, Path]]:
    """The stand-in and a gateway process: (url, stand-in, the gateway's log file)."""
    with OpenAIStandIn() as standin:
        (tmp_path / "openai.key").write_text(KEY + "\n")
        cfg = tmp_path / "gateway.yaml"
        cfg.write_text(yaml.safe_dump({
            "log_level": "debug",
            "stt": {"workers": 1},
            "dialog": {
                "engine": ["skills", "llm"],
                "by_wake_word": {"alexa": ["llm"]},
                "llm": {"base_url": standin.base_url, "api_key_file": "openai.key",
                        "model": MODEL, "timeout_s": 20},
            },
        }))
        log = tmp_path / "gateway.log"
        with open(log, "w") as err:
            proc = subprocess.Popen(
                [sys.executable, "-m", "agent.cli", "gateway", "--config", str(cfg),
                 "--port", "0"], cwd=ROOT, stdout=subprocess.PIPE, stderr=err, text=True,
                env=env())
        try:
            assert proc.stdout is not None
            m = re.search(r"listening on (ws://127\.0\.0\.1:\d+/)", proc.stdout.readline())
            assert m, log.read_text()[-2000:]
            yield m.group(1), standin, log
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                assert proc.wait(timeout=60) == 0
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
                raise


def test_device_gateway_and_model_time_question_follow_up_timer(
        tmp_path: Path, gateway: tuple[str, OpenAIStandIn, Path]) -> None:
    url, standin, log = gateway
    audio, _ = compose(tmp_path / "in.wav", [
        ("pause", 1.0), ("say", "hey jarvis"), ("pause", 0.3), ("say", "what time is it"),
        ("pause", 5.0),
        ("say", "alexa"), ("pause", 0.3), ("say", "why is the sky blue"), ("pause", 13.0),
        ("say", "set a timer for five seconds"), ("pause", 16.0),
    ])
    hold = threading.Event()
    standin.next(
        Script(pieces=["The sky is blue because ", "air scatters blue light. ",
                       "Shall I set a timer?"], hold=hold, hold_s=60),
        Script(pieces=[], tool_calls=[("set_timer", '{"seconds": 5}')]),
        Script(pieces=["Okay, five seconds from now."]),
    )
    out = tmp_path / "out.wav"
    cfg = write_config(tmp_path / "agent.yaml", url, audio, out,
                       wake={"models": ["hey_jarvis", "alexa"]},
                       listen={"followup_timeout_s": 12})
    device = Daemon(cfg, env())
    finished_when_heard: list[bool] = []
    try:
        # The second reply starts playing on the device while the model still "writes".
        device.wait_count("playback_start", 2, timeout=60)
        finished_when_heard.append(standin.requests[0].finished)
        hold.set()
        device.wait_count("playback_end", 3, timeout=60)  # "Okay, five seconds from now."
        device.wait_event("timer", timeout=60, timer_event="finished")  # it rings
        device.wait_event("announcement", timeout=30)
    finally:
        hold.set()
        rc = device.stop()
    assert rc == 0
    assert [e["model"] for e in device.of("wake")] == ["hey_jarvis", "alexa"]
    assert [e["reason"] for e in device.of("listening")] == ["wake", "wake", "followup"]
    texts = [e["text"] for e in device.of("text")]
    assert re.fullmatch(r"It is \d{1,2}:\d\d [AP]M\.", texts[0]), texts  # the skills
    assert texts[1] == "The sky is blue because air scatters blue light. Shall I set a timer?"
    assert texts[2] == "Okay, five seconds from now."
    # 1: no request for the time; 2: one for the question; 3: a tool round and the answer.
    assert len(standin.requests) == 3
    assert finished_when_heard == [False]
    follow = standin.requests[1]
    assert follow.tools[0] == "set_timer" and follow.user_texts[0] == standin.requests[0]\
        .user_texts[0]  # the question's turn is in the history of the follow-up
    assert follow.messages[-1]["role"] == "user"
    answer = standin.requests[2].messages
    assert answer[-1]["role"] == "tool" and "five-second" in answer[-1]["content"]
    timers = [(e["timer_event"], e["name"]) for e in device.of("timer")]
    assert ("started", "five-second") in timers and ("finished", "five-second") in timers
    assert device.of("announcement")[0]["text"] == "Your five-second timer is done."
    # The key went to the server, and into no log line, at debug level.
    assert all(r.headers["Authorization"] == f"Bearer {KEY}" for r in standin.requests)
    text = log.read_text()
    assert "DEBUG openai._base_client" in text  # the SDK's own debug lines are in the log
    assert KEY not in text and KEY[3:] not in text
    assert KEY not in Path(device.stderr.name).read_text()
