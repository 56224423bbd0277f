"""A preallocated ring buffer and the windowing step that emits a window per completed hop."""

from __future__ import annotations

from collections import deque
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

    def span(
        self, first: int, n: int, out: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Copy ``n`` samples starting at absolute sample index ``first`` (time order).

        Returns
        -------
        data : ndarray, shape (n_channels, n)
        times : ndarray, shape (n,)
        """
        oldest = max(0, self.n_written - self.capacity)
        if first < oldest or first + n > self.n_written or n < 1:
            raise ValueError(
                f"samples {first}..{first + n - 1} are not in the ring (it holds "
                f"{oldest}..{self.n_written - 1})"
            )
        if out is None:
            out = np.empty((self.data.shape[0], n), dtype=np.float32)
        a = first % self.capacity
        k = min(n, self.capacity - a)
        out[:, :k] = self.data[:, a : a + k]
        times = np.empty(n)
        times[:k] = self.times[a : a + k]
        if k < n:
            out[:, k:] = self.data[:, : n - k]
            times[k:] = self.times[: n - k]
        return out, times

    def held_times(self) -> tuple[int, np.ndarray]:
        """The absolute index of the oldest sample held and the held timestamps (time order)."""
        held = min(self.n_written, self.capacity)
        first = self.n_written - held
        if held == 0:
            return first, np.empty(0)
        return first, self.span(first, held)[1]


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
    onset : float | None
        Event-locked epochs: the timestamp of the onset marker the epoch is locked to.
    marker : str | None
        Event-locked epochs: that marker's value.
    """

    data: np.ndarray
    t_first: float
    t_last: float
    t_pull: float
    index: int
    skipped: int = 0
    onset: float | None = None
    marker: str | None = None


class BadSpans:
    """The newest spans of non-finite samples (absolute sample indices), bounded."""

    def __init__(self, maxlen: int = 64):
        self.spans: deque[tuple[int, int]] = deque(maxlen=maxlen)  # bounded: oldest forgotten

    def mark(self, offset: int, indices: np.ndarray | None) -> None:
        """Record samples ``offset + indices`` (sorted chunk indices) as non-finite."""
        if indices is not None and len(indices):
            self.spans.append((offset + int(indices[0]), offset + int(indices[-1])))

    def overlaps(self, first: int, stop: int) -> bool:
        """True when a marked sample lies in ``[first, stop)``."""
        return any(a < stop and b >= first for a, b in self.spans)


class Windower:
    """Emit a window of ``n_times`` samples whenever a chunk completes a hop.

    Hop boundaries lie on a fixed grid (``n_times + k * hop`` samples since start), so the
    decision rate does not drift. A window is cut as soon as the chunk crossing a boundary
    arrives. Live (``grid=False``) it ends at that chunk's newest sample: the freshest data,
    the lowest latency. With ``grid=True`` it ends exactly on the boundary, whatever the
    chunking: the same signal then gives the same windows whether it arrives sample by
    sample over LSL or in large blocks from a file (what scoring a recording needs). When
    one chunk crosses several boundaries (a late, large chunk), :meth:`__call__` returns
    one window and counts the others in ``skipped`` (the runtime never builds a backlog);
    :meth:`all_windows` returns a window for every boundary (virtual time).

    Parameters
    ----------
    n_channels, n_times, hop : int
        Window shape and hop in samples.
    capacity : int | None
        Ring size in samples (default: ``n_times`` plus 10 s worth of hops, at least 2 windows).
    grid : bool
        Windows end exactly on the hop grid instead of at the newest sample.
    """

    def __init__(
        self,
        n_channels: int,
        n_times: int,
        hop: int,
        capacity: int | None = None,
        grid: bool = False,
    ):
        if n_times < 1 or hop < 1:
            raise ValueError(f"n_times={n_times} and hop={hop} must be >= 1")
        self.n_times, self.hop = int(n_times), int(hop)
        self.grid = bool(grid)
        self.ring = RingBuffer(n_channels, capacity or max(2 * n_times, n_times + 100 * hop))
        self.reset()

    def reset(self) -> None:
        """Forget the samples and restart the hop grid."""
        self.ring.reset()
        self._next_boundary = self.n_times
        self.n_skipped = 0
        self.n_windows = 0
        self.bad = BadSpans()

    def mark_bad(self, indices: np.ndarray) -> None:
        """Mark samples (indices within the next chunk) as non-finite; windows over them are skipped."""
        self.bad.mark(self.ring.n_written, indices)

    def _boundaries(self, data: np.ndarray, timestamps: np.ndarray) -> list[int]:
        """Write the chunk; the hop boundaries it crossed (sample indices, oldest first)."""
        self.ring.write(data, timestamps)
        total = self.ring.n_written
        if total < self._next_boundary:
            return []
        crossed = (total - self._next_boundary) // self.hop + 1
        out = [self._next_boundary + k * self.hop for k in range(crossed)]
        self._next_boundary += crossed * self.hop
        oldest = total - self.ring.capacity
        return [b for b in out if b - self.n_times >= oldest]

    def _window(self, end: int, t_pull: float, skipped: int) -> Window:
        win, times = self.ring.span(end - self.n_times, self.n_times)
        self.n_windows += 1
        return Window(win, float(times[0]), float(times[-1]), float(t_pull), end, skipped)

    def __call__(self, data: np.ndarray, timestamps: np.ndarray, t_pull: float) -> Window | None:
        """Add a chunk; one window when it completed a hop (see ``grid``), else ``None``."""
        ends = self._boundaries(data, timestamps)
        if not ends:
            return None
        skipped = len(ends) - 1
        self.n_skipped += skipped
        return self._window(ends[-1] if self.grid else self.ring.n_written, t_pull, skipped)

    def all_windows(self, data: np.ndarray, timestamps: np.ndarray, t_pull: float) -> list[Window]:
        """Add a chunk; return a window for every boundary it crossed (nothing skipped)."""
        step = max(1, self.ring.capacity - self.n_times)  # larger chunks would overwrite windows
        out = []
        for a in range(0, data.shape[1], step):
            ends = self._boundaries(data[:, a : a + step], timestamps[a : a + step])
            out.extend(self._window(end, t_pull, 0) for end in ends)
        return out

    def window_is_bad(self, window: Window) -> bool:
        """True when the window overlaps a non-finite sample."""
        return self.bad.overlaps(window.index - self.n_times, window.index)
