"""Online scoring: the cued class next to every decision, running accuracy and confusion.

Cues come from a truth or cue stream (the simulated participant's ``bci-sim-truth``, a
paradigm's cue markers, a recording's markers through a calibration ``mapping``). A cue
holds from its onset to the next cue. A sliding-window decision is scored when its whole
window lies inside one cue (from ``t_first`` to ``t_last``); an event-locked decision is
scored against its own onset marker. Scoring waits ``delay`` seconds of stream time after
a window's end so that a cue arriving late over the network is not missed.
"""

from __future__ import annotations

import json
import re
from collections import deque
from collections.abc import Mapping, Sequence

import numpy as np

_NUMBER = re.compile(r"(-?\d+(?:\.\d+)?)\s*(?:hz)?$", re.IGNORECASE)


class CueMapper:
    """Turn a cue value into a class index of the decoder.

    A value maps when ``mapping`` names it, when it equals a class name, when it ends with
    ``_<class>`` (``ssvep_8.0`` -> ``8.0``), or when both end in the same number
    (``ssvep_8.0`` -> ``8 Hz``). JSON values (ground truth) are read by their ``label``
    field; a truth of kind ``off`` is the class ``rest`` when there is one.

    Parameters
    ----------
    classes : sequence of str
        The decoder's classes in output order.
    mapping : mapping of str to str | None
        Cue value -> class name (a calibration config's ``mapping``).
    """

    def __init__(self, classes: Sequence[str], mapping: Mapping[str, str] | None = None):
        self.classes = list(classes)
        self.mapping = dict(mapping or {})
        self._index = {c: i for i, c in enumerate(self.classes)}
        self._numbers = {}
        for i, c in enumerate(self.classes):
            m = _NUMBER.search(c)
            if m:
                self._numbers.setdefault(float(m.group(1)), i)
        self._cache: dict[str, int | None] = {}

    def __call__(self, value: str) -> int | None:
        """Class index of a cue value, or ``None`` when it names no class."""
        if value in self._cache:
            return self._cache[value]
        out = self._map(value)
        if len(self._cache) < 10_000:
            self._cache[value] = out
        return out

    def _map(self, value: str) -> int | None:
        v = value.strip()
        if v.startswith("{"):
            try:
                obj = json.loads(v)
            except json.JSONDecodeError:
                obj = None
            if isinstance(obj, dict):
                if obj.get("kind") == "off" and "rest" in self._index:
                    return self._index["rest"]
                v = str(obj.get("label", ""))
        if v in self.mapping:
            return self._index.get(self.mapping[v])
        if v in self._index:
            return self._index[v]
        for c, i in self._index.items():
            if v.endswith(f"_{c}"):
                return i
        m = _NUMBER.search(v)
        if m and float(m.group(1)) in self._numbers:
            return self._numbers[float(m.group(1))]
        return None


class OnlineScore:
    """Cue timeline, pending decisions, running accuracy and confusion matrix.

    Parameters
    ----------
    classes : sequence of str
        The decoder's classes.
    mapping : mapping | None
        Cue value -> class (see :class:`CueMapper`).
    delay : float
        Seconds of stream time a decision waits for late cues before it is scored.
    """

    def __init__(
        self, classes: Sequence[str], mapping: Mapping[str, str] | None = None, delay: float = 0.3
    ):
        self.classes = list(classes)
        self.mapper = CueMapper(classes, mapping)
        self.delay = float(delay)
        n = len(self.classes)
        self.confusion = np.zeros((n, n), dtype=np.int64)  # rows: cued, columns: decided
        self.cues: deque[tuple[float, int | None]] = deque(maxlen=4096)  # bounded timeline
        self._inbox: deque[tuple[float, str]] = deque(maxlen=4096)  # bounded: thread hand-over
        self._pending: deque[tuple[float, float, int, int | None]] = deque(maxlen=4096)
        self.n_cues = 0
        self._active = False
        self.n_unscored = 0  # no label emitted (threshold/dwell)

    @property
    def active(self) -> bool:
        """Whether any cue that names a class has been seen (safe from any thread)."""
        return self._active

    def add_cue(self, timestamp: float, value: str) -> None:
        """Queue a cue (thread-safe)."""
        self._inbox.append((float(timestamp), str(value)))

    def _take_cues(self) -> None:
        if not self._inbox:
            return
        while self._inbox:
            t, v = self._inbox.popleft()
            c = self.mapper(v)
            self.cues.append((t, c))
            self.n_cues += 1
            self._active = self._active or c is not None
        if any(self.cues[i][0] > self.cues[i + 1][0] for i in range(len(self.cues) - 1)):
            ordered = sorted(self.cues, key=lambda c: c[0])
            self.cues.clear()  # same bounded deque, refilled in time order
            self.cues.extend(ordered)

    def cue_at(self, t: float) -> int | None:
        """The class cued at stream time ``t`` (``None``: no cue, or one naming no class)."""
        self._take_cues()
        out = None
        for onset, c in reversed(self.cues):
            if onset <= t:
                out = c
                break
        return out

    def _cue_span(self, t_first: float, t_last: float) -> int | None:
        """The cue holding over the whole of ``[t_first, t_last]``, else ``None``."""
        inside = None
        for onset, c in reversed(self.cues):
            if onset > t_last:
                continue
            if onset > t_first:  # a cue starts inside the window: mixed
                return None
            inside = c
            break
        return inside

    def add_decision(
        self, t_first: float, t_last: float, label_index: int, marker: str | None = None
    ) -> None:
        """Queue a decision: an epoch's own marker, else the cue over its window, scores it."""
        if marker is not None:
            cued = self.mapper(marker)
            self._active = self._active or cued is not None
        else:
            cued = -2  # scored by the cue timeline
        self._pending.append((t_first, t_last, int(label_index), cued))

    def update(self, now: float) -> None:
        """Score every pending decision whose window ended ``delay`` before ``now``."""
        self._take_cues()
        while self._pending and self._pending[0][1] <= now - self.delay:
            t_first, t_last, decided, cued = self._pending.popleft()
            if cued == -2:
                cued = self._cue_span(t_first, t_last)
            if cued is None:
                continue
            if decided < 0:
                self.n_unscored += 1
                continue
            self.confusion[cued, decided] += 1

    def summary(self) -> dict:
        """``n``, ``accuracy``, ``chance`` (share of the most cued class), ``confusion``..."""
        n = int(self.confusion.sum())
        per_cue = self.confusion.sum(axis=1)
        return {
            "classes": self.classes,
            "n": n,
            "correct": int(np.trace(self.confusion)),
            "accuracy": round(float(np.trace(self.confusion) / n), 4) if n else None,
            "chance": round(float(per_cue.max() / n), 4) if n else None,
            "no_label": self.n_unscored,
            "confusion": self.confusion.tolist(),
        }


__all__ = ["CueMapper", "OnlineScore"]
