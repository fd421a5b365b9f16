"""openWakeWord models as a wake engine: one shared feature pipeline, exact catch-up.

A frame's score depends only on the audio of a fixed window of frames before
it (``window_frames``: 26 frames, 2.08 s, for the usual 16-embedding models).
While the gate is closed nothing runs; when sound returns the pipeline is reset
and the window is replayed, so its state, and every score from then on, is
bit-identical to an ungated run. Only what the classifiers read is recomputed:
the melspectrogram of every frame of the window (each embedding reads 10 frames
of mel rows), and the embeddings of the last ``n_frames - 1`` frames.
"""

from __future__ import annotations

import numpy as np

from agent.hearing.models import EMBEDDING_SPAN_FRAMES, Classifier, FeaturePipeline, ModelSpec

#: Upstream's Model.predict reports 0 for the first 5 frames after it starts.
WARMUP_FRAMES = 5


class OwwScorer:
    """openWakeWord classifiers on one melspectrogram + embedding pipeline."""

    #: The gate keeps the raw audio of the window: :meth:`catch_up` replays it.
    needs_audio = True

    def __init__(self, specs: list[ModelSpec]) -> None:
        self.classifiers = [Classifier(s) for s in specs]
        #: Frames of audio one score depends on.
        self.window_frames = max(c.n_frames for c in self.classifiers) + EMBEDDING_SPAN_FRAMES - 1
        self._features = FeaturePipeline(keep_embeddings=self.window_frames)
        #: label -> model name (class labels of multi-class models map to their model).
        self.labels = {label: c.name for c in self.classifiers for label in c.labels.values()}
        #: What the last catch-up ran, in model frames (for the benchmarks).
        self.last_catch_up = (0, 0)  # (melspectrogram frames, embedding frames)
        self.reset()

    @property
    def default_thresholds(self) -> dict[str, float]:
        """None: openWakeWord models use ``wake.threshold``."""
        return {}

    def reset(self) -> None:
        """Back to the state upstream starts in."""
        self._features.reset()
        self._frames_seen = 0

    def score(self, frame: np.ndarray) -> dict[str, float]:
        """Push one frame and score it with every classifier."""
        self._frames_seen += 1
        self._features.push(frame)
        scores: dict[str, float] = {}
        for classifier in self.classifiers:
            for label, score in classifier.scores(self._features.features).items():
                scores[label] = 0.0 if self._frames_seen <= WARMUP_FRAMES else score
        return scores

    def skip(self, frame: np.ndarray) -> None:
        """Gate closed: nothing runs (the state is rebuilt by :meth:`catch_up`)."""
        del frame
        self._frames_seen += 1

    def catch_up(self, frames: list[np.ndarray]) -> int:
        """Replay the frames before the one that re-opened the gate; model frames run."""
        self._features.reset()
        embedded_from = len(frames) - (self.window_frames - EMBEDDING_SPAN_FRAMES)
        for i, old in enumerate(frames):
            self._features.push(old, embed=i >= embedded_from)
        embeds = len(frames) - max(embedded_from, 0)
        self.last_catch_up = (len(frames), embeds)
        return len(frames) + embeds
