"""The closed loop: in-silico model, optimizer, safety limits, presenter (filled by issue 8)."""

from __future__ import annotations

from pydantic import Field

from ._base import ConfigModel


class ClosedLoopConfig(ConfigModel):
    """Closed-loop stimulus optimization against a participant (real or simulated)."""

    rounds: int = Field(20, ge=1, description="Optimize -> present -> measure -> update rounds.")
