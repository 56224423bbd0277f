"""Crash-safe XDF recording.

:class:`RecorderXDF` writes the XDF 1.0 container (https://github.com/sccn/xdf/wiki/Specifications)
itself: file header, one stream header per stream with the full channel description,
sample chunks with every timestamp, clock-offset chunks, boundary chunks every
``boundary_interval`` seconds and stream footers on close. Callers hand data to a
bounded, lossless queue (a full queue blocks the caller: backpressure, never drops);
one writer thread serializes and writes complete chunks and flushes to the OS at
least every ``flush_interval`` (<= 1 s). After ``kill -9`` the file ends with complete
chunks except, rarely, a partial last one, which pyxdf skips: at most about one
second is lost.

Why not LabRecorder: its Python package (``labrecorder`` 1.0.0rc0 on PyPI) is a
pre-release that records LSL inlets in its own C++ threads; the runtime must also
record streams that never touch LSL (decisions, latency stamps, gap events).
"""

from __future__ import annotations

import logging
import os
import queue
import socket
import struct
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING
from xml.sax.saxutils import escape

import numpy as np

from ._errors import RecordingError

if TYPE_CHECKING:
    from collections.abc import Sequence

    from ._types import StreamSpec

logger = logging.getLogger(__name__)

MAGIC = b"XDF:"
TAG_FILE_HEADER, TAG_STREAM_HEADER, TAG_SAMPLES, TAG_CLOCK_OFFSET = 1, 2, 3, 4
TAG_BOUNDARY, TAG_STREAM_FOOTER = 5, 6
BOUNDARY_UUID = bytes(
    [0x43, 0xA5, 0x46, 0xDC, 0xCB, 0xF5, 0x41, 0x0F, 0xB3, 0x0E, 0xD5, 0x46, 0x73, 0x83, 0xCB, 0xE4]
)
_NUMERIC = {
    "float32": "<f4",
    "float64": "<f8",
    "double64": "<f8",
    "int8": "<i1",
    "int16": "<i2",
    "int32": "<i4",
    "int64": "<i8",
}
_XDF_FORMAT = {"float64": "double64"}


def _varlen(n: int) -> bytes:
    """XDF variable-length integer: one byte giving the width (1, 4 or 8), then the value."""
    if n < 256:
        return struct.pack("<BB", 1, n)
    if n < 2**32:
        return struct.pack("<BI", 4, n)
    return struct.pack("<BQ", 8, n)


def _chunk(tag: int, content: bytes | bytearray | memoryview) -> bytes:
    """One XDF chunk: ``[NumLengthBytes][Length][Tag][Content]``."""
    return b"".join((_varlen(len(content) + 2), struct.pack("<H", tag), content))


def _xml(value: object) -> str:
    return escape(str(value))


def stream_header_xml(spec: StreamSpec, created_at: float, extra_desc: str = "") -> str:
    """The ``<info>`` XML of a stream header (the LSL stream description)."""
    channels = []
    for k, label in enumerate(spec.ch_names):
        parts = [f"<label>{_xml(label)}</label>"]
        if k < len(spec.ch_types) and spec.ch_types[k]:
            parts.append(f"<type>{_xml(spec.ch_types[k])}</type>")
        if k < len(spec.units) and spec.units[k]:
            parts.append(f"<unit>{_xml(spec.units[k])}</unit>")
        channels.append(f"<channel>{''.join(parts)}</channel>")
    manufacturer = (
        f"<manufacturer>{_xml(spec.manufacturer)}</manufacturer>" if spec.manufacturer else ""
    )
    fmt = _XDF_FORMAT.get(spec.dtype, spec.dtype)
    return (
        '<?xml version="1.0"?><info>'
        f"<name>{_xml(spec.name)}</name><type>{_xml(spec.stype)}</type>"
        f"<channel_count>{spec.n_channels}</channel_count>"
        f"<nominal_srate>{spec.sfreq!r}</nominal_srate>"
        f"<channel_format>{fmt}</channel_format>"
        f"<source_id>{_xml(spec.source_id)}</source_id><version>1.1</version>"
        f"<created_at>{created_at!r}</created_at><uid>{uuid.uuid4()}</uid>"
        f"<session_id>default</session_id><hostname>{_xml(socket.gethostname())}</hostname>"
        f"<desc>{manufacturer}<channels>{''.join(channels)}</channels>{extra_desc}</desc>"
        "</info>"
    )


class _StreamState:
    """What the writer thread knows about one stream (for its footer)."""

    def __init__(self, spec: StreamSpec) -> None:
        self.spec = spec
        self.first = float("nan")
        self.last = float("nan")
        self.count = 0
        self.offsets: list[tuple[float, float]] = []
        self.last_auto_offset = -np.inf
        if spec.dtype == "string":
            self.sample_dtype = None
        else:
            if spec.dtype not in _NUMERIC:
                raise RecordingError(
                    f"Stream {spec.name!r}: dtype {spec.dtype!r} cannot be written to XDF."
                )
            self.sample_dtype = np.dtype(
                [("nb", "u1"), ("t", "<f8"), ("v", _NUMERIC[spec.dtype], (spec.n_channels,))]
            )


class RecorderXDF:
    """Write streams to an XDF file from any thread, crash-safely.

    Parameters
    ----------
    path : str | Path
        The ``.xdf`` file to create (parent folders are created).
    flush_interval : float
        Longest time written data stays in the process before it reaches the OS
        (at most 1 s).
    boundary_interval : float
        Seconds between boundary chunks (they let readers resynchronize after damage).
    offset_interval : float
        Seconds between the zero clock offsets written for streams stamped on this
        machine's clock (streams that receive :meth:`clock_offset` calls get only those).
    max_queue : int
        Capacity of the lossless queue; when it is full, :meth:`write` blocks.

    Examples
    --------
    >>> rec = RecorderXDF("session.xdf")                    # doctest: +SKIP
    >>> sid = rec.add_stream(spec)                          # doctest: +SKIP
    >>> rec.write(sid, data, timestamps)                    # doctest: +SKIP
    >>> rec.close()                                         # doctest: +SKIP
    """

    def __init__(
        self,
        path: str | Path,
        flush_interval: float = 0.5,
        boundary_interval: float = 10.0,
        offset_interval: float = 5.0,
        max_queue: int = 4096,
    ) -> None:
        if not 0 < flush_interval <= 1.0:
            raise RecordingError(f"flush_interval must be in (0, 1] s, got {flush_interval}.")
        self.path = Path(path)
        self.flush_interval = float(flush_interval)
        self.boundary_interval = float(boundary_interval)
        self.offset_interval = float(offset_interval)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        except OSError as exc:
            raise RecordingError(f"Cannot create recording {self.path}: {exc}") from exc
        header = (
            '<?xml version="1.0"?><info><version>1.0</version>'
            f"<datetime>{datetime.now(UTC).isoformat()}</datetime>"
            "<writer>bci-runtime RecorderXDF</writer></info>"
        )
        os.write(self._fd, MAGIC + _chunk(TAG_FILE_HEADER, header.encode()))
        self._queue: queue.Queue = queue.Queue(maxsize=max_queue)
        self._streams: dict[int, _StreamState] = {}
        self._explicit_offsets: set[int] = set()
        self._lock = threading.Lock()
        self._next_id = 1
        self._closed = False
        self._error: BaseException | None = None
        self.bytes_written = 0
        self._thread = threading.Thread(
            target=self._run, name=f"RecorderXDF-{self.path.name}", daemon=True
        )
        self._thread.start()
        logger.info("Recording to %s", self.path)

    # ------------------------------------------------------------------ API
    def add_stream(self, spec: StreamSpec, extra_desc: str = "") -> int:
        """Declare a stream; returns the id to pass to :meth:`write`.

        Parameters
        ----------
        spec : StreamSpec
            Name, type, source id, rate, channel labels/types/units, dtype.
        extra_desc : str
            Extra XML placed inside ``<desc>`` (for instance the original description
            of a replayed stream).
        """
        self._check_open()
        with self._lock:
            sid = self._next_id
            self._next_id += 1
        state = _StreamState(spec)
        xml = stream_header_xml(spec, time.monotonic(), extra_desc)
        self._put(("header", sid, state, xml.encode("utf-8")))
        return sid

    def write(
        self,
        stream_id: int,
        data: np.ndarray | Sequence[str] | Sequence[Sequence[str]],
        timestamps: np.ndarray | Sequence[float],
    ) -> None:
        """Queue samples for writing (never drops; blocks if the queue is full).

        Parameters
        ----------
        stream_id : int
            From :meth:`add_stream`.
        data : ndarray, shape (n_channels, n_times) | list of str
            Numeric samples, or for string streams one value per sample (one-channel
            streams) or one list of values per sample.
        timestamps : array of float, shape (n_times,)
            LSL-clock time of every sample.
        """
        self._check_open()
        ts = np.array(timestamps, dtype=np.float64, copy=True).reshape(-1)
        if isinstance(data, np.ndarray) and data.dtype != object:
            if data.ndim != 2 or data.shape[1] != ts.size:
                raise RecordingError(
                    f"{self.path}: stream {stream_id} data shape {data.shape} does not match "
                    f"{ts.size} timestamps; expected (n_channels, n_times)."
                )
            payload: object = np.array(data, copy=True)
        else:
            values = data.T.tolist() if isinstance(data, np.ndarray) else list(data)
            payload = [[v] if isinstance(v, str) else [str(x) for x in v] for v in values]
            if len(payload) != ts.size:
                raise RecordingError(
                    f"{self.path}: stream {stream_id}: {len(payload)} values for {ts.size} timestamps."
                )
        if ts.size:
            self._put(("samples", stream_id, payload, ts))

    def clock_offset(self, stream_id: int, t: float, offset: float) -> None:
        """Record a clock offset (``remote + offset = local``) measured at local time ``t``."""
        self._check_open()
        self._explicit_offsets.add(stream_id)
        self._put(("offset", stream_id, float(t), float(offset)))

    def close(self) -> None:
        """Write footers, flush and close (idempotent; raises if the writer failed)."""
        if not self._closed:
            self._closed = True
            self._queue.put(("close",))
            self._thread.join()
            logger.info("Closed %s (%.1f MB)", self.path, self.bytes_written / 1e6)
        if self._error is not None:
            raise RecordingError(f"Writing {self.path} failed: {self._error}") from self._error

    def __enter__(self) -> RecorderXDF:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def queue_size(self) -> int:
        """Items waiting for the writer thread."""
        return self._queue.qsize()

    # ------------------------------------------------------------------ internals
    def _check_open(self) -> None:
        if self._error is not None:
            raise RecordingError(f"Writing {self.path} failed: {self._error}") from self._error
        if self._closed:
            raise RecordingError(f"Recorder for {self.path} is closed.")

    def _put(self, item: tuple) -> None:
        while True:
            try:
                self._queue.put(item, timeout=1.0)
                return
            except queue.Full:
                if self._error is not None or not self._thread.is_alive():
                    self._check_open()
                logger.warning("Recorder queue for %s is full; the writer is behind.", self.path)

    def _run(self) -> None:
        pending: list[bytes] = []
        now = time.monotonic()
        next_flush = now + self.flush_interval
        next_boundary = now + self.boundary_interval
        try:
            while True:
                timeout = max(0.0, next_flush - time.monotonic())
                try:
                    item = self._queue.get(timeout=timeout)
                except queue.Empty:
                    item = None
                if item is not None:
                    if item[0] == "close":
                        self._auto_offsets(pending, force=True)
                        pending.extend(self._footers())
                        self._flush(pending)
                        break
                    pending.append(self._serialize(item))
                now = time.monotonic()
                if now >= next_flush or sum(map(len, pending)) > (8 << 20):
                    self._auto_offsets(pending)
                    if now >= next_boundary:
                        pending.append(_chunk(TAG_BOUNDARY, BOUNDARY_UUID))
                        next_boundary = now + self.boundary_interval
                    self._flush(pending)
                    next_flush = now + self.flush_interval
        except BaseException as exc:  # reported to the caller by write()/close()
            logger.exception("Recorder writer for %s failed", self.path)
            self._error = exc
        finally:
            try:
                os.fsync(self._fd)
            finally:
                os.close(self._fd)

    def _flush(self, pending: list[bytes]) -> None:
        for chunk in pending:  # one write per chunk: a kill leaves whole chunks behind
            view = memoryview(chunk)
            while view:
                n = os.write(self._fd, view)
                view = view[n:]
            self.bytes_written += len(chunk)
        pending.clear()

    def _serialize(self, item: tuple) -> bytes:
        kind, sid = item[0], item[1]
        if kind == "header":
            state, xml = item[2], item[3]
            self._streams[sid] = state
            return _chunk(TAG_STREAM_HEADER, struct.pack("<I", sid) + xml)
        state = self._streams.get(sid)
        if state is None:
            raise RecordingError(f"{self.path}: stream id {sid} was never added.")
        if kind == "offset":
            t, off = item[2], item[3]
            state.offsets.append((t, off))
            return _chunk(TAG_CLOCK_OFFSET, struct.pack("<Idd", sid, t, off))
        payload, ts = item[2], item[3]
        n = ts.size
        head = struct.pack("<I", sid) + _varlen(n)
        if state.sample_dtype is not None:
            if payload.shape[0] != state.spec.n_channels:
                raise RecordingError(
                    f"{self.path}: stream {state.spec.name!r} has {state.spec.n_channels} channels, "
                    f"got data with {payload.shape[0]}."
                )
            rec = np.empty(n, dtype=state.sample_dtype)
            rec["nb"] = 8
            rec["t"] = ts
            rec["v"] = payload.T
            body = rec.tobytes()
        else:
            parts = []
            for t, values in zip(ts, payload, strict=True):
                parts.append(b"\x08" + struct.pack("<d", t))
                for v in values:
                    raw = v.encode("utf-8")
                    parts.append(_varlen(len(raw)) + raw)
            body = b"".join(parts)
        if state.count == 0:
            state.first = float(ts[0])
        state.last = float(ts[-1])
        state.count += n
        return _chunk(TAG_SAMPLES, head + body)

    def _auto_offsets(self, pending: list[bytes], force: bool = False) -> None:
        """Zero clock offsets for streams stamped on this machine's clock."""
        from pylsl import local_clock

        t = local_clock()
        for sid, state in self._streams.items():
            if sid in self._explicit_offsets:
                continue
            if force or t - state.last_auto_offset >= self.offset_interval:
                state.last_auto_offset = t
                state.offsets.append((t, 0.0))
                pending.append(_chunk(TAG_CLOCK_OFFSET, struct.pack("<Idd", sid, t, 0.0)))

    def _footers(self) -> list[bytes]:
        out = []
        for sid, st in self._streams.items():
            offsets = "".join(
                f"<offset><time>{t!r}</time><value>{v!r}</value></offset>" for t, v in st.offsets
            )
            first = st.first if st.count else 0.0
            last = st.last if st.count else 0.0
            xml = (
                '<?xml version="1.0"?><info>'
                f"<first_timestamp>{first!r}</first_timestamp>"
                f"<last_timestamp>{last!r}</last_timestamp>"
                f"<sample_count>{st.count}</sample_count>"
                f"<clock_offsets>{offsets}</clock_offsets></info>"
            )
            out.append(_chunk(TAG_STREAM_FOOTER, struct.pack("<I", sid) + xml.encode()))
        return out
