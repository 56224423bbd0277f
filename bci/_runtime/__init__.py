"""The real-time runtime: pure processing steps, statistics and the asyncio engine."""

from __future__ import annotations

from ._engine import Engine, EngineSettings
from ._epochs import Epocher, EpochSettings
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
from ._pipeline import Cut, Pipeline
from ._postprocess import PostProcessor, PostprocessSettings
from ._stats import STAGES, Budgets, Counters, LatencyStats, stage_durations
from ._window import BadSpans, RingBuffer, Window, Windower

__all__ = [
    "STAGES",
    "BadSpans",
    "Budgets",
    "ChannelSelect",
    "Counters",
    "Cut",
    "Engine",
    "EngineSettings",
    "EpochSettings",
    "Epocher",
    "LatencyStats",
    "NonFiniteGuard",
    "Pipeline",
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
