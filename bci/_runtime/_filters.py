"""Stateful causal preprocessing: every step is ``__call__(data) -> data`` plus ``reset()``.

Arrays are ``(n_channels, n_times)``. Each step carries its state between chunks, so
filtering a signal chunk by chunk gives the same samples as filtering it in one piece
(tested). Steps are plain classes, unit-tested on their own, then chained by
:class:`Preprocessor`; transport code never contains math.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import signal

from .._errors import ConfigError

logger = logging.getLogger(__name__)


class SOSFilter:
    """A causal IIR filter in second-order sections with its state carried between chunks.

    Parameters
    ----------
    sos : ndarray, shape (n_sections, 6)
        Second-order sections (``scipy.signal`` output).
    n_channels : int
        Number of channels filtered in parallel.

    Notes
    -----
    The first chunk initialises the state to the steady state for its first sample
    (``sosfilt_zi``), so a DC offset does not ring through the band-pass.

    Chunks longer than :attr:`small_chunk` samples go through ``scipy.signal.sosfilt``.
    Shorter ones (a live inlet mostly delivers 1-4 samples) take the same cascade written as
    one state-space step per sample, ``y = s c + d x``, ``s <- s A^T + x b``, acting on
    ``sosfilt``'s own direct-form-II-transposed state. That is a few small matrix products
    instead of ``sosfilt``'s fixed call cost, and both paths share the state, so any mix of
    chunk sizes gives the samples of filtering the signal in one piece.
    """

    #: Longest chunk filtered by the per-sample state-space step.
    small_chunk = 4

    def __init__(self, sos: np.ndarray, n_channels: int):
        self.sos = np.asarray(sos, dtype=np.float64)
        self.n_channels = int(n_channels)
        self._zi_unit = signal.sosfilt_zi(self.sos)  # (n_sections, 2)
        self._ss = _state_space(self.sos)
        self._zi: np.ndarray | None = None

    def reset(self) -> None:
        """Forget the filter state; the next chunk starts it again."""
        self._zi = None

    def __call__(self, data: np.ndarray) -> np.ndarray:
        """Filter one chunk ``(n_channels, n_times)``; returns a new float64 array."""
        n = data.shape[1]
        if n == 0:
            return np.asarray(data, dtype=np.float64)
        if self._zi is None:
            # (n_sections, n_channels, 2), scaled by each channel's first sample
            self._zi = (
                self._zi_unit[:, None, :] * np.asarray(data[:, 0], dtype=np.float64)[None, :, None]
            )
        if n > self.small_chunk:
            out, self._zi = signal.sosfilt(self.sos, data, axis=-1, zi=self._zi)
            return out
        a_t, b, c, d = self._ss
        state = self._zi.transpose(1, 0, 2).reshape(self.n_channels, -1)  # (n_ch, 2 n_sections)
        x = np.asarray(data, dtype=np.float64)
        out = np.empty((self.n_channels, n))
        for j in range(n):
            xj = x[:, j]
            out[:, j] = state @ c + d * xj
            state = state @ a_t + np.multiply.outer(xj, b)
        self._zi = state.reshape(self.n_channels, -1, 2).transpose(1, 0, 2)
        return out


def _state_space(sos: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """One sample of ``sosfilt`` as ``y = s c + d x``, ``s' = s A^T + x b`` on its own state.

    ``s`` is the direct-form-II-transposed state of every section, flattened section-major
    (``zi.transpose(1, 0, 2).reshape(n_channels, -1)`` for ``sosfilt``'s ``zi``). The step
    is linear in ``(s, x)``, so running it on unit inputs gives the matrices exactly.
    """
    n_sec = sos.shape[0]
    b_coef = sos[:, :3] / sos[:, 3:4]
    a_coef = sos[:, 3:] / sos[:, 3:4]

    def step(s: np.ndarray, x: float) -> tuple[np.ndarray, float]:
        s = s.reshape(n_sec, 2)
        nxt = np.empty_like(s)
        for k in range(n_sec):  # direct form II transposed, as scipy's sosfilt
            y = b_coef[k, 0] * x + s[k, 0]
            nxt[k, 0] = b_coef[k, 1] * x - a_coef[k, 1] * y + s[k, 1]
            nxt[k, 1] = b_coef[k, 2] * x - a_coef[k, 2] * y
            x = y
        return nxt.ravel(), x

    dim = 2 * n_sec
    a = np.empty((dim, dim))
    c = np.empty(dim)
    for i in range(dim):
        a[:, i], c[i] = step(np.eye(dim)[i], 0.0)
    b, d = step(np.zeros(dim), 1.0)
    return np.ascontiguousarray(a.T), b, c, float(d)


def bandpass(low: float, high: float, sfreq: float, n_channels: int, order: int = 4) -> SOSFilter:
    """A Butterworth band-pass of ``order`` with carried state.

    Raises
    ------
    ConfigError
        When an edge is not below Nyquist, naming the edges and the rate.
    """
    nyq = sfreq / 2.0
    if not 0 < low < high:
        raise ConfigError(f"preprocess.bandpass={[low, high]}: need 0 < low < high")
    if high >= nyq:
        raise ConfigError(
            f"preprocess.bandpass high edge {high} Hz is not below Nyquist ({nyq:g} Hz at "
            f"{sfreq:g} Hz); lower it or resample"
        )
    sos = signal.butter(order, [low, high], btype="bandpass", fs=sfreq, output="sos")
    return SOSFilter(sos, n_channels)


def notch(freq: float, sfreq: float, n_channels: int, quality: float = 30.0) -> SOSFilter:
    """An IIR notch (``scipy.signal.iirnotch``) at ``freq`` Hz as one second-order section."""
    if not 0 < freq < sfreq / 2.0:
        raise ConfigError(
            f"preprocess.notch={freq} Hz is not between 0 and Nyquist ({sfreq / 2:g} Hz); "
            "set it to the line frequency (50 or 60) or null"
        )
    b, a = signal.iirnotch(freq, quality, fs=sfreq)
    return SOSFilter(signal.tf2sos(b, a), n_channels)


class Rereference:
    """Subtract the average of all channels or of a list of reference channels.

    Parameters
    ----------
    ch_names : sequence of str
        Channel names of the incoming data.
    ref : ``"average"`` | list of str
        Common average, or the channels whose mean is the reference.
    """

    def __init__(self, ch_names: Sequence[str], ref: str | Sequence[str]):
        names = list(ch_names)
        if ref == "average":
            self._idx: np.ndarray | None = None
        else:
            missing = [r for r in ref if r not in names]
            if missing:
                raise ConfigError(
                    f"preprocess.reref: channels {missing} are not in the stream {names}"
                )
            self._idx = np.array([names.index(r) for r in ref])

    def reset(self) -> None:
        """Stateless: nothing to forget."""

    def __call__(self, data: np.ndarray) -> np.ndarray:
        """Re-reference one chunk (a new array)."""
        ref = data.mean(axis=0) if self._idx is None else data[self._idx].mean(axis=0)
        return data - ref[None, :]


class ChannelSelect:
    """Keep and reorder channels by name (the decoder's order).

    Raises
    ------
    ConfigError
        When a requested channel is not in the stream.
    """

    def __init__(self, ch_names: Sequence[str], keep: Sequence[str]):
        names = list(ch_names)
        missing = [c for c in keep if c not in names]
        if missing:
            raise ConfigError(
                f"preprocess.channels: {missing} are not in the stream; it has {names}"
            )
        self.ch_names = list(keep)
        self._idx = np.array([names.index(c) for c in keep])

    def reset(self) -> None:
        """Stateless: nothing to forget."""

    def __call__(self, data: np.ndarray) -> np.ndarray:
        """Select channels (a new array)."""
        return data[self._idx]


class Resample:
    """Stateful causal resampling: anti-alias low-pass, then linear interpolation.

    The output grid is ``t_k = k / sfreq_out`` (in input-sample units ``k * ratio``) and
    carries across chunks, so the output rate is exact with no drift; the last input
    sample is kept to interpolate across chunk edges.

    Parameters
    ----------
    sfreq_in, sfreq_out : float
        Input and output rates in Hz.
    n_channels : int
        Number of channels.
    """

    def __init__(self, sfreq_in: float, sfreq_out: float, n_channels: int):
        self.sfreq_in = float(sfreq_in)
        self.sfreq_out = float(sfreq_out)
        self.ratio = self.sfreq_in / self.sfreq_out  # input samples per output sample
        cutoff = 0.45 * min(self.sfreq_in, self.sfreq_out)
        sos = signal.butter(8, cutoff, btype="lowpass", fs=self.sfreq_in, output="sos")
        self._aa = SOSFilter(sos, n_channels) if self.sfreq_out < self.sfreq_in else None
        self.reset()

    def reset(self) -> None:
        """Forget the anti-alias state and the output phase."""
        if self._aa is not None:
            self._aa.reset()
        self._last: np.ndarray | None = None  # last input sample of the previous chunk
        self._n_in = 0  # input samples consumed so far
        self._next = 0.0  # position (input-sample units) of the next output sample
        self.offsets = np.empty(0)  # last chunk's output positions, relative to its first sample

    def positions(self, n_in: int) -> np.ndarray:
        """Positions (in input-sample units) of the output samples a chunk of ``n_in`` yields."""
        end = self._n_in + n_in - 1  # last input index available
        if end < self._next:
            return np.empty(0)
        count = int(np.floor((end - self._next) / self.ratio)) + 1
        return self._next + self.ratio * np.arange(count)

    def __call__(self, data: np.ndarray) -> np.ndarray:
        """Resample one chunk; returns ``(n_channels, n_out)`` (``n_out`` may be 0)."""
        n_in = data.shape[1]
        if n_in == 0:
            return np.zeros((data.shape[0], 0))
        x = self._aa(data) if self._aa is not None else np.asarray(data, dtype=np.float64)
        pos = self.positions(n_in)
        # Extended input: the previous chunk's last sample at index self._n_in - 1.
        if self._last is None:
            ext = x
            base = self._n_in
        else:
            ext = np.concatenate([self._last[:, None], x], axis=1)
            base = self._n_in - 1
        rel = pos - base
        lo = np.clip(np.floor(rel).astype(np.int64), 0, ext.shape[1] - 1)
        hi = np.minimum(lo + 1, ext.shape[1] - 1)
        frac = rel - lo
        out = ext[:, lo] * (1.0 - frac) + ext[:, hi] * frac
        self._last = x[:, -1].copy()
        self.offsets = pos - self._n_in  # output positions relative to this chunk's first sample
        self._n_in += n_in
        if pos.size:
            self._next = float(pos[-1] + self.ratio)
        return out


@dataclass(frozen=True)
class PreprocessSettings:
    """What :class:`Preprocessor` applies, in this order: channels, reref, notch, band-pass, resample.

    Parameters
    ----------
    sfreq : float
        Input rate in Hz.
    ch_names : tuple of str
        Input channel names.
    bandpass : tuple of float | None
        Band-pass edges in Hz.
    notch : float | None
        Notch frequency in Hz.
    reref : ``"average"`` | tuple of str | None
        Re-reference.
    resample : float | None
        Output rate in Hz.
    channels : tuple of str | None
        Channels to keep, in order.
    """

    sfreq: float
    ch_names: tuple[str, ...]
    bandpass: tuple[float, float] | None = None
    notch: float | None = None
    reref: str | tuple[str, ...] | None = None
    resample: float | None = None
    channels: tuple[str, ...] | None = None


class Preprocessor:
    """The chain of stateful steps from :class:`PreprocessSettings`.

    Attributes
    ----------
    ch_names : list of str
        Channel names of the output.
    sfreq : float
        Output rate in Hz.
    """

    def __init__(self, settings: PreprocessSettings):
        self.settings = settings
        names = list(settings.ch_names)
        steps: list = []
        if settings.channels is not None:
            sel = ChannelSelect(names, settings.channels)
            steps.append(sel)
            names = sel.ch_names
        n = len(names)
        if settings.reref is not None:
            steps.append(Rereference(names, settings.reref))
        if settings.notch is not None:
            steps.append(notch(settings.notch, settings.sfreq, n))
        if settings.bandpass is not None:
            steps.append(bandpass(settings.bandpass[0], settings.bandpass[1], settings.sfreq, n))
        # notch then band-pass as one cascade: one sosfilt call per chunk instead of two
        # (the same sections in the same order, so the same samples)
        if len(steps) >= 2 and all(isinstance(st, SOSFilter) for st in steps[-2:]):
            merged = SOSFilter(np.vstack([steps[-2].sos, steps[-1].sos]), n)
            steps[-2:] = [merged]
        self.resampler: Resample | None = None
        sfreq = settings.sfreq
        if settings.resample is not None and abs(settings.resample - settings.sfreq) > 1e-9:
            self.resampler = Resample(settings.sfreq, settings.resample, n)
            steps.append(self.resampler)
            sfreq = settings.resample
        self.steps = steps
        self.ch_names = names
        self.sfreq = float(sfreq)

    def reset(self) -> None:
        """Reset every step."""
        for step in self.steps:
            step.reset()

    def __call__(self, data: np.ndarray) -> np.ndarray:
        """Run the chain on one chunk; returns float32 ``(n_channels_out, n_out)``."""
        out = data
        for step in self.steps:
            out = step(out)
        return np.asarray(out, dtype=np.float32)

    def describe(self) -> str:
        """One line saying what is applied (for the log)."""
        s = self.settings
        parts = [
            f"channels={list(s.channels)}" if s.channels else None,
            f"reref={s.reref}" if s.reref else None,
            f"notch={s.notch:g} Hz" if s.notch else None,
            f"bandpass={s.bandpass[0]:g}-{s.bandpass[1]:g} Hz" if s.bandpass else None,
            f"resample {s.sfreq:g}->{self.sfreq:g} Hz" if self.resampler else None,
        ]
        return ", ".join(p for p in parts if p) or "none"


class NonFiniteGuard:
    """Count NaN/inf samples and replace them before they poison the filter state.

    A non-finite value is replaced by the channel's last finite value (0 before any), so the
    IIR state stays finite; the caller skips every window that overlaps the bad samples.

    Attributes
    ----------
    n_bad_samples : int
        Time points with at least one non-finite channel, since the last reset.
    """

    def __init__(self, n_channels: int):
        self.n_channels = int(n_channels)
        self.reset()

    def reset(self) -> None:
        """Forget the last finite values and the count."""
        self._last = np.zeros(self.n_channels, dtype=np.float32)
        self.n_bad_samples = 0

    def __call__(self, data: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """Clean one chunk.

        Returns
        -------
        data : ndarray
            The chunk with non-finite values replaced (the input itself when clean).
        bad : ndarray of int | None
            Indices (in the chunk) of bad time points, or ``None`` when all finite.
        """
        finite = np.isfinite(data)
        if finite.all():
            if data.shape[1]:
                self._last = data[:, -1].astype(np.float32, copy=True)
            return data, None
        bad_cols = np.flatnonzero(~finite.all(axis=0))
        out = np.array(data, dtype=np.float32, copy=True)
        for j in range(out.shape[1]):  # only chunks with bad samples take this path
            col = out[:, j]
            ok = finite[:, j]
            col[~ok] = self._last[~ok]
            self._last = col.copy()
        self.n_bad_samples += int(bad_cols.size)
        return out, bad_cols
