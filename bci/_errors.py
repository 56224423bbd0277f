"""The error hierarchy: one root, one subclass per domain.

Every error the library raises on purpose derives from :class:`BCIError`, so a caller
can catch everything of ours with one clause and still tell a bad config from an
unplugged headset.
"""

from __future__ import annotations


class BCIError(Exception):
    """Root of every error raised on purpose by bci-runtime."""


class ConfigError(BCIError):
    """A configuration file or value is invalid.

    Parameters
    ----------
    message : str
        Human-readable summary.
    problems : list of tuple of (str, object, str)
        One ``(key_path, bad_value, what_is_allowed)`` per problem found, so a caller
        (``bci validate``) can report all of them at once.
    """

    def __init__(self, message: str, problems: list[tuple[str, object, str]] | None = None):
        super().__init__(message)
        self.problems = list(problems or [])


class DeviceError(BCIError):
    """A device (BrainFlow board, simulated headset) failed or is missing.

    Parameters
    ----------
    message : str
        Human-readable summary.
    exit_code : int | None
        The vendor's error code (BrainFlow's ``exit_code``) when there is one.
    """

    def __init__(self, message: str, exit_code: int | None = None):
        super().__init__(message)
        self.exit_code = exit_code


class StreamError(BCIError):
    """An LSL stream is missing, silent, or does not match what was expected."""


class RecordingError(BCIError):
    """A recording file cannot be read or written (corrupt, truncated, wrong format)."""


class DecoderError(BCIError):
    """A decoder cannot be loaded, does not match its input, or failed to run."""


class StimulusError(BCIError):
    """A stimulus is invalid or unsafe, or the presenter failed."""


class SafetyError(StimulusError):
    """A stimulus breaks a photosensitivity rule and no permitted clamp can fix it."""
