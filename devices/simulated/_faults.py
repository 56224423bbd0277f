"""Electrode faults for the simulated participant: flat, railed and mains-dominated channels.

Real recordings have bad channels; the signal-quality check (``bci check``) and the live
view must find them. :class:`FaultInjector` rewrites the named channels of each rendered
block, keeping the sample index so the injected sine stays continuous across pushes.
"""

from __future__ import annotations

import numpy as np

from bci._errors import ConfigError

RAIL_UV = 187_500.0  # ADS1299 at gain 24: what a railed OpenBCI channel reads
FLAT_UV = 12.5  # a dead input: a constant DC offset, no signal
LINE_UV = 60.0  # amplitude of the injected mains sine


class FaultInjector:
    """Overwrite faulty channels in ``(n_channels, n_times)`` blocks.

    Parameters
    ----------
    ch_names : sequence of str
        The participant's channels.
    sfreq : float
        Sampling rate in Hz.
    flat, railed, line_noise : sequence of str
        Channels to make flat, railed, or dominated by a sine at ``line_freq``.
    line_freq : float
        Mains frequency (50 Hz when 0 is given: the fault needs a frequency).
    """

    def __init__(
        self,
        ch_names: list[str] | tuple[str, ...],
        sfreq: float,
        flat: list[str] | tuple[str, ...] = (),
        railed: list[str] | tuple[str, ...] = (),
        line_noise: list[str] | tuple[str, ...] = (),
        line_freq: float = 50.0,
    ) -> None:
        names = list(ch_names)
        index = {n: i for i, n in enumerate(names)}

        def rows(key: str, chans: list[str] | tuple[str, ...]) -> list[int]:
            unknown = [c for c in chans if c not in index]
            if unknown:
                raise ConfigError(
                    f"faults.{key}: unknown channel(s) {unknown}; the participant has {names}"
                )
            return [index[c] for c in chans]

        self.flat = rows("flat", flat)
        self.railed = rows("railed", railed)
        self.line = rows("line_noise", line_noise)
        self.sfreq = float(sfreq)
        self.line_freq = float(line_freq) or 50.0

    @property
    def active(self) -> bool:
        """Whether any fault is configured."""
        return bool(self.flat or self.railed or self.line)

    def __call__(self, data: np.ndarray, first: int) -> np.ndarray:
        """Apply the faults in place to a block whose first sample has index ``first``."""
        if self.flat:
            data[self.flat] = FLAT_UV
        if self.railed:
            data[self.railed] = RAIL_UV
        if self.line:
            t = (first + np.arange(data.shape[1])) / self.sfreq
            data[self.line] += LINE_UV * np.sin(2 * np.pi * self.line_freq * t)
        return data
