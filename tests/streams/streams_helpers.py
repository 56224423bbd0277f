"""Helpers for the stream tests: counter outlets and condition waits."""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import pylsl


def wait_until(cond: Callable[[], bool], timeout: float, step: float = 0.01) -> bool:
    """Poll ``cond`` until it is true or ``timeout`` seconds pass; return its last value."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(step)
    return bool(cond())


class CounterPump:
    """Pushes a sample-counter channel (plus noise channels) to an outlet in real time.

    Sample ``k`` carries the value ``k`` in channel 0 and the timestamp
    ``t0 + k / sfreq``, so lost samples and timing errors are exact to check.
    """

    def __init__(self, outlet, sfreq: float, n_channels: int, t0: float | None = None):
        self.outlet, self.sfreq, self.n_channels = outlet, sfreq, n_channels
        self.t0 = pylsl.local_clock() if t0 is None else t0
        self.sent = 0

    def due(self) -> int:
        return int((pylsl.local_clock() - self.t0) * self.sfreq) - self.sent

    def skip_to_now(self) -> None:
        self.sent = int((pylsl.local_clock() - self.t0) * self.sfreq)

    def step(self) -> int:
        n = self.due()
        if n > 0:
            k = np.arange(self.sent, self.sent + n)
            data = np.empty((self.n_channels, n), np.float32)
            data[0] = k
            data[1:] = np.sin(k / 10.0)[None, :] * np.arange(1, self.n_channels)[:, None]
            self.outlet.push(data, self.t0 + k / self.sfreq)
            self.sent += n
        return max(n, 0)
