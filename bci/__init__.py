"""bci-runtime: a real-time, closed-loop brain-computer-interface runtime.

``import bci`` is light on purpose: it never imports torch, so the live decode path
stays small and fast. Training and stimulus optimization import torch themselves.
"""

from __future__ import annotations

from ._decoder import DecoderONNX
from ._errors import (
    BCIError,
    ConfigError,
    DecoderError,
    DeviceError,
    RecordingError,
    SafetyError,
    StimulusError,
    StreamError,
)
from ._evaluate_run import DecodedRecording, decode_recording
from ._session import SessionResult, run_session
from ._types import Chunk, Decision, Marker, Recording, Signal, StreamSpec

__version__ = "0.1.0"

__all__ = [
    "BCIError",
    "Chunk",
    "ConfigError",
    "Decision",
    "DecodedRecording",
    "DecoderError",
    "DecoderONNX",
    "DeviceError",
    "Marker",
    "RecordingError",
    "SafetyError",
    "Recording",
    "SessionResult",
    "Signal",
    "StimulusError",
    "StreamError",
    "StreamSpec",
    "__version__",
    "decode_recording",
    "run_session",
]
