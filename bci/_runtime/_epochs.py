"""Event-locked decoding: one epoch per onset marker, cut as soon as its last sample is in.

A decoder calibrated on onset epochs (P300, N170, cued motor imagery...) says so in its
ONNX metadata (``bci.epochs``: the onset marker values, ``tmin``/``tmax`` in seconds, the
marker stream, an optional baseline). The runtime then decodes one epoch per onset marker
and nothing in between, instead of sliding windows.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from .._errors import DecoderError
from ._window import BadSpans, RingBuffer, Window

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class EpochSettings:
    """Where event-locked epochs come from.

    Parameters
    ----------
    markers : tuple of str
        Marker values that are onsets (others are ignored).
    tmin, tmax : float
        Epoch start and end relative to the onset, seconds (the epoch holds the decoder's
        ``n_times`` samples starting at the onset's nearest sample plus ``tmin``).
    marker_stream : str | None
        Name of the marker stream carrying the onsets; ``None`` accepts any marker stream.
    baseline : tuple of float | None
        ``[a, b]`` seconds relative to the onset whose mean is subtracted per channel (what
        calibration did to its epochs), or ``None``.
    """

    markers: tuple[str, ...]
    tmin: float
    tmax: float
    marker_stream: str | None = None
    baseline: tuple[float, float] | None = None

    @classmethod
    def from_metadata(cls, metadata: Mapping) -> EpochSettings | None:
        """Read ``bci.epochs`` of a decoder's metadata; ``None`` for a continuous decoder.

        Raises
        ------
        DecoderError
            When the metadata is malformed (names the key).
        """
        ep = metadata.get("epochs")
        if not ep:
            return None
        if not isinstance(ep, Mapping) or ep.get("events", "onset") != "onset":
            return None
        try:
            markers = tuple(str(v) for v in ep["markers"])
            tmin, tmax = float(ep["tmin"]), float(ep["tmax"])
            base = ep.get("baseline")
            baseline = (float(base[0]), float(base[1])) if base else None
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            raise DecoderError(
                f"decoder metadata bci.epochs={ep!r} is malformed ({exc}); it needs markers, "
                "tmin and tmax; re-export the decoder with `bci calibrate`"
            ) from None
        if not markers or not tmax > tmin:
            raise DecoderError(
                f"decoder metadata bci.epochs={ep!r}: needs at least one marker value and "
                "tmax > tmin; re-export the decoder with `bci calibrate`"
            )
        stream = ep.get("marker_stream")
        return cls(markers, tmin, tmax, str(stream) if stream else None, baseline)

    def accepts(self, stream: str, value: str) -> bool:
        """Whether a marker of ``stream`` with ``value`` is an onset."""
        if self.marker_stream is not None and stream != self.marker_stream:
            return False
        return value.strip() in self.markers


class Epocher:
    """Cut an epoch of ``n_times`` samples at every onset, once its last sample has arrived.

    The epoch starts at the sample nearest to the onset plus ``round(tmin * sfreq)`` samples
    (as calibration cuts it). Onsets may arrive before or after their samples (a marker
    stream has its own latency): an onset is kept pending until the signal has reached the
    end of its epoch; one whose start has already left the ring (more than ``keep`` seconds
    late) is dropped and counted in :attr:`n_missed`. :meth:`add_onset` may be called from
    another thread than ``__call__`` (a bounded deque hands onsets over).

    Parameters
    ----------
    n_channels : int
        Channels after preprocessing.
    sfreq : float
        Sampling rate after preprocessing.
    n_times : int
        Samples per epoch (the decoder's input length).
    settings : EpochSettings
        Onset markers, tmin/tmax, baseline.
    keep : float
        Seconds of signal kept for late onsets.
    """

    def __init__(
        self,
        n_channels: int,
        sfreq: float,
        n_times: int,
        settings: EpochSettings,
        keep: float = 10.0,
    ):
        if n_times < 1:
            raise ValueError(f"n_times={n_times} must be >= 1")
        self.settings = settings
        self.sfreq = float(sfreq)
        self.n_times = int(n_times)
        self.offset = int(round(settings.tmin * self.sfreq))
        self.ring = RingBuffer(n_channels, self.n_times + int(np.ceil(keep * self.sfreq)))
        if settings.baseline is not None:
            a = int(round((settings.baseline[0] - settings.tmin) * self.sfreq))
            self._base = (
                max(0, a),
                max(a + 1, int(round((settings.baseline[1] - settings.tmin) * self.sfreq))),
            )
        else:
            self._base = None
        self._inbox: deque[tuple[float, str]] = deque(maxlen=10_000)  # bounded: oldest lost
        self.reset()

    def reset(self) -> None:
        """Forget samples and pending onsets."""
        self.ring.reset()
        self._inbox.clear()
        self.pending: list[tuple[float, str]] = []
        self.bad = BadSpans()
        self.n_epochs = 0
        self.n_missed = 0
        self.n_onsets = 0

    def add_onset(self, timestamp: float, value: str) -> None:
        """Queue an onset (thread-safe; the epoch is cut by a later ``__call__``)."""
        self._inbox.append((float(timestamp), str(value)))

    def mark_bad(self, indices: np.ndarray) -> None:
        """Mark samples (indices within the next chunk) as non-finite."""
        self.bad.mark(self.ring.n_written, indices)

    def epoch_is_bad(self, window: Window) -> bool:
        """True when the epoch overlaps a non-finite sample."""
        return self.bad.overlaps(window.index - self.n_times, window.index)

    def _take_inbox(self) -> None:
        if self._inbox:
            while self._inbox:
                self.pending.append(self._inbox.popleft())
                self.n_onsets += 1
            self.pending.sort(key=lambda o: o[0])

    def __call__(self, data: np.ndarray, timestamps: np.ndarray, t_pull: float) -> list[Window]:
        """Add a chunk; return the epochs (oldest onset first) whose last sample is now in."""
        self.ring.write(data, timestamps)
        self._take_inbox()
        if not self.pending or self.ring.n_written == 0:
            return []
        newest = self.ring.n_written - 1
        cap = self.ring.capacity
        t_newest = float(self.ring.times[newest % cap])
        # the sample period on this clock (a replay at speed X compresses it X times)
        back = min(newest, cap - 1, 250)
        period = 1.0 / self.sfreq
        if back > 0:
            period = (t_newest - float(self.ring.times[(newest - back) % cap])) / back
        # cheap test first: is the oldest onset's epoch end (roughly) in?
        t_end0 = self.pending[0][0] + (self.offset + self.n_times - 1) * period
        if period > 0 and t_end0 > t_newest + 2 * period:
            return []
        first, times = self.ring.held_times()
        out: list[Window] = []
        keep: list[tuple[float, str]] = []
        for onset, value in self.pending:
            i = _nearest(times, onset)
            if i is None:  # no sample yet at or after the onset
                keep.append((onset, value))
                continue
            if i == 0 and times[0] - onset > 0.5 * period:  # older than the signal held
                self.n_missed += 1
                logger.debug("onset %r at %.3f predates the signal held", value, onset)
                continue
            start = first + i + self.offset
            stop = start + self.n_times
            if stop - 1 > newest:
                keep.append((onset, value))
                continue
            if start < first:
                self.n_missed += 1
                logger.debug(
                    "onset %r at %.3f arrived too late: its epoch left the ring", value, onset
                )
                continue
            x, ts = self.ring.span(start, self.n_times)
            if self._base is not None:
                a, b = self._base
                x -= x[:, a:b].mean(axis=1, keepdims=True)
            out.append(Window(x, float(ts[0]), float(ts[-1]), float(t_pull), stop, 0, onset, value))
            self.n_epochs += 1
        self.pending = keep
        return out


def _nearest(times: np.ndarray, t: float) -> int | None:
    """Index of the sample nearest to ``t``; ``None`` while no sample reaches ``t`` yet.

    Robust to timestamps that step back now and then (millisecond-quantized consumer
    headsets): the search runs on their running maximum, then the nearest of the 32 samples
    either side wins, as calibration picks it.
    """
    n = times.size
    if n == 0 or times.max() < t:
        return None
    mono = np.maximum.accumulate(times)
    i = int(np.searchsorted(mono, t))
    lo, hi = max(0, i - 32), min(n, i + 33)
    return lo + int(np.argmin(np.abs(times[lo:hi] - t)))


__all__ = ["EpochSettings", "Epocher"]
