"""Rate limits for events: a sustained condition is one event when it starts, one when it ends.

A flat or non-finite electrode, a silent stream, a busy decoder: each is a *condition* that
lasts, and reporting it once per chunk floods the log, MQTT and the recording (a channel
stuck at NaN would otherwise give 250 events per second for as long as it lasts).
:class:`SustainedCondition` turns per-chunk observations into a ``start`` event (the first
bad observation) and an ``end`` event (after ``quiet`` seconds without one, or at stop)
carrying the counts accumulated in between. It is pure: the caller decides where the events
go, so logs, MQTT and the recording follow the same rule.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass
class SustainedCondition:
    """Start/end events for a condition observed once per chunk.

    Parameters
    ----------
    quiet : float
        Seconds without a bad observation before the condition counts as ended (so an
        intermittent fault is one condition, not one event per flicker).

    Examples
    --------
    >>> cond = SustainedCondition(quiet=1.0)
    >>> cond.update(True, 10.0, 5)
    {'state': 'start', 't_start': 10.0}
    >>> cond.update(True, 10.1, 5) is None
    True
    >>> cond.update(False, 11.5)["state"]
    'end'
    """

    quiet: float = 1.0
    active: bool = False
    t_start: float = math.nan
    t_last_bad: float = math.nan
    count: int = 0
    chunks: int = 0
    episodes: int = 0

    def update(
        self, bad: bool, t: float, count: int = 0, t_end: float | None = None
    ) -> dict | None:
        """Record one observation at ``t`` (seconds); the event to emit, if any.

        Parameters
        ----------
        bad : bool
            Whether the condition holds in this observation.
        t : float
            Time of the observation (of its first bad sample when ``bad``).
        count : int
            How many items (samples...) were bad in it.
        t_end : float | None
            Time of its last bad item (default ``t``).

        Returns
        -------
        dict | None
            ``{"state": "start", ...}`` or ``{"state": "end", ...}``, else ``None``.
        """
        t = float(t)
        if bad:
            self.t_last_bad = t if t_end is None else float(t_end)
            self.count += int(count)
            self.chunks += 1
            if not self.active:
                self.active = True
                self.episodes += 1
                self.t_start = t
                return {"state": "start", "t_start": t}
            return None
        if self.active and t - self.t_last_bad >= self.quiet:
            return self._end(t, at_stop=False)
        return None

    def close(self, t: float) -> dict | None:
        """The ``end`` event of a condition still active when the session stops, else ``None``."""
        return self._end(t, at_stop=True) if self.active else None

    def _end(self, t: float, at_stop: bool) -> dict:
        event = {
            "state": "end",
            "t_start": self.t_start,
            "t_end": self.t_last_bad if not at_stop else t,
            "duration": round((self.t_last_bad if not at_stop else t) - self.t_start, 6),
            "count": self.count,
            "chunks": self.chunks,
            "at_stop": at_stop,
        }
        self.active = False
        self.count = self.chunks = 0
        return event
