"""The live view: a web page showing a session or any LSL stream as it runs.

It runs in a process of its own and reads only LSL outlets, so the session's hot path
never waits for it: traces (filtered, per-channel scale, bad channels marked), spectra,
markers, decoder probabilities and labels (with the cue and online accuracy when a truth
stream exists), latency per stage, and the current stimulus.
"""

from __future__ import annotations

from ._display import Decimator, DisplayFilter, TraceRing, decimation_factor
from ._hub import Hub, cue_class
from ._server import ViewServer
from ._settings import ViewSettings, is_loopback, settings_from_session

__all__ = [
    "Decimator",
    "DisplayFilter",
    "Hub",
    "TraceRing",
    "ViewServer",
    "ViewSettings",
    "cue_class",
    "decimation_factor",
    "is_loopback",
    "settings_from_session",
]
