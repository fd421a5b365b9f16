"""``voice-agent gateway --check`` with Wyoming servers, as a real process against the stand-ins."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from standins.wyoming_standin import VOICES, WyomingStandIn, free_port

ROOT = Path(__file__).resolve().parents[2]


def check(cfg: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "agent.cli", "gateway", "--config", str(cfg),
                           "--check"], cwd=ROOT, capture_output=True, text=True, timeout=120)


def config(tmp_path: Path, stt_uri: str, tts_uri: str, voice: str = VOICES[0]) -> Path:
    cfg = tmp_path / "gateway.yaml"
    cfg.write_text(
        f"stt:\n  engine: wyoming\n  wyoming:\n    uri: {stt_uri}\n    timeout_s: 3\n"
        f"tts:\n  engine: wyoming\n  wyoming:\n    uri: {tts_uri}\n    voice: {voice}\n"
        f"    timeout_s: 3\n")
    return cfg


def test_check_prints_what_each_server_offers(tmp_path: Path) -> None:
    with WyomingStandIn("asr", streaming=True) as asr, WyomingStandIn("tts") as tts:
        done = check(config(tmp_path, asr.uri, tts.uri))
    assert done.returncode == 0, done.stdout + done.stderr
    # One service each in --check's list (issue 24): their lines, in its format.
    lines = [line for line in done.stdout.splitlines() if ".wyoming" in line.split()[1]]
    assert lines == [
        f"OK   stt.wyoming {asr.uri}: standin-asr 1.0: models tiny-int8 "
        "[en, de]; streaming transcripts yes, needs external VAD yes",
        f"OK   tts.wyoming {tts.uri}: standin-tts 1.0: voices "
        f"{VOICES[0]} [en_US]; {VOICES[1]} [en_GB] speakers p1, p2; "
        "streaming synthesis no",
    ]


def test_check_fails_with_the_fix_when_a_server_is_down_or_lacks_the_voice(
    tmp_path: Path,
) -> None:
    down = f"tcp://127.0.0.1:{free_port()}"
    with WyomingStandIn("tts") as tts:
        done = check(config(tmp_path, down, tts.uri, voice="en_US-amy-low"))
    assert done.returncode == 1
    out = done.stdout
    assert f"FAIL stt.wyoming {down}: cannot connect to {down}" in out
    assert "(fix: is it running? e.g. `wyoming-faster-whisper --uri tcp://0.0.0.0:10300" in out
    assert "FAIL tts.wyoming voice: 'en_US-amy-low' is not among its voices (fix: use one of: " \
        f"{VOICES[1]}, {VOICES[0]})" in out


class Collected:
    """A per-service check's lines (what --check's Steps would hold)."""

    def __init__(self) -> None:
        self.lines: list[tuple[str, bool, str, str | None]] = []

    def add(self, name: str, ok: bool, detail: str, fix: str | None = None) -> bool:
        self.lines.append((name, ok, detail, fix))
        return ok


def test_the_per_service_checks_give_the_same_lines() -> None:
    from agent.gateway.check_wyoming import (
        check_stt_wyoming,
        check_tts_wyoming,
        stt_unused,
        tts_unused,
    )
    from agent.gateway.settings import GatewaySettings, SttSettings, TtsSettings
    from agent.gateway.wyoming_settings import WyomingSttSettings, WyomingTtsSettings

    assert stt_unused(GatewaySettings()) and tts_unused(GatewaySettings())
    with WyomingStandIn("asr") as asr:
        settings = GatewaySettings(
            stt=SttSettings(engine="wyoming", wyoming=WyomingSttSettings(uri=asr.uri)),
            tts=TtsSettings(engine="wyoming", wyoming=WyomingTtsSettings(
                uri=f"tcp://127.0.0.1:{free_port()}", timeout_s=2)))
        assert stt_unused(settings) is None and tts_unused(settings) is None
        stt, tts = Collected(), Collected()
        check_stt_wyoming(settings, "gw.yaml", stt)
        check_tts_wyoming(settings, "gw.yaml", tts)
    assert stt.lines == [(asr.uri, True, "standin-asr 1.0: models tiny-int8 [en, de]; "
                          "streaming transcripts no, needs external VAD yes", None)]
    ((name, ok, detail, fix),) = tts.lines
    assert not ok and "cannot connect" in detail and fix and "wyoming-piper" in fix
