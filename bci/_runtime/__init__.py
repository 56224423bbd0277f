"""The real-time runtime: pure processing steps, statistics and the asyncio engine."""

from __future__ import annotations

from ._engine import Engine, EngineSettings
from ._filters import (
    ChannelSelect,
    NonFiniteGuard,
    Preprocessor,
    PreprocessSettings,
    Rereference,
    Resample,
    SOSFilter,
    bandpass,
    notch,
)
from ._postprocess import PostProcessor, PostprocessSettings
from ._stats import STAGES, Budgets, Counters, LatencyStats, stage_durations
from ._window import RingBuffer, Window, Windower

__all__ = [
    "STAGES",
    "Budgets",
    "ChannelSelect",
    "Counters",
    "Engine",
    "EngineSettings",
    "LatencyStats",
    "NonFiniteGuard",
    "PostProcessor",
    "PostprocessSettings",
    "PreprocessSettings",
    "Preprocessor",
    "Rereference",
    "Resample",
    "RingBuffer",
    "SOSFilter",
    "Window",
    "Windower",
    "bandpass",
    "notch",
    "stage_durations",
]
