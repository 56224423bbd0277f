"""Electrode positions of the simulated headset and spatial mixing helpers.

Positions are approximate 10-10 locations on a unit sphere (x right, y nose, z up),
built from a flat azimuthal layout (``r = 0`` at Cz, ``r = 1`` on the Fpz-T7-Oz-T8
circumference). They only need to be good enough to make nearby electrodes correlate and
topographies (occipital SSVEP, parietal P300, frontal blinks) fall off smoothly.
"""

from __future__ import annotations

import numpy as np

from bci._errors import ConfigError

#: Azimuthal (x, y) layout, unit radius at the 10-20 circumference.
_LAYOUT: dict[str, tuple[float, float]] = {
    "Fp1": (-0.31, 0.95), "Fpz": (0.0, 1.0), "Fp2": (0.31, 0.95),
    "AF3": (-0.28, 0.78), "AFz": (0.0, 0.75), "AF4": (0.28, 0.78),
    "F7": (-0.81, 0.59), "F3": (-0.39, 0.52), "Fz": (0.0, 0.5), "F4": (0.39, 0.52),
    "F8": (0.81, 0.59), "FC5": (-0.62, 0.28), "FC1": (-0.2, 0.25), "FC2": (0.2, 0.25),
    "FC6": (0.62, 0.28), "T7": (-1.0, 0.0), "C3": (-0.5, 0.0), "Cz": (0.0, 0.0),
    "C4": (0.5, 0.0), "T8": (1.0, 0.0), "CP5": (-0.62, -0.28), "CP1": (-0.2, -0.25),
    "CP2": (0.2, -0.25), "CP6": (0.62, -0.28), "P7": (-0.81, -0.59), "P3": (-0.39, -0.52),
    "Pz": (0.0, -0.5), "P4": (0.39, -0.52), "P8": (0.81, -0.59), "PO3": (-0.28, -0.78),
    "POz": (0.0, -0.75), "PO4": (0.28, -0.78), "PO7": (-0.59, -0.81), "PO8": (0.59, -0.81),
    "O1": (-0.31, -0.95), "Oz": (0.0, -1.0), "O2": (0.31, -0.95),
}  # fmt: skip

#: The default 16-channel montage (docs/design.md#simulated), in stream order.
DEFAULT_EEG_MONTAGE: tuple[str, ...] = (
    "Fp1", "Fp2", "F3", "F4", "T7", "C3", "Cz", "C4",
    "T8", "P3", "Pz", "P4", "POz", "O1", "Oz", "O2",
)  # fmt: skip
# Which channels survive when fewer than 16 are asked for (occipital first), and which are
# added beyond 16, in order.
_PRIORITY = ("O1", "Oz", "O2", "POz", "Pz", "Fp1", "Fp2", "Cz", "T7", "T8", "C3", "C4",
             "P3", "P4", "F3", "F4")  # fmt: skip
_EXTRA = ("Fz", "PO3", "PO4", "CP1", "CP2", "FC1", "FC2", "P7", "P8", "F7", "F8",
          "CP5", "CP6", "FC5", "FC6", "AFz")  # fmt: skip


def eeg_montage(
    n_channels: int = 16, ch_names: tuple[str, ...] | list[str] | None = None
) -> tuple[str, ...]:
    """Channel names of the simulated headset.

    Parameters
    ----------
    n_channels : int
        8-32. 16 gives :data:`DEFAULT_EEG_MONTAGE`; fewer keep the occipital/parietal
        channels first; more add ``Fz, PO3, PO4, CP1...``.
    ch_names : sequence of str | None
        An explicit montage (any 10-10 names in :data:`_LAYOUT`); overrides ``n_channels``.

    Returns
    -------
    tuple of str
    """
    if ch_names:
        unknown = [c for c in ch_names if c not in _LAYOUT]
        if unknown:
            raise ConfigError(
                f"simulated montage: unknown channel(s) {unknown}; use 10-10 names from "
                f"{sorted(_LAYOUT)}",
                [("ch_names", unknown, "10-10 channel names")],
            )
        return tuple(ch_names)
    if not 8 <= n_channels <= 32:
        raise ConfigError(
            f"simulated EEG: n_channels={n_channels} is out of range; use 8 to 32",
            [("n_channels", n_channels, "8..32 for mode: eeg")],
        )
    if n_channels <= 16:
        keep = set(_PRIORITY[:n_channels])
        return tuple(c for c in DEFAULT_EEG_MONTAGE if c in keep)
    return DEFAULT_EEG_MONTAGE + _EXTRA[: n_channels - 16]


def positions(ch_names: tuple[str, ...] | list[str]) -> np.ndarray:
    """Unit-sphere positions, shape ``(n_channels, 3)``."""
    xy = np.array([_LAYOUT[c] for c in ch_names], dtype=float)
    r = np.hypot(xy[:, 0], xy[:, 1])
    theta = r * np.pi / 2  # polar angle from the vertex
    scale = np.where(r > 0, np.sin(theta) / np.maximum(r, 1e-12), 0.0)
    return np.column_stack([xy[:, 0] * scale, xy[:, 1] * scale, np.cos(theta)])


def topography(ch_names: tuple[str, ...], center: tuple[float, float], width: float) -> np.ndarray:
    """Gaussian weights (peak 1) around a flat-layout ``center`` with ``width`` (layout units)."""
    xy = np.array([_LAYOUT[c] for c in ch_names], dtype=float)
    d2 = ((xy - np.asarray(center)) ** 2).sum(axis=1)
    return np.exp(-d2 / (2 * width**2))


def spatial_mixing(
    ch_names: tuple[str, ...], length: float = 0.45, common: float = 0.3
) -> np.ndarray:
    """A mixing matrix ``L`` so that ``L @ white`` has volume-conduction-like correlation.

    The covariance is ``(1 - common) * exp(-d / length) + common`` (``d``: distance on the
    unit sphere; ``common``: the share of a reference-like component seen by every channel),
    and ``L`` is its Cholesky factor, so every channel keeps unit variance.
    """
    p = positions(ch_names)
    d = np.linalg.norm(p[:, None, :] - p[None, :, :], axis=-1)
    cov = (1 - common) * np.exp(-d / length) + common
    return np.linalg.cholesky(cov + 1e-9 * np.eye(len(ch_names)))
