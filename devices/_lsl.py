"""LSL sources and outlets: resolve, pull to "now", detect gaps, reconnect.

:class:`SourceLSL` wraps a ``pylsl.StreamInlet`` with the behaviour a real-time
runtime needs: clock correction and dejitter done by liblsl, a capped inlet buffer
drained to "now" into cached buffers (optionally after waiting for the first sample), lost-sample counting
from the timestamps, silence detection, reconnection when the stream returns and
gap events describing all of it. :class:`OutletLSL` and :class:`MarkerOutletLSL`
publish numeric and string streams with full channel metadata.
"""

from __future__ import annotations

import ctypes
import json
import logging
import math
import time
from typing import TYPE_CHECKING

import numpy as np
import pylsl

from bci._errors import StreamError
from bci._types import Chunk, Marker, StreamSpec

if TYPE_CHECKING:
    from collections.abc import Sequence

logger = logging.getLogger(__name__)

#: liblsl post-processing used for every source: clock synchronization (thread-safe
#: because pulls run on an executor). Dejitter is done here by :class:`Dejitter`, which,
#: unlike liblsl's, knows about lost samples: liblsl's smoother counts received samples
#: only, so after a buffer overflow it spreads the hole over the following seconds.
PROC_FLAGS = pylsl.proc_clocksync | pylsl.proc_threadsafe

_FORMATS = {
    "float32": pylsl.cf_float32,
    "float64": pylsl.cf_double64,
    "double64": pylsl.cf_double64,
    "int8": pylsl.cf_int8,
    "int16": pylsl.cf_int16,
    "int32": pylsl.cf_int32,
    "int64": pylsl.cf_int64,
    "string": pylsl.cf_string,
}
_FORMAT_NAMES = {
    pylsl.cf_float32: "float32",
    pylsl.cf_double64: "float64",
    pylsl.cf_int8: "int8",
    pylsl.cf_int16: "int16",
    pylsl.cf_int32: "int32",
    pylsl.cf_int64: "int64",
    pylsl.cf_string: "string",
}


# --------------------------------------------------------------------------- metadata
def info_from_spec(spec: StreamSpec) -> pylsl.StreamInfo:
    """Build a ``pylsl.StreamInfo`` (with a full channel description) from a spec.

    Parameters
    ----------
    spec : StreamSpec
        Name, type, source id, rate, channel labels/types/units and sample format.

    Returns
    -------
    info : pylsl.StreamInfo
        The description, with ``desc/channels/channel/{label,type,unit}`` and
        ``desc/manufacturer`` filled in (the XDF meta-data conventions).
    """
    if spec.dtype not in _FORMATS:
        raise StreamError(
            f"Stream {spec.name!r}: dtype {spec.dtype!r} is not an LSL format; "
            f"use one of {sorted(_FORMATS)}."
        )
    info = pylsl.StreamInfo(
        name=spec.name,
        type=spec.stype,
        channel_count=spec.n_channels,
        nominal_srate=float(spec.sfreq),
        channel_format=_FORMATS[spec.dtype],
        source_id=spec.source_id,
    )
    desc = info.desc()
    if spec.manufacturer:
        desc.append_child_value("manufacturer", spec.manufacturer)
    channels = desc.append_child("channels")
    for k, label in enumerate(spec.ch_names):
        ch = channels.append_child("channel")
        ch.append_child_value("label", label)
        if k < len(spec.ch_types) and spec.ch_types[k]:
            ch.append_child_value("type", spec.ch_types[k])
        if k < len(spec.units) and spec.units[k]:
            ch.append_child_value("unit", spec.units[k])
    return info


def spec_from_info(info: pylsl.StreamInfo) -> StreamSpec:
    """Read a :class:`~bci.StreamSpec` out of a ``pylsl.StreamInfo``.

    Channel labels, types and units come from ``desc/channels`` when the sender
    wrote them; missing labels become ``ch1..chN``.
    """
    n = info.channel_count()
    names, types, units = [], [], []
    ch = info.desc().child("channels").child("channel")
    while not ch.empty() and len(names) < n:
        names.append(ch.child_value("label") or f"ch{len(names) + 1}")
        types.append(ch.child_value("type"))
        units.append(ch.child_value("unit"))
        ch = ch.next_sibling("channel")
    names += [f"ch{k + 1}" for k in range(len(names), n)]
    types += [""] * (n - len(types))
    units += [""] * (n - len(units))
    return StreamSpec(
        name=info.name(),
        stype=info.type(),
        source_id=info.source_id(),
        sfreq=float(info.nominal_srate()),
        ch_names=tuple(names),
        ch_types=tuple(types),
        units=tuple(units),
        dtype=_FORMAT_NAMES.get(info.channel_format(), "float32"),
        manufacturer=info.desc().child_value("manufacturer"),
    )


def _describe(info: pylsl.StreamInfo) -> str:
    rate = f"{info.nominal_srate():g} Hz" if info.nominal_srate() else "irregular"
    return (
        f"{info.name()!r} (type={info.type()!r}, {info.channel_count()} ch @ {rate}, "
        f"source_id={info.source_id()!r}, host={info.hostname()!r})"
    )


def _predicate(name: str | None, stype: str | None, source_id: str | None) -> str:
    parts = []
    for key, value in (("name", name), ("type", stype), ("source_id", source_id)):
        if value is not None:
            if "'" in value:
                raise StreamError(f"LSL {key} {value!r} contains a single quote; remove it.")
            parts.append(f"{key}='{value}'")
    if not parts:
        raise StreamError("Give at least one of name, stype or source_id to resolve a stream.")
    return " and ".join(parts)


def list_streams(timeout: float = 1.0, desc: bool = True) -> list[StreamSpec]:
    """List the LSL streams visible on the network now.

    Parameters
    ----------
    timeout : float
        Seconds to wait for stream announcements.
    desc : bool
        Open each stream briefly to read its full description (channel labels,
        types, units). Without it, labels are ``ch1..chN``.

    Returns
    -------
    specs : list of StreamSpec
        Sorted by name, type and source id.
    """
    infos = pylsl.resolve_streams(wait_time=timeout)
    specs = []
    for info in infos:
        if desc:
            inlet = pylsl.StreamInlet(info, max_buflen=1, recover=False)
            try:
                info = inlet.info(timeout=timeout)  # noqa: PLW2901
            except pylsl.util.TimeoutError:
                logger.debug("No description from %s within %.1f s", _describe(info), timeout)
            except pylsl.util.LostError:  # it vanished between resolve and open: not visible now
                logger.debug("Stream %s vanished while listing", _describe(info))
                continue
            finally:
                inlet.close_stream()
                del inlet
        specs.append(spec_from_info(info))
    return sorted(specs, key=lambda s: (s.name, s.stype, s.source_id))


def resolve(
    name: str | None = None,
    stype: str | None = None,
    source_id: str | None = None,
    timeout: float = 5.0,
) -> pylsl.StreamInfo:
    """Find one stream by name, type and/or source id.

    Raises
    ------
    StreamError
        When nothing matches within ``timeout``; the message lists every stream that
        is visible, so a typo is obvious.
    """
    pred = _predicate(name, stype, source_id)
    found = pylsl.resolve_bypred(pred, minimum=1, timeout=timeout)
    if found:
        if len(found) > 1:
            logger.warning("%d streams match %s; using %s", len(found), pred, _describe(found[0]))
        return found[0]
    visible = pylsl.resolve_streams(wait_time=1.0)
    listing = "\n  ".join(_describe(i) for i in visible) or "(none)"
    raise StreamError(
        f"No LSL stream matches {pred} within {timeout:g} s. Visible streams:\n  {listing}\n"
        "Check the name/type/source_id, that the device or `bci stream` is running, and "
        "that both machines are on the same network."
    )


# --------------------------------------------------------------------------- dejitter
class Dejitter:
    """Exponentially weighted least-squares fit of timestamp vs. sample index.

    ``t_k ~ a + b k`` with forgetting (``halftime`` seconds of samples); ``k`` counts
    lost samples too, so a gap does not bend the line. Until ``2 * sfreq`` samples are
    seen after a reset the slope is the nominal period. Sums are re-centred on every
    update so that they stay well conditioned over hours.

    Parameters
    ----------
    sfreq : float
        Nominal sampling rate.
    halftime : float
        Forgetting half-life in seconds of data.
    """

    def __init__(self, sfreq: float, halftime: float = 30.0) -> None:
        self.sfreq = float(sfreq)
        self.lam = 0.5 ** (1.0 / (self.sfreq * halftime))
        self.reset()

    def reset(self) -> None:
        """Forget the fit (after a reconnect)."""
        self._k0 = 0.0  # reference sample index of the sums
        self._t0 = math.nan  # reference time of the sums
        self._s = (0.0, 0.0, 0.0, 0.0, 0.0)  # sum w, w x, w x^2, w y, w x y
        self._n = 0

    def __call__(self, k: np.ndarray, t: np.ndarray) -> np.ndarray:
        """Smoothed stamps for samples ``k`` (int indices) with raw stamps ``t``."""
        m = t.size
        if m == 0:
            return t
        if math.isnan(self._t0):
            self._k0, self._t0 = float(k[0]), float(t[0])
        # re-centre on the chunk's last sample
        kr, tr = float(k[-1]), float(t[-1])
        s0, sx, sxx, sy, sxy = self._s
        d, e = kr - self._k0, tr - self._t0
        sxx = sxx - 2 * d * sx + d * d * s0
        sxy = sxy - d * sy - e * sx + d * e * s0
        sx, sy = sx - d * s0, sy - e * s0
        self._k0, self._t0 = kr, tr
        # decay, then add the chunk with weights lam^(age)
        decay = self.lam**m
        if m == 1:  # one sample, as most live pulls: weight 1 at x = y = 0
            s0, sx, sxx, sy, sxy = (v * decay for v in (s0, sx, sxx, sy, sxy))
            s0 += 1.0
            x = None
        else:
            x = k.astype(np.float64) - kr
            y = t - tr
            w = self.lam ** (-x)  # x <= 0: the newest sample has weight 1
            s0 = s0 * decay + w.sum()
            sx = sx * decay + w @ x
            sxx = sxx * decay + w @ (x * x)
            sy = sy * decay + w @ y
            sxy = sxy * decay + w @ (x * y)
        self._s = (s0, sx, sxx, sy, sxy)
        self._n += m
        period = 1.0 / self.sfreq
        den = s0 * sxx - sx * sx
        slope = period
        if self._n >= 2 * self.sfreq and den > 0:
            est = (s0 * sxy - sx * sy) / den
            if abs(est - period) < 0.05 * period:  # a sane effective rate
                slope = est
        icept = (sy - slope * sx) / s0
        if x is None:
            return np.array([tr + icept])
        return tr + icept + slope * x


# --------------------------------------------------------------------------- source
class SourceLSL:
    """A live LSL stream, pulled without blocking, with gap detection and reconnection.

    Parameters
    ----------
    name, stype, source_id : str | None
        Properties the stream must have (at least one).
    timeout : float
        Seconds to wait for the stream in :meth:`connect`.
    bufsize : float
        Seconds the inlet keeps (liblsl ``max_buflen``, at least 1 s): if nobody pulls
        for longer, the oldest samples are dropped and counted in :attr:`lost_samples`.
    silence_timeout : float
        A regular stream that delivers nothing for this long is declared silent: a
        ``silent`` event is emitted and the source tries to reconnect.
    processing_flags : int
        liblsl post-processing; by default clock synchronization only.
    dejitter : bool
        Smooth regular streams' timestamps with :class:`Dejitter` (reset at every
        reconnect and aware of lost samples).
    gap_tolerance : float
        Seconds a raw timestamp step may exceed one sample period before it counts as
        lost samples (sender push jitter; at most one period is always tolerated).

    Notes
    -----
    :meth:`pull` blocks at most ``timeout`` seconds (none by default); call it from a
    thread of its own (the engine's hot path, or a single-thread executor), since re-opening
    a lost stream takes up to a second. Events returned by
    :meth:`events` have JSON values: ``{"event": "silent"|"lost"|"reconnected"|"gap",
    ...}``; a ``gap`` carries ``start``/``end`` (LSL clock) and ``lost`` samples.
    """

    def __init__(
        self,
        name: str | None = None,
        stype: str | None = None,
        source_id: str | None = None,
        timeout: float = 5.0,
        bufsize: float = 2.0,
        silence_timeout: float = 2.0,
        processing_flags: int = PROC_FLAGS,
        dejitter: bool = True,
        gap_tolerance: float = 0.02,
    ) -> None:
        self._pred = _predicate(name, stype, source_id)
        self.name, self.stype, self.source_id = name, stype, source_id
        self.timeout = float(timeout)
        self.bufsize = float(bufsize)
        self.silence_timeout = float(silence_timeout)
        self.processing_flags = int(processing_flags)
        self.dejitter = bool(dejitter)
        self.gap_tolerance = float(gap_tolerance)
        self._dejitter: Dejitter | None = None
        self.lost_samples = 0
        self.n_reconnects = 0
        self._inlet: pylsl.StreamInlet | None = None
        self._spec: StreamSpec | None = None
        self._resolver: pylsl.ContinuousResolver | None = None
        self._events: list[Marker] = []
        self._reset_state()

    def _reset_state(self) -> None:
        self._seq = 0
        self._last_ts = math.nan
        self._last_raw = math.nan
        self._t_last_data = math.nan
        self._silent = False
        self._silent_since_ts = math.nan
        if self._dejitter is not None:
            self._dejitter.reset()

    # ---------------------------------------------------------------- lifecycle
    @property
    def connected(self) -> bool:
        """Whether :meth:`connect` succeeded and :meth:`disconnect` was not called."""
        return self._spec is not None

    @property
    def spec(self) -> StreamSpec:
        """The stream's description (valid after :meth:`connect`)."""
        if self._spec is None:
            raise StreamError(f"Source {self._pred} is not connected; call connect() first.")
        return self._spec

    def connect(self) -> SourceLSL:
        """Resolve the stream, open the inlet and measure the clock offset once.

        Raises
        ------
        StreamError
            When no stream matches; the message lists the visible ones.
        """
        if self._spec is not None:
            return self
        info = resolve(self.name, self.stype, self.source_id, timeout=self.timeout)
        self._open(info)
        self._reset_state()
        self._t_last_data = pylsl.local_clock()
        logger.info("Connected to %s", _describe(info))
        return self

    def _open(self, info: pylsl.StreamInfo) -> None:
        inlet = pylsl.StreamInlet(
            info,
            max_buflen=max(1, math.ceil(self.bufsize)),
            recover=True,
            processing_flags=self.processing_flags,
        )
        try:
            full = inlet.info(timeout=self.timeout)
            inlet.open_stream(timeout=self.timeout)
            inlet.time_correction(timeout=self.timeout)  # first estimate blocks ~0.6 s
        except (pylsl.util.TimeoutError, pylsl.util.LostError) as exc:
            inlet.close_stream()
            raise StreamError(f"Could not open LSL stream {_describe(info)}: {exc}") from exc
        spec = spec_from_info(full)
        if self._spec is not None and (
            spec.n_channels != self._spec.n_channels or spec.dtype != self._spec.dtype
        ):
            inlet.close_stream()
            raise StreamError(
                f"Stream {spec.name!r} came back with {spec.n_channels} {spec.dtype} channels "
                f"instead of {self._spec.n_channels} {self._spec.dtype}."
            )
        self._inlet = inlet
        self._spec = self._spec or spec
        self._numeric = spec.dtype != "string"
        if spec.sfreq > 0 and self.dejitter and not self.processing_flags & pylsl.proc_dejitter:
            self._dejitter = Dejitter(spec.sfreq)
        if spec.sfreq > 0:
            cap = max(64, math.ceil(spec.sfreq * max(1.0, self.bufsize)) + 64)
        else:
            cap = 1024
        self._cap = cap
        if self._numeric:
            self._buf = np.empty((cap, spec.n_channels), dtype=np.dtype(spec.dtype))

    def disconnect(self) -> SourceLSL:
        """Close the inlet (idempotent)."""
        if self._inlet is not None:
            self._inlet.close_stream()
            self._inlet = None
        self._resolver = None
        self._spec = None
        return self

    def __enter__(self) -> SourceLSL:
        return self.connect()

    def __exit__(self, *exc: object) -> None:
        self.disconnect()

    def __repr__(self) -> str:
        state = "connected" if self.connected else "disconnected"
        return f"<SourceLSL {self._pred} | {state}, lost={self.lost_samples}>"

    # ---------------------------------------------------------------- events
    def events(self) -> list[Marker]:
        """Gap, silence and reconnect events since the last call (oldest first)."""
        out, self._events = self._events, []
        return out

    def _event(self, t: float, **fields: object) -> None:
        name = self._spec.name if self._spec is not None else self._pred
        value = json.dumps({**fields}, sort_keys=True)
        self._events.append(Marker(timestamp=float(t), value=value, stream=name))
        level = (
            logging.DEBUG
            if fields.get("event") == "gap" and fields.get("lost", 0) < 2
            else logging.WARNING
        )
        logger.log(level, "Stream %r: %s", name, value)

    # ---------------------------------------------------------------- pulling
    def pull(self, timeout: float = 0.0) -> Chunk | None:
        """Everything the inlet holds, or ``None`` when nothing arrived within ``timeout``.

        With ``timeout=0`` (default) it never blocks on liblsl (``pull_chunk(timeout=0.0)``
        until the inlet is empty). With ``timeout > 0`` a numeric stream waits in liblsl for
        its first sample (``pull_sample``: woken by the sample's arrival, no polling, the GIL
        released), then takes whatever else is buffered; a lost stream is retried after
        ``timeout`` rather than in a busy loop. Numeric streams give float32
        ``(n_channels, n_times)`` data; string streams an object array of ``str``.
        """
        spec = self.spec
        now = pylsl.local_clock()
        if self._inlet is None:
            if not self._try_reopen(now):
                time.sleep(min(timeout, 0.05))
                return None
        try:
            data, ts = self._drain(timeout if self._numeric else 0.0)
        except pylsl.util.LostError:
            self._on_lost(now)
            time.sleep(min(timeout, 0.05))
            return None
        t_pull = pylsl.local_clock()
        if ts.size == 0:
            if (
                spec.sfreq > 0
                and not self._silent
                and t_pull - self._t_last_data > self.silence_timeout
            ):
                self._silent = True
                self._silent_since_ts = self._last_ts
                self._event(
                    t_pull,
                    event="silent",
                    last_sample=self._last_ts,
                    silence_timeout=self.silence_timeout,
                )
            return None
        self._t_last_data = t_pull
        seq, ts = self._account(ts)
        return Chunk(data=data, timestamps=ts, spec=spec, seq=seq, t_pull=t_pull)

    def _drain(self, timeout: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
        inlet = self._inlet
        parts: list[np.ndarray] = []
        stamps: list[np.ndarray] = []
        if timeout > 0 and inlet.samples_available() == 0:
            sample, t = inlet.pull_sample(timeout=timeout)
            if t is None:
                return np.empty((self._spec.n_channels, 0), np.float32), np.empty(0)
            parts.append(np.asarray(sample, dtype=np.float32)[:, None])
            stamps.append(np.array([t], dtype=np.float64))
        while True:
            if self._numeric:
                _, ts = inlet.pull_chunk(
                    timeout=0.0, max_samples=self._cap, dest_obj=self._buf, as_numpy=True
                )
                n = ts.size
                if n:
                    parts.append(self._buf[:n].T.astype(np.float32))
            else:
                values, ts = inlet.pull_chunk(timeout=0.0, max_samples=self._cap)
                ts = np.asarray(ts, dtype=np.float64)
                n = ts.size
                if n:
                    arr = np.empty((n, self._spec.n_channels), dtype=object)
                    arr[:] = values
                    parts.append(arr.T)
            if n:
                stamps.append(np.asarray(ts, dtype=np.float64).copy())
            if n < self._cap:
                break
        if not stamps:
            return np.empty((self._spec.n_channels, 0), np.float32), np.empty(0)
        if len(parts) == 1:
            return np.ascontiguousarray(parts[0]), stamps[0]
        return np.concatenate(parts, axis=1), np.concatenate(stamps)

    def _account(self, ts: np.ndarray) -> tuple[int, np.ndarray]:
        """Update sequence, lost samples and gap/reconnect events.

        Returns the chunk's ``seq`` and its (dejittered) timestamps.
        """
        spec = self._spec
        reconnected = self._silent
        if reconnected:
            self._silent = False
            self.n_reconnects += 1
            self._event(ts[0], event="reconnected", first_sample=float(ts[0]))
        if spec.sfreq <= 0:
            seq = self._seq
            self._seq += ts.size
            self._last_ts = float(ts[-1])
            return seq, ts
        period = 1.0 / spec.sfreq
        limit = period + max(0.5 * period, self.gap_tolerance)
        # the common case, no gap, costs two comparisons (NaN before the first sample)
        if ts[0] - self._last_ts > limit or (ts.size > 1 and np.max(np.diff(ts)) > limit):
            k = self._count_gaps(ts, limit)
        else:
            k = np.arange(self._seq, self._seq + ts.size)
        self._seq = int(k[-1]) + 1
        self._last_ts = float(ts[-1])
        self._last_raw = float(ts[-1])
        if self._dejitter is not None:
            if reconnected:
                self._dejitter.reset()
            ts = self._dejitter(k, ts)
        return int(k[0]), ts

    def _count_gaps(self, ts: np.ndarray, limit: float) -> np.ndarray:
        """Sample indices of a chunk with gaps; counts the lost samples, one event per gap."""
        steps = np.diff(ts, prepend=self._last_ts)  # raw steps; NaN before the first sample
        lost = np.zeros(ts.size, dtype=np.int64)
        for i in np.flatnonzero(steps > limit):
            n_lost = max(0, round(steps[i] * self._spec.sfreq) - 1)
            if n_lost == 0:
                continue
            lost[i] = n_lost
            start = self._last_raw if i == 0 else ts[i - 1]
            self._event(start, event="gap", start=float(start), end=float(ts[i]), lost=int(n_lost))
        self.lost_samples += int(lost.sum())
        return self._seq + np.arange(ts.size) + np.cumsum(lost)

    # ---------------------------------------------------------------- recovery
    def _on_lost(self, now: float) -> None:
        logger.warning("Stream %s lost; waiting for it to come back.", self._pred)
        if not self._silent:
            self._silent = True
            self._silent_since_ts = self._last_ts
            self._event(now, event="lost", last_sample=self._last_ts)
        if self._inlet is not None:
            self._inlet.close_stream()
            self._inlet = None
        self._resolver = pylsl.ContinuousResolver(pred=self._pred, forget_after=1.0)

    def _try_reopen(self, now: float) -> bool:
        if self._resolver is None:
            self._resolver = pylsl.ContinuousResolver(pred=self._pred, forget_after=1.0)
        found = self._resolver.results()
        if not found:
            return False
        try:
            self._open(found[0])
        except StreamError:
            logger.warning("Stream %s reappeared but could not be opened yet.", self._pred)
            return False
        self._resolver = None
        logger.info("Re-opened %s", _describe(found[0]))
        return True


# --------------------------------------------------------------------------- outlets
class OutletLSL:
    """Publish a numeric stream with full channel metadata.

    Parameters
    ----------
    spec : StreamSpec
        What to announce (name, type, source id, rate, labels, types, units).
    chunk_size : int
        Transmission granularity in samples (0: one chunk per :meth:`push`).
    max_buffered : float
        Seconds the outlet keeps for slow consumers.
    """

    def __init__(self, spec: StreamSpec, chunk_size: int = 0, max_buffered: float = 60.0) -> None:
        if spec.dtype == "string":
            raise StreamError(f"Stream {spec.name!r} is a string stream; use MarkerOutletLSL.")
        self.spec = spec
        self._outlet = pylsl.StreamOutlet(
            info_from_spec(spec),
            chunk_size=int(chunk_size),
            max_buffered=max(1, math.ceil(max_buffered)),
        )
        self._dtype = np.dtype(spec.dtype if spec.dtype != "double64" else "float64")

    def push(self, data: np.ndarray, timestamps: np.ndarray | float | None = None) -> None:
        """Push samples.

        Parameters
        ----------
        data : ndarray, shape (n_channels, n_times)
            Samples (converted to the stream's dtype).
        timestamps : ndarray, shape (n_times,) | float | None
            Per-sample LSL-clock stamps, the stamp of the last sample, or ``None``
            for "now" (earlier samples back-dated by the sampling period).
        """
        data = np.asarray(data)
        if data.ndim != 2 or data.shape[0] != self.spec.n_channels:
            raise StreamError(
                f"Outlet {self.spec.name!r} expects (n_channels={self.spec.n_channels}, n_times) "
                f"data, got shape {data.shape}."
            )
        n = data.shape[1]
        if n == 0:
            return
        samples = np.ascontiguousarray(data.T, dtype=self._dtype)
        out = self._outlet
        if timestamps is None or np.ndim(timestamps) == 0:
            t = 0.0 if timestamps is None else float(timestamps)
            out.push_chunk(samples, timestamp=t)
            return
        ts = np.ascontiguousarray(timestamps, dtype=np.float64)
        if ts.shape != (n,):
            raise StreamError(
                f"Outlet {self.spec.name!r}: {ts.shape[0]} timestamps for {n} samples."
            )
        pylsl.util.handle_error(
            out.do_push_chunk_n(
                out.obj,
                ctypes.c_void_p(samples.ctypes.data),
                ctypes.c_long(samples.size),
                ctypes.c_void_p(ts.ctypes.data),
                ctypes.c_int(1),
            )
        )

    def have_consumers(self) -> bool:
        """Whether at least one inlet is connected."""
        return self._outlet.have_consumers()

    def wait_for_consumers(self, timeout: float) -> bool:
        """Block until an inlet connects or ``timeout`` passes."""
        return self._outlet.wait_for_consumers(timeout)

    def close(self) -> None:
        """Destroy the outlet (the stream disappears from the network)."""
        self._outlet = None  # type: ignore[assignment]  # liblsl destroys it on release

    def __repr__(self) -> str:
        s = self.spec
        return f"<OutletLSL {s.name!r} {s.stype} {s.n_channels} ch @ {s.sfreq:g} Hz>"


class MarkerOutletLSL:
    """Publish string events (one channel, irregular rate).

    Parameters
    ----------
    name : str
        LSL stream name (``bci-markers`` for stimulus markers, see the protocol).
    stype : str
        LSL stream type.
    source_id : str
        Stable source id so inlets can recover after a restart.
    n_channels : int
        Number of string channels (1 for markers).
    """

    def __init__(
        self, name: str, stype: str = "Markers", source_id: str = "", n_channels: int = 1
    ) -> None:
        self.spec = StreamSpec(
            name=name,
            stype=stype,
            source_id=source_id or f"{name}-{stype}",
            sfreq=0.0,
            ch_names=("marker",)
            if n_channels == 1
            else tuple(f"ch{k + 1}" for k in range(n_channels)),
            dtype="string",
        )
        self._outlet = pylsl.StreamOutlet(info_from_spec(self.spec))

    def push(self, value: str | Sequence[str], timestamp: float | None = None) -> None:
        """Push one event.

        Parameters
        ----------
        value : str | sequence of str
            The label (one per channel).
        timestamp : float | None
            LSL-clock time of the event (the flip time for stimuli); ``None`` is now.
        """
        sample = [value] if isinstance(value, str) else list(value)
        ts = pylsl.local_clock() if timestamp is None else float(timestamp)
        self._outlet.push_sample(sample, ts)

    def have_consumers(self) -> bool:
        """Whether at least one inlet is connected."""
        return self._outlet.have_consumers()

    def wait_for_consumers(self, timeout: float) -> bool:
        """Block until an inlet connects or ``timeout`` passes."""
        return self._outlet.wait_for_consumers(timeout)

    def close(self) -> None:
        """Destroy the outlet."""
        self._outlet = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"<MarkerOutletLSL {self.spec.name!r} {self.spec.stype}>"
