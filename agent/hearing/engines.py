"""Wake engines: which one runs a model, and building their scorers.

Two engines score 80 ms frames: openWakeWord (:class:`agent.hearing.oww.OwwScorer`)
and microWakeWord (:class:`agent.hearing.micro.MicroScorer`). A model's file
type picks its engine (``.onnx``: openWakeWord; ``.json``, or ``.tflite`` with
a ``.json`` manifest beside it: microWakeWord); a built-in name only one engine
has (``hey_rhasspy``, ``timer``, ``weather``; ``okay_nabu``) runs there; the
names both have (``alexa``, ``hey_jarvis``, ``hey_mycroft``) run on the
configured engine (``wake.engine``, openWakeWord by default).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Literal, Protocol

import numpy as np

from agent.hearing.micro import BUILTIN_MICRO_MODELS, MicroModelError, MicroScorer, resolve_micro
from agent.hearing.models import BUILTIN_MODELS, WakeModelError, resolve_model
from agent.hearing.oww import OwwScorer

Engine = Literal["openwakeword", "micro"]
ENGINES: tuple[Engine, ...] = ("openwakeword", "micro")


class Scorer(Protocol):
    """One engine's models: scores frames, keeps its state exact under the gate."""

    window_frames: int
    labels: dict[str, str]
    needs_audio: bool

    @property
    def default_thresholds(self) -> dict[str, float]: ...

    def reset(self) -> None: ...

    def score(self, frame: np.ndarray) -> dict[str, float]: ...

    def skip(self, frame: np.ndarray) -> None: ...

    def catch_up(self, frames: list[np.ndarray]) -> int: ...


def resolve_engine(model: str, engine: str = "openwakeword") -> Engine:
    """Which engine runs ``model``: its file type, else the name's only engine, else ``engine``."""
    lower = model.lower()
    if lower.endswith(".json"):
        return "micro"
    if lower.endswith(".tflite"):
        return "micro" if Path(model).with_suffix(".json").is_file() else "openwakeword"
    if lower.endswith(".onnx"):
        return "openwakeword"
    key = model.strip().replace(" ", "_")
    if key in BUILTIN_MICRO_MODELS and key not in BUILTIN_MODELS:
        return "micro"
    if key in BUILTIN_MODELS and key not in BUILTIN_MICRO_MODELS:
        if engine == "micro":
            raise WakeModelError(
                f"{model}: no microWakeWord model of that name "
                f"(micro has {', '.join(BUILTIN_MICRO_MODELS)})"
            )
        return "openwakeword"
    if engine not in ENGINES:
        raise WakeModelError(f"unknown wake engine {engine!r}: expected openwakeword or micro")
    return "micro" if engine == "micro" else "openwakeword"


def build_scorers(models: Iterable[str], engines: Mapping[str, str] | str) -> list[Scorer]:
    """Resolve every model and group them by engine (one scorer per engine used)."""
    oww, micro = [], []
    for model in models:
        engine = engines if isinstance(engines, str) else engines.get(model, "openwakeword")
        if resolve_engine(model, engine) == "micro":
            try:
                micro.append(resolve_micro(model))
            except MicroModelError as exc:
                raise WakeModelError(str(exc)) from exc
        else:
            oww.append(resolve_model(model))
    names = [s.name for s in oww] + [s.name for s in micro]
    if not names:
        raise WakeModelError("no wake models given")
    if len(set(names)) != len(names):
        raise WakeModelError(f"wake model listed twice: {', '.join(names)}")
    scorers: list[Scorer] = []
    if oww:
        scorers.append(OwwScorer(oww))
    if micro:
        try:
            scorers.append(MicroScorer(micro))
        except MicroModelError as exc:
            raise WakeModelError(str(exc)) from exc
    return scorers
