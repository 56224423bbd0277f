"""Closed-loop stimuli: in-silico visual model, optimizer, safety limiter, PsychoPy presenter.

``import bci.stimuli`` does not import torch or PsychoPy; the modules that need them import them
when used.
"""

from __future__ import annotations

from ._loop import run_closed_loop
from ._presenter import Presenter
from ._safety import SafetyLimiter, field_area_px, relative_luminance
from ._stimulus import Stimulus, decode_image

__all__ = [
    "run_closed_loop",
    "Presenter",
    "SafetyLimiter",
    "Stimulus",
    "decode_image",
    "field_area_px",
    "relative_luminance",
]
