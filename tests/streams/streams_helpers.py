"""Helpers for the stream tests: counter outlets and condition waits."""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import pylsl


def wait_until(cond: Callable[[], bool], timeout: float, step: float = 0.01) -> bool:
    """Poll ``cond`` until it is true or ``timeout`` seconds pass; return its last value."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(step)
    return bool(cond())


class CounterPump:
    """Pushes a sample-counter channel (plus noise channels) to an outlet in real time.

    Sample ``k`` carries the value ``k`` in channel 0 and the timestamp
    ``t0 + k / sfreq``, so lost samples and timing errors are exact to check.
    """

    def __init__(self, outlet, sfreq: float, n_channels: int, t0: float | None = None):
        self.outlet, self.sfreq, self.n_channels = outlet, sfreq, n_channels
        self.t0 = pylsl.local_clock() if t0 is None else t0
        self.sent = 0

    def due(self) -> int:
        return int((pylsl.local_clock() - self.t0) * self.sfreq) - self.sent

    def skip_to_now(self) -> None:
        self.sent = int((pylsl.local_clock() - self.t0) * self.sfreq)

    def step(self) -> int:
        n = self.due()
        if n > 0:
            k = np.arange(self.sent, self.sent + n)
            data = np.empty((self.n_channels, n), np.float32)
            data[0] = k
            data[1:] = np.sin(k / 10.0)[None, :] * np.arange(1, self.n_channels)[:, None]
            self.outlet.push(data, self.t0 + k / self.sfreq)
            self.sent += n
        return max(n, 0)


def write_bdf(path, data_uv: np.ndarray, labels, sfreq: int, status: np.ndarray) -> None:
    """A minimal BioSemi BDF file: 1 s records, EEG at 1/32 uV resolution plus ``Status``."""
    n_ch, n = data_uv.shape
    n_rec = n // sfreq
    labels = [*labels, "Status"]
    ns = n_ch + 1

    def field(values, width):
        return b"".join(str(v).ljust(width)[:width].encode() for v in values)

    head = (
        b"\xffBIOSEMI"
        + field(["test"], 80)
        + field(["test"], 80)
        + b"01.01.20"
        + b"00.00.00"
        + field([256 * (ns + 1)], 8)
        + field(["24BIT"], 44)
        + field([n_rec], 8)
        + field([1], 8)
        + field([ns], 4)
    )
    head += field(labels, 16) + field([""] * ns, 80)
    head += field(["uV"] * n_ch + ["Boolean"], 8)
    head += field([-262144] * n_ch + [-8388608], 8) + field(["262143.9"] * n_ch + [8388607], 8)
    head += field([-8388608] * ns, 8) + field([8388607] * ns, 8)
    head += field([""] * ns, 80) + field([sfreq] * ns, 8) + field([""] * ns, 32)
    digital = np.vstack([np.round(data_uv * 32), status[None]]).astype(np.int32)[:, : n_rec * sfreq]
    rec = digital.reshape(ns, n_rec, sfreq).transpose(1, 0, 2).reshape(-1)
    b = rec.astype("<i4").view(np.uint8).reshape(-1, 4)[:, :3]
    with open(path, "wb") as f:
        f.write(head)
        f.write(b.tobytes())


def write_brainvision(stem, data_uv: np.ndarray, labels, sfreq: float, events) -> None:
    """A minimal BrainVision triplet (.vhdr/.vmrk/.eeg, float32, multiplexed)."""
    from pathlib import Path

    stem = Path(stem)
    name = stem.name
    chans = "\n".join(f"Ch{k + 1}={lab},,1,µV" for k, lab in enumerate(labels))
    stem.with_suffix(".vhdr").write_text(
        "Brain Vision Data Exchange Header File Version 1.0\n[Common Infos]\nCodepage=UTF-8\n"
        f"DataFile={name}.eeg\nMarkerFile={name}.vmrk\nDataFormat=BINARY\n"
        f"DataOrientation=MULTIPLEXED\nNumberOfChannels={len(labels)}\n"
        f"SamplingInterval={1e6 / sfreq:g}\n[Binary Infos]\nBinaryFormat=IEEE_FLOAT_32\n"
        f"[Channel Infos]\n{chans}\n",
        encoding="utf-8",
    )
    marks = "\n".join(
        f"Mk{k + 2}=Stimulus,{desc},{pos + 1},1,0" for k, (pos, desc) in enumerate(events)
    )
    stem.with_suffix(".vmrk").write_text(
        "Brain Vision Data Exchange Marker File, Version 1.0\n[Common Infos]\nCodepage=UTF-8\n"
        f"DataFile={name}.eeg\n[Marker Infos]\nMk1=New Segment,,1,1,0\n{marks}\n",
        encoding="utf-8",
    )
    data_uv.T.astype("<f4").tofile(stem.with_suffix(".eeg"))
