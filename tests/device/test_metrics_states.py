"""The ``voice_agent_state`` metric knows every state the conversation can be in."""

from __future__ import annotations

from pathlib import Path

from prometheus_client import generate_latest

from agent.device.metrics import Metrics
from agent.device.turn import State


def shown(metrics: Metrics) -> str:
    """The state the metric reports now (the one set to 1)."""
    lines = generate_latest(metrics.registry).decode().splitlines()
    on = [line for line in lines if line.startswith("voice_agent_state{") and line.endswith(" 1.0")]
    assert len(on) == 1, on
    return on[0].split('voice_agent_state="')[1].split('"')[0]


def test_the_metric_walks_through_every_state() -> None:
    metrics = Metrics()
    before = "idle"
    # Every state there is, ringing too (a timer ringing while idle), in turn.
    for state in [*State, State.IDLE]:
        metrics.observe({"event": "state", "from": before, "to": state.value})
        assert shown(metrics) == state.value
        before = state.value


def test_ringing_is_shown_while_a_timer_rings() -> None:
    metrics = Metrics()
    metrics.observe({"event": "state", "from": "idle", "to": "ringing"})
    assert shown(metrics) == "ringing"
    metrics.observe({"event": "state", "from": "ringing", "to": "idle"})
    assert shown(metrics) == "idle"


def test_the_readme_names_every_state() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    row = next(line for line in readme.splitlines() if line.startswith("| `state` |"))
    assert [s.value for s in State if f"`{s.value}`" not in row] == []
