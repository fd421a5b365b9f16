"""The gateway's parts without a server: phrases, skills, endpointer, settings, TTS, STT engine."""

from __future__ import annotations

import asyncio
import re
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
from gateway_support import RATE, recording, silence, spoken

from agent.common.settings_values import ConfigError
from agent.gateway.dialog.builtin import default_skills, parse_duration, say_duration
from agent.gateway.dialog.skills import Dialog, Reply, Request, Skills
from agent.gateway.dialog.timer import NoTimerBook
from agent.gateway.grammar import Grammar, PatternError, normalize
from agent.gateway.settings import (
    GatewaySettings,
    load_gateway_settings,
    parse_gateway_settings,
)
from agent.gateway.stt.endpoint import FRAME, Endpointer, speech_mask
from agent.gateway.timers.alarms import Book, TimerService
from agent.gateway.timers.store import TimerStore
from agent.gateway.tts import Espeak, TtsError, parse_wav

ROOT = Path(__file__).resolve().parents[2]

# --- phrases ----------------------------------------------------------------


def test_phrase_patterns_give_jsgf_and_the_exact_sentences() -> None:
    g = Grammar(
        {"n": "one | two"},
        {"timer": ["(set | start) a timer [for <n> minutes]"], "hi": ["hello [there]"]},
    )
    assert g.sentences("timer") == {
        "set a timer",
        "start a timer",
        "set a timer for one minutes",
        "set a timer for two minutes",
        "start a timer for one minutes",
        "start a timer for two minutes",
    }
    assert g.match("Set a timer for 2 minutes!", ["hi", "timer"]) == "timer"
    assert g.match("set a timer for three minutes", ["timer"]) is None
    jsgf = g.jsgf(["timer", "hi"], "test")
    assert jsgf.startswith("#JSGF V1.0;\ngrammar test;\npublic <utterance> = ")
    assert "<n> = (one | two);" in jsgf


@pytest.mark.parametrize("bad", ["(a | b", "a ]", "a | | b", "<nope>", "what's $up"])
def test_bad_patterns_are_refused(bad: str) -> None:
    with pytest.raises(PatternError):
        Grammar({}, {"x": [bad]}).jsgf(["x"])


def test_normalize() -> None:
    assert normalize("  What's the TIME?? ") == "what's the time"
    assert normalize("Set a timer for 5 minutes.") == "set a timer for five minutes"


# --- skills -------------------------------------------------------------------


def test_adding_a_skill_is_one_decorated_function() -> None:
    skills = Skills()

    @skills.skill("weather", phrases=["what is the weather [like]"], keywords=r"\bweather\b")
    def weather(req: Request) -> Reply:
        return Reply("Sunny.")

    assert "(what is the weather [(like)])" in skills.searches()["main"]
    d = Dialog()
    assert skills.respond("What is the weather like?", d).skill == "weather"
    assert skills.respond("how is the weather in Paris", d).reply.text == "Sunny."  # keyword
    assert skills.respond("open the door", d).skill == "fallback"


def with_timers(owner: str = "kitchen") -> Dialog:
    """A dialog with a real timer book (in-memory store), as a gateway connection has."""
    d = Dialog()
    d.timers = Book(TimerService(TimerStore(None), 900), owner)
    return d


def test_timer_dialog_keeps_state_until_answered() -> None:
    skills, d = default_skills(), with_timers()
    now = datetime(2024, 5, 17, 9, 5)
    first = skills.respond("set a timer", d, now)
    assert (first.skill, first.reply.prompt, d.pending) == ("timer", True, "timer")
    assert skills.search_for(d) == "followup_timer"
    confused = skills.respond("banana", d, now)  # not understood: asked again, once
    assert confused.skill == "timer" and confused.reply.prompt is True
    done = skills.respond("for half an hour", d, now)
    assert "thirty minutes" in done.reply.text and done.reply.prompt is False
    assert done.reply.timer is not None and done.reply.timer["seconds"] == 1800
    assert [card["id"] for card, _ in d.timers.running()] == [done.reply.timer["id"]]
    assert d.pending is None and skills.search_for(d) == "main"


def test_timer_dialog_gives_up_or_is_cancelled() -> None:
    skills = default_skills()
    d = with_timers()
    skills.respond("set a timer", d)
    skills.respond("banana", d)
    assert skills.respond("banana", d).reply.prompt is False and d.pending is None
    skills.respond("start a timer", d)
    assert skills.respond("never mind", d).skill == "cancel" and d.pending is None


def test_a_timer_skill_with_no_book_is_a_set_up_error() -> None:
    # No "Okay, a timer for ..., starting now." for a timer that would never ring.
    skills, d = default_skills(), Dialog()
    with pytest.raises(NoTimerBook, match="dialog.timers"):
        skills.respond("set a timer for five seconds", d)
    with pytest.raises(NoTimerBook):
        skills.respond("how much time is left", d)


def test_builtin_answers() -> None:
    skills, d = default_skills(), Dialog()
    now = datetime(2024, 5, 17, 15, 7)
    assert skills.respond("what time is it", d, now).reply.text == "It is 3:07 PM."
    assert skills.respond("what is the date", d, now).reply.text == "Today is Friday, May 17, 2024."
    assert skills.respond("repeat after me the cat sat", d).reply.text == "the cat sat"
    assert skills.respond("", d).reply.text == "Sorry, I didn't hear anything."
    card = skills.respond("mute", d).reply.card
    assert card == {"type": "command", "content": {"feature": "volume", "action": "mute"}}


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("five minutes", 300),
        ("for a second", 1),
        ("half an hour", 1800),
        ("forty five seconds", 45),
        ("ninety minutes", 5400),
        ("soon", None),
    ],
)
def test_durations(text: str, seconds: int | None) -> None:
    assert parse_duration(text) == seconds
    if seconds is not None:
        assert parse_duration(say_duration(seconds)) == seconds


# --- endpointer ---------------------------------------------------------------


@pytest.mark.parametrize("name", ["speech_hi", "speech_do_you_have_a_pool"])
def test_endpoint_is_the_same_in_any_chunk_sizes(name: str) -> None:
    pcm = recording(name)
    ends = []
    for size in (len(pcm), 3200, 999, 160):
        ep = Endpointer(silence_ms=700)
        hits = [e for i in range(0, len(pcm), size) if (e := ep.feed(pcm[i : i + size]))]
        ends.append((hits, ep.speech_start))
    assert all(e == ends[0] for e in ends)
    hits, start = ends[0]
    assert len(hits) == 1 and start is not None and start < hits[0] < len(pcm) // 2


def test_endpoint_comes_after_the_trailing_silence_in_audio_time() -> None:
    speech = spoken("what time is it", lead_s=0.5, trail_s=0.0)
    ep = Endpointer(silence_ms=700)
    assert ep.feed(speech) is None  # no silence yet
    end = ep.feed(silence(2.0))
    assert ep.speech_end is not None and ep.speech_start is not None
    assert ep.speech_start == pytest.approx(0.5 * RATE, abs=2 * FRAME)
    assert end == ep.speech_end + 35 * FRAME  # 700 ms of 20 ms frames


def test_silence_and_noise_are_not_speech() -> None:
    rng = np.random.default_rng(1)
    noise = (rng.standard_normal(5 * RATE) * 300).astype("<i2").tobytes()  # steady fan noise
    for pcm in (silence(5), noise):
        ep = Endpointer()
        assert ep.feed(pcm) is None and ep.speech_start is None
        assert not speech_mask(pcm).any()


# --- settings -----------------------------------------------------------------


def test_the_example_file_documents_the_defaults() -> None:
    assert load_gateway_settings(ROOT / "config" / "gateway.yaml") == GatewaySettings()


@pytest.mark.parametrize(
    ("yaml_text", "message"),
    [
        ("prot: 1", "prot: unknown key; did you mean port?"),
        ("port: high", "port: expected a whole number between 0 and 65535, got 'high'"),
        ("reply: {form: nodejs}", "reply.form: expected one of auto, standard, node, got 'nodejs'"),
        ("stt: {engine: vosk}", "stt.engine: expected one of pocketsphinx"),
        ("tts: {voice: '-x'}", "tts.voice: expected an espeak-ng voice name"),
        ("host: 0.0.0.0", "tls.cert: binding to 0.0.0.0 (not loopback) needs tls.cert"),
        ("tls: {cert: nope.pem}", "tls.cert: expected a readable file"),
        ("limits: {max_utterance_s: 0}", "limits.max_utterance_s: expected a duration"),
        ("endpointing: {enabled: yes}", "endpointing.enabled: expected true or false"),
        ("reply: {pace: fast}", "reply.pace: expected a multiple of real time (0: unpaced)"),
        ("reply: {pace: -1}", "reply.pace: expected a multiple of real time (0: unpaced)"),
    ],
)
def test_bad_settings_name_their_key(tmp_path: Path, yaml_text: str, message: str) -> None:
    path = tmp_path / "gw.yaml"
    path.write_text(yaml_text + "\n")
    with pytest.raises(ConfigError) as err:
        load_gateway_settings(path)
    assert str(err.value).startswith(f"{path}: ")
    assert message in str(err.value)
    assert err.value.exit_code == 78


def test_non_loopback_needs_tls_and_a_token(tmp_path: Path) -> None:
    (tmp_path / "c.pem").write_text("x")
    (tmp_path / "k.pem").write_text("x")
    (tmp_path / "t").write_text("secret")
    tls = {"cert": "c.pem", "key": "k.pem"}
    with pytest.raises(ConfigError, match="auth.token_file: binding to 192.0.2.1"):
        parse_gateway_settings({"host": "192.0.2.1", "tls": tls}, "f", tmp_path)
    with pytest.raises(ConfigError, match="tls.key: expected both"):
        parse_gateway_settings({"tls": {"cert": "c.pem"}}, "f", tmp_path)
    ok = parse_gateway_settings(
        {"host": "192.0.2.1", "tls": tls, "auth": {"token_file": "t"}}, "f", tmp_path
    )
    assert ok.tls.cert == str(tmp_path / "c.pem") and ok.auth.required
    assert parse_gateway_settings({"host": "::1"}, "f").host == "::1"  # loopback: open is fine


def test_a_token_never_appears_in_errors_or_repr() -> None:
    with pytest.raises(ConfigError) as err:
        parse_gateway_settings({"auth": {"token": 12345678}}, "f")
    assert "12345678" not in str(err.value)
    s = parse_gateway_settings({"auth": {"token": "hunter2"}}, "f")
    assert "hunter2" not in repr(s)


# --- text to speech -------------------------------------------------------------


def test_espeak_reply_is_16k_mono_pcm() -> None:
    pcm = asyncio.run(Espeak().synthesize("Hello there, this is a test.", "en-gb", 160))
    seconds = len(pcm) / 2 / RATE
    assert 1.0 < seconds < 4.0 and len(pcm) % 2 == 0
    levels = np.abs(np.frombuffer(pcm, "<i2"))
    assert levels.max() > 5000  # speech, not silence


def test_espeak_failures_are_tts_errors() -> None:
    with pytest.raises(TtsError, match="cannot run"):
        asyncio.run(Espeak(binary="no-such-espeak").synthesize("hi"))
    with pytest.raises(TtsError, match="not a WAV"):
        parse_wav(b"OggS" + bytes(40))


# --- speech to text engine (in this process) ------------------------------------


@pytest.fixture(scope="module")
def engine():  # noqa: ANN201 - a PocketsphinxEngine
    from agent.gateway.stt.factory import create_engine

    skills = default_skills()
    return create_engine("pocketsphinx", skills.searches(), skills.pronunciations)


def test_same_audio_same_result_whatever_came_before(engine) -> None:  # noqa: ANN001
    pool = recording("speech_do_you_have_a_pool")
    first = engine.transcribe(pool, "main")
    engine.transcribe(spoken("set a timer", "en-gb"), "main")
    engine.transcribe(recording("negative_office_talk_34s")[: 5 * 2 * RATE], "main")
    again = engine.transcribe(pool, "main")
    assert (first.text, first.confidence, first.source) == (
        again.text,
        again.confidence,
        again.source,
    )
    assert first.text == "do you have a pool" and first.source == "grammar"
    # Less of the room noise after the words, or more silence: the same answer.
    shorter = engine.transcribe(pool[: int(2.3 * RATE) * 2], "main")
    assert (shorter.text, shorter.source) == (first.text, first.source)
    timer = [engine.transcribe(spoken("set a timer", trail_s=t), "main") for t in (0.8, 6.0)]
    assert timer[0].text == timer[1].text == "set a timer"


def test_speech_outside_the_grammar_falls_back_to_the_language_model(engine) -> None:  # noqa: ANN001
    result = engine.transcribe(spoken("turn on the kitchen lights"), "main")
    assert result.source == "lm" and result.text  # the general model's guess
    assert default_skills().classify(result.text, Dialog())[0] is None  # -> polite fallback


def test_nothing_to_hear(engine) -> None:  # noqa: ANN001
    result = engine.transcribe(silence(2), "main")
    assert result.text == "" and result.source == "none" and result.confidence == 0.0


def test_config_file_mentions_every_key() -> None:
    text = (ROOT / "config" / "gateway.yaml").read_text()
    for key in (
        "host",
        "port",
        "cert",
        "key",
        "token",
        "token_file",
        "engine",
        "workers",
        "no_speech_s",
        "voice",
        "speed",
        "form",
        "chunk_ms",
        "pace",
        "enabled",
        "silence_ms",
        "max_connections",
        "max_message_bytes",
        "max_utterance_s",
        "transaction_timeout_s",
        "idle_timeout_s",
        "max_errors",
        "log_level",
    ):
        # Each key is there, and documented: a comment on its own line.
        lines = [line for line in text.splitlines() if re.match(rf"\s*{key}:", line)]
        assert lines, key
        assert all("#" in line.partition(":")[2] for line in lines), key


def test_the_server_refuses_an_open_non_loopback_bind_however_built() -> None:
    from agent.gateway.server import Gateway

    with pytest.raises(ConfigError, match="not loopback"):
        Gateway(GatewaySettings(host="0.0.0.0", port=0))


def test_timers_are_named_as_people_say_them() -> None:
    from agent.gateway.dialog.timer import timer_name

    assert [timer_name(s) for s in (5, 45, 300, 1800, 3600)] == [
        "five-second", "forty-five-second", "five-minute", "thirty-minute", "one-hour"
    ]
    skills, d = default_skills(), with_timers()
    assert skills.respond("set a timer for five seconds", d).reply.timer["name"] == "five-second"
    left = skills.respond("how much time is left on the five second timer", d).reply.text
    assert left.startswith("The five-second timer has ")
    # A timer kept from before (its name unhyphenated) is still found by name.
    d.timers.start(600, "ten minute")
    gone = skills.respond("cancel the ten minute timer", d).reply.text
    assert gone == "Okay, the ten minute timer is cancelled."
