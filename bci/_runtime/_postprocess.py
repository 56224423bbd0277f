"""From decoder outputs to emitted labels: smoothing, threshold, dwell."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class PostprocessSettings:
    """Post-processing rules.

    Parameters
    ----------
    smoothing : int
        Average the last N outputs.
    threshold : float
        Minimum (smoothed) probability of the best class to propose a label.
    dwell : int
        Emit a label once N consecutive windows proposed the same one.
    """

    smoothing: int = 1
    threshold: float = 0.0
    dwell: int = 1


class PostProcessor:
    """Smooth outputs, apply a threshold and a dwell rule.

    Parameters
    ----------
    settings : PostprocessSettings
        The rules.
    classes : sequence of str | None
        Labels of the outputs; without them labels are the output indices as strings.
    n_outputs : int
        Length of the output vector.
    """

    def __init__(
        self, settings: PostprocessSettings, n_outputs: int, classes: Sequence[str] | None = None
    ):
        if settings.smoothing < 1 or settings.dwell < 1:
            raise ValueError("smoothing and dwell must be >= 1")
        self.settings = settings
        self.n_outputs = int(n_outputs)
        self.classes = list(classes) if classes else [str(i) for i in range(n_outputs)]
        if len(self.classes) != self.n_outputs:
            raise ValueError(f"{len(self.classes)} classes for {n_outputs} outputs")
        self._hist = np.zeros((settings.smoothing, self.n_outputs), dtype=np.float64)
        self.reset()

    def reset(self) -> None:
        """Forget the history."""
        self._hist[:] = 0.0
        self._n = 0
        self._candidate = -1
        self._streak = 0

    def __call__(self, values: np.ndarray) -> tuple[np.ndarray, int]:
        """Process one output vector.

        Returns
        -------
        smoothed : ndarray, shape (n_outputs,)
            Mean of the last ``smoothing`` outputs.
        label_index : int
            Index of the emitted class, or -1 when no label passes threshold and dwell.
        """
        k = self.settings.smoothing
        self._hist[self._n % k] = values
        self._n += 1
        smoothed = self._hist[: min(self._n, k)].mean(axis=0)
        best = int(np.argmax(smoothed))
        if smoothed[best] < self.settings.threshold:
            self._candidate, self._streak = -1, 0
            return smoothed, -1
        if best == self._candidate:
            self._streak += 1
        else:
            self._candidate, self._streak = best, 1
        return smoothed, (best if self._streak >= self.settings.dwell else -1)

    def label(self, index: int) -> str | None:
        """The class name of a label index (``None`` for -1)."""
        return None if index < 0 else self.classes[index]
