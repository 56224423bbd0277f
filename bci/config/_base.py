"""Base class for every configuration model: frozen, no unknown keys."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class ConfigModel(BaseModel):
    """A frozen pydantic model that rejects unknown keys.

    Every section of a session config derives from it, so a typo such as
    ``bandpas:`` is an error that names the key instead of a silently ignored value.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)
