"""A preallocated ring buffer and the windowing step that emits a window per completed hop."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


class RingBuffer:
    """A preallocated ``(n_channels, capacity)`` ring of samples and their timestamps.

    Writing copies into the ring at the write index (no ``np.roll``, no allocation);
    :meth:`latest` copies the newest samples out in time order.

    Parameters
    ----------
    n_channels : int
        Number of channels.
    capacity : int
        Samples held; older ones are overwritten.
    """

    def __init__(self, n_channels: int, capacity: int):
        if capacity < 1:
            raise ValueError(f"capacity={capacity}: must be >= 1")
        self.data = np.zeros((int(n_channels), int(capacity)), dtype=np.float32)
        self.times = np.zeros(int(capacity), dtype=np.float64)
        self.capacity = int(capacity)
        self.reset()

    def reset(self) -> None:
        """Empty the ring (the memory is kept)."""
        self.n_written = 0  # total samples ever written

    def write(self, data: np.ndarray, timestamps: np.ndarray) -> None:
        """Append ``(n_channels, n)`` samples with their ``(n,)`` timestamps."""
        n = data.shape[1]
        if n == 0:
            return
        if n > self.capacity:  # only the newest capacity samples can be kept
            data, timestamps = data[:, -self.capacity :], timestamps[-self.capacity :]
            self.n_written += n - self.capacity
            n = self.capacity
        start = self.n_written % self.capacity
        first = min(n, self.capacity - start)
        self.data[:, start : start + first] = data[:, :first]
        self.times[start : start + first] = timestamps[:first]
        if first < n:
            self.data[:, : n - first] = data[:, first:]
            self.times[: n - first] = timestamps[first:]
        self.n_written += n

    def latest(self, n: int, out: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Copy the newest ``n`` samples (time order) into ``out`` (allocated when ``None``).

        Returns
        -------
        data : ndarray, shape (n_channels, n)
        times : ndarray, shape (n,)
        """
        if n > min(self.n_written, self.capacity):
            raise ValueError(
                f"asked for {n} samples, the ring holds {min(self.n_written, self.capacity)}"
            )
        if out is None:
            out = np.empty((self.data.shape[0], n), dtype=np.float32)
        end = self.n_written % self.capacity
        start = end - n
        if start >= 0:
            out[:] = self.data[:, start:end]
            times = self.times[start:end].copy()
        else:
            out[:, :-start] = self.data[:, start:]
            out[:, -start:] = self.data[:, :end]
            times = np.concatenate([self.times[start:], self.times[:end]])
        return out, times


@dataclass
class Window:
    """One window ready for the decoder.

    Parameters
    ----------
    data : ndarray, shape (n_channels, n_times), float32
        Preprocessed samples (a copy the decoder may keep).
    t_first, t_last : float
        LSL-clock timestamps of the first and newest sample (``t_last`` is ``t_sample``).
    t_pull : float
        When the chunk holding the newest sample was in hand.
    index : int
        Sample index (since start) one past the window's newest sample.
    skipped : int
        Hop boundaries passed without a window since the previous one (stale, dropped).
    """

    data: np.ndarray
    t_first: float
    t_last: float
    t_pull: float
    index: int
    skipped: int = 0


class Windower:
    """Emit the newest ``n_times`` samples whenever a chunk completes a hop.

    Hop boundaries lie on a fixed grid (``n_times + k * hop`` samples since start), so the
    decision rate does not drift; a window is cut as soon as the chunk crossing a boundary
    arrives, and it ends at that chunk's newest sample. When one chunk crosses several
    boundaries (a late, large chunk) only one window is emitted and the others are
    counted in ``skipped``: the runtime never builds a backlog.

    Parameters
    ----------
    n_channels, n_times, hop : int
        Window shape and hop in samples.
    capacity : int | None
        Ring size in samples (default: ``n_times`` plus 10 s worth of hops, at least 2 windows).
    """

    def __init__(self, n_channels: int, n_times: int, hop: int, capacity: int | None = None):
        if n_times < 1 or hop < 1:
            raise ValueError(f"n_times={n_times} and hop={hop} must be >= 1")
        self.n_times, self.hop = int(n_times), int(hop)
        self.ring = RingBuffer(n_channels, capacity or max(2 * n_times, n_times + 100 * hop))
        self.reset()

    def reset(self) -> None:
        """Forget the samples and restart the hop grid."""
        self.ring.reset()
        self._next_boundary = self.n_times
        self.n_skipped = 0
        self.n_windows = 0
        self.last_bad_index = -1  # sample index of the newest non-finite sample

    def mark_bad(self, indices: np.ndarray) -> None:
        """Mark samples (indices within the next chunk) as non-finite; windows over them are skipped."""
        if indices is not None and len(indices):
            self.last_bad_index = self.ring.n_written + int(indices[-1])

    def __call__(self, data: np.ndarray, timestamps: np.ndarray, t_pull: float) -> Window | None:
        """Add a chunk; return a window when it completed a hop, else ``None``."""
        self.ring.write(data, timestamps)
        total = self.ring.n_written
        if total < self._next_boundary:
            return None
        crossed = (total - self._next_boundary) // self.hop + 1
        self._next_boundary += crossed * self.hop
        skipped = int(crossed - 1)
        self.n_skipped += skipped
        win, times = self.ring.latest(self.n_times)
        self.n_windows += 1
        return Window(win, float(times[0]), float(times[-1]), float(t_pull), total, skipped)

    def window_is_bad(self, window: Window) -> bool:
        """True when the window overlaps a non-finite sample."""
        return self.last_bad_index >= window.index - self.n_times
