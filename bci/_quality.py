"""Signal quality per channel: flat, railed, line noise, high variance, disconnected.

:class:`QualityCheck` is a pure function of a block of raw samples (a few seconds,
``(n_channels, n_times)`` in microvolts) and, where a board reports them, electrode
impedances. ``bci check``, the live view and a session's start-up check all use it.

Order of the tests (the first that matches names the channel's status):

1. ``disconnected``: the channel reads exactly zero or mostly non-finite values, or its
   impedance is above ``impedance_kohm``;
2. ``railed``: at least ``rail_fraction`` of the samples sit at the amplifier's rail
   (``|x| >= rail_uv``) or are clipped (repeat the block's minimum or maximum);
3. ``flat``: standard deviation below ``flat_uv``;
4. ``line_noise``: the line frequency (and its harmonics) carries more than ``line_ratio``
   of the power between 1 Hz and Nyquist;
5. ``high_variance``: after a 1-40 Hz band-pass, the standard deviation is above
   ``high_variance_uv`` and above ``high_variance_factor`` times the median channel's.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from ._errors import ConfigError

STATUSES = ("ok", "disconnected", "railed", "flat", "line_noise", "high_variance")


@dataclass(frozen=True)
class QualitySettings:
    """Thresholds of :class:`QualityCheck` (amplitudes in microvolts)."""

    line_freq: float = 50.0
    flat_uv: float = 0.5
    rail_uv: float = 187_500.0  # ADS1299 (OpenBCI Cyton) at gain 24: 4.5 V / 24
    rail_fraction: float = 0.05
    line_ratio: float = 0.5
    high_variance_uv: float = 100.0
    high_variance_factor: float = 5.0
    impedance_kohm: float = 750.0


@dataclass(frozen=True)
class ChannelQuality:
    """The verdict on one channel, with the figures behind it."""

    name: str
    status: str
    std_uv: float
    band_std_uv: float
    line_ratio: float
    rail_fraction: float
    impedance_kohm: float | None = None

    @property
    def ok(self) -> bool:
        """Whether the channel passed every test."""
        return self.status == "ok"

    def as_dict(self) -> dict:
        """JSON-ready fields, rounded."""
        d = asdict(self)
        for k, v in d.items():
            if isinstance(v, float):
                d[k] = round(v, 4) if np.isfinite(v) else None
        return d


def _band_sos(sfreq: float) -> np.ndarray | None:
    from scipy import signal

    high = min(40.0, 0.45 * sfreq)
    if high <= 1.0:
        return None
    return signal.butter(4, (1.0, high), btype="bandpass", fs=sfreq, output="sos")


class QualityCheck:
    """Classify every channel of a raw block (see the module docstring for the tests).

    Parameters
    ----------
    sfreq : float
        Sampling rate in Hz.
    ch_names : sequence of str
        Channel names, in the block's row order.
    settings : QualitySettings | None
        Thresholds.
    """

    def __init__(
        self,
        sfreq: float,
        ch_names: list[str] | tuple[str, ...],
        settings: QualitySettings | None = None,
    ) -> None:
        if sfreq <= 0:
            raise ConfigError(f"signal quality needs a regular stream; sfreq={sfreq}")
        self.sfreq = float(sfreq)
        self.ch_names = tuple(ch_names)
        self.settings = settings or QualitySettings()
        self._sos = _band_sos(self.sfreq)

    def reset(self) -> None:
        """Nothing is kept between calls; present for the processing-class protocol."""

    def line_ratios(self, x: np.ndarray) -> np.ndarray:
        """Fraction of 1 Hz..Nyquist power within +-1 Hz of the line frequency and harmonics."""
        from scipy import signal

        n = x.shape[1]
        lf = self.settings.line_freq
        if lf <= 0 or n < 16:
            return np.zeros(x.shape[0])
        nper = int(min(n, 2 * self.sfreq))
        f, p = signal.welch(x, fs=self.sfreq, nperseg=nper, axis=-1)
        band = f >= 1.0
        line = np.zeros_like(band)
        k = 1
        while k * lf < self.sfreq / 2:
            line |= np.abs(f - k * lf) <= 1.0
            k += 1
        total = p[:, band].sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            ratio = p[:, line & band].sum(axis=1) / total
        return np.nan_to_num(ratio)

    def __call__(
        self, data: np.ndarray, impedance_kohm: np.ndarray | None = None
    ) -> list[ChannelQuality]:
        """Classify each channel of ``data`` (``(n_channels, n_times)``, microvolts).

        Parameters
        ----------
        data : ndarray
            Raw samples (not filtered), at least a second is advisable.
        impedance_kohm : ndarray | None
            Per-channel electrode impedance in kilo-ohms (``nan`` where unknown).
        """
        s = self.settings
        x = np.asarray(data, dtype=np.float64)
        if x.ndim != 2 or x.shape[0] != len(self.ch_names):
            raise ValueError(
                f"data must be (n_channels={len(self.ch_names)}, n_times); got {x.shape}"
            )
        n_ch, n = x.shape
        finite = np.isfinite(x)
        frac_bad = 1.0 - finite.mean(axis=1) if n else np.ones(n_ch)
        xf = np.where(finite, x, 0.0)
        std = xf.std(axis=1) if n else np.zeros(n_ch)
        zero = np.all(xf == 0.0, axis=1) if n else np.ones(n_ch, bool)
        if n:
            hi, lo = xf.max(axis=1, keepdims=True), xf.min(axis=1, keepdims=True)
            # clipped: runs of samples stuck at the block's extreme (a periodic signal that
            # merely repeats its peak value is not clipped); a constant is flat, not clipped
            at_edge = (xf[:, 1:] == hi) | (xf[:, 1:] == lo)
            clipped = (at_edge & (xf[:, 1:] == xf[:, :-1])).sum(axis=1) / n
            clipped = np.where(std >= s.flat_uv, clipped, 0.0)
            at_rail = (np.abs(xf) >= s.rail_uv).mean(axis=1)
            rail = np.maximum(clipped, at_rail)
        else:
            rail = np.zeros(n_ch)
        line = self.line_ratios(xf)
        if self._sos is not None and n > 30:
            from scipy import signal

            xd = xf - xf.mean(axis=1, keepdims=True)
            band = signal.sosfiltfilt(self._sos, xd, axis=-1)
            # the first and last 0.25 s carry the filter's edge transients
            edge = min(n // 4, int(0.25 * self.sfreq))
            band_std = band[:, edge : n - edge].std(axis=1)
        else:
            band_std = std.copy()
        imp = (
            np.full(n_ch, np.nan)
            if impedance_kohm is None
            else np.asarray(impedance_kohm, dtype=np.float64)
        )
        usable = ~(zero | (frac_bad > 0.5))
        median = float(np.median(band_std[usable])) if usable.any() else 0.0
        out = []
        for i, name in enumerate(self.ch_names):
            if zero[i] or frac_bad[i] > 0.5 or (np.isfinite(imp[i]) and imp[i] > s.impedance_kohm):
                status = "disconnected"
            elif rail[i] >= s.rail_fraction:
                status = "railed"
            elif std[i] < s.flat_uv:
                status = "flat"
            elif line[i] > s.line_ratio:
                status = "line_noise"
            elif band_std[i] > s.high_variance_uv and band_std[i] > s.high_variance_factor * median:
                status = "high_variance"
            else:
                status = "ok"
            out.append(
                ChannelQuality(
                    name=name,
                    status=status,
                    std_uv=float(std[i]),
                    band_std_uv=float(band_std[i]),
                    line_ratio=float(line[i]),
                    rail_fraction=float(rail[i]),
                    impedance_kohm=float(imp[i]) if np.isfinite(imp[i]) else None,
                )
            )
        return out


def bad_required(
    report: list[ChannelQuality], required: list[str] | tuple[str, ...] | None
) -> list[ChannelQuality]:
    """The bad channels among ``required`` (all channels when ``required`` is ``None``)."""
    if required is None:
        return [c for c in report if not c.ok]
    want = set(required)
    return [c for c in report if c.name in want and not c.ok]


def format_table(report: list[ChannelQuality], required: set[str] | None = None) -> str:
    """A plain-text table: channel, status, std, 1-40 Hz std, line ratio, rail, impedance."""
    head = f"{'channel':<10} {'status':<14} {'std uV':>9} {'1-40 uV':>9} {'line':>6} {'rail':>6} {'kOhm':>7}  req"
    lines = [head, "-" * len(head)]
    for c in report:
        imp = f"{c.impedance_kohm:7.0f}" if c.impedance_kohm is not None else f"{'-':>7}"
        req = "*" if required is None or c.name in required else ""
        lines.append(
            f"{c.name:<10} {c.status:<14} {c.std_uv:9.2f} {c.band_std_uv:9.2f} "
            f"{c.line_ratio:6.2f} {c.rail_fraction:6.2f} {imp}  {req}"
        )
    return "\n".join(lines)


def read_stream(
    source: object, duration: float, progress: bool = False
) -> tuple[np.ndarray, object]:
    """Pull ``duration`` seconds from a connected :class:`bci.devices.SourceLSL`.

    Returns
    -------
    data, spec
        ``(n_channels, n_times)`` samples and the stream's description.

    Raises
    ------
    StreamError
        When the stream delivers less than half of what was asked within twice the time.
    """
    import time

    from ._errors import StreamError

    spec = source.spec
    want = int(round(duration * spec.sfreq))
    parts: list[np.ndarray] = []
    got = 0
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(
            total=want, unit="sample", desc=f"reading {spec.name}", leave=False, disable=None
        )
    deadline = time.monotonic() + 2 * duration + 2.0
    try:
        while got < want and time.monotonic() < deadline:
            chunk = source.pull(timeout=0.1)
            if chunk is None:
                continue
            parts.append(chunk.data)
            got += chunk.data.shape[1]
            if bar is not None:
                bar.update(min(chunk.data.shape[1], want - bar.n))
    finally:
        if bar is not None:
            bar.close()
    if got < want // 2:
        raise StreamError(
            f"stream {spec.name!r} delivered {got} of {want} samples in {2 * duration + 2:g} s; "
            "is it running?"
        )
    return np.concatenate(parts, axis=1)[:, :want], spec


def read_impedance(signal_name: str, n_channels: int) -> np.ndarray | None:
    """Latest electrode impedances (kOhm) from a BrainFlow ``<name>-Resistance`` stream."""
    from bci.devices import SourceLSL, list_streams

    name = f"{signal_name}-Resistance"
    if not any(s.name == name for s in list_streams(timeout=0.5, desc=False)):
        return None
    with SourceLSL(name=name, timeout=2.0) as src:
        for _ in range(30):
            chunk = src.pull(timeout=0.1)
            if chunk is not None and chunk.data.shape[0] >= n_channels:
                return chunk.data[:n_channels, -1].astype(np.float64) / 1e3
    return None


def settings_from_config(config: object, line_freq: float = 50.0) -> QualitySettings:
    """:class:`QualitySettings` from a session's ``quality`` section."""
    return QualitySettings(
        line_freq=line_freq,
        flat_uv=config.flat_uv,
        rail_uv=config.rail_uv,
        line_ratio=config.line_ratio,
        high_variance_uv=config.high_variance_uv,
        impedance_kohm=config.impedance_kohm,
    )


def startup_check(
    source: object,
    config: object,
    required: list[str] | None,
    line_freq: float = 50.0,
) -> list[ChannelQuality]:
    """A session's check before it starts (``quality.on_bad``: warn or refuse).

    ``source`` is an unconnected :class:`bci.devices.SourceLSL` for the decoded stream; it is
    connected, read for ``quality.duration`` seconds and disconnected.

    Raises
    ------
    DeviceError
        ``on_bad: refuse`` and a required channel is bad.
    """
    import logging

    from ._errors import DeviceError

    log = logging.getLogger(__name__)
    with source:
        data, spec = read_stream(source, config.duration)
    imp = read_impedance(spec.name, spec.n_channels)
    report = QualityCheck(spec.sfreq, spec.ch_names, settings_from_config(config, line_freq))(
        data, imp
    )
    need = config.channels or required
    need = [c for c in need if c in spec.ch_names] if need else None
    bad = bad_required(report, need)
    if not bad:
        log.info("signal quality: all %d required channels good", len(need or report))
        return report
    text = ", ".join(f"{c.name} ({c.status})" for c in bad)
    if config.on_bad == "refuse":
        raise DeviceError(
            f"bad required channel(s) on {spec.name!r}: {text}. Fix the electrodes (bci check "
            "shows the figures) or set quality.on_bad: warn"
        )
    log.warning("bad required channel(s) on %r: %s (quality.on_bad: warn)", spec.name, text)
    return report


__all__ = [
    "STATUSES",
    "ChannelQuality",
    "QualityCheck",
    "QualitySettings",
    "bad_required",
    "format_table",
    "read_impedance",
    "read_stream",
    "settings_from_config",
    "startup_check",
]
