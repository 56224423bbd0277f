"""Small (KB-sized) recordings in every format the readers take, written by the tests.

Each writer builds a valid file from a seeded generator; the fuzz campaign then truncates,
bit-flips and splices them. EDF/BDF and BrainVision are written byte by byte from their
specifications here (no writer library needed); XDF by the runtime's own recorder; FIF by MNE.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from bci import StreamSpec


def write_xdf(path: Path, rng: np.random.Generator) -> list[Path]:
    """An XDF file: one EEG stream (2-4 channels) and one marker stream."""
    from bci._recorder import RecorderXDF

    n_ch = int(rng.integers(2, 5))
    eeg = StreamSpec("eeg", "EEG", "fuzz-eeg", 128.0, tuple(f"C{i}" for i in range(n_ch)))
    mk = StreamSpec("mk", "Markers", "fuzz-mk", 0.0, ("marker",), dtype="string")
    with RecorderXDF(path) as rec:
        a, b = rec.add_stream(eeg), rec.add_stream(mk)
        n = int(rng.integers(32, 160))
        rec.write(a, rng.standard_normal((n_ch, n)).astype(np.float32), 10 + np.arange(n) / 128)
        rec.write(b, ["left", "right"], [10.1, 10.4])
    return [path]


def _edf_field(value: object, width: int) -> bytes:
    return str(value).encode("ascii")[:width].ljust(width)


def write_edf(
    path: Path,
    rng: np.random.Generator,
    bdf: bool = False,
    extra: dict[str, np.ndarray] | None = None,
    sfreq: int = 128,
    seconds: int = 2,
) -> list[Path]:
    """An EDF (16-bit) or BDF (24-bit) file with 2-3 EEG channels plus ``extra`` channels.

    ``extra`` maps channel names to physical values (e.g. a ``Trigger`` channel).
    """
    n = sfreq * seconds
    chans: dict[str, np.ndarray] = {
        f"EEG{i}": rng.standard_normal(n) * 20 for i in range(int(rng.integers(2, 4)))
    }
    chans.update(extra or {})
    dmax = 2**23 - 1 if bdf else 2**15 - 1
    header = bytearray()
    header += b"\xffBIOSEMI" if bdf else _edf_field("0", 8)
    header += _edf_field("X X X X", 80) + _edf_field("Startdate X X X X", 80)
    header += _edf_field("01.01.20", 8) + _edf_field("00.00.00", 8)
    header += _edf_field(256 * (1 + len(chans)), 8)
    header += _edf_field("24BIT" if bdf else "", 44)
    header += _edf_field(seconds, 8) + _edf_field(1, 8) + _edf_field(len(chans), 4)
    limits = {}
    for name, x in chans.items():
        if name.startswith("EEG"):
            limits[name] = (float(np.floor(x.min())) - 1, float(np.ceil(x.max())) + 1)
        else:  # trigger-like channels: physical = digital, as acquisition systems write them
            limits[name] = (float(-dmax - 1), float(dmax))
    fields: list[list[bytes]] = [[] for _ in range(10)]
    for name in chans:
        lo, hi = limits[name]
        unit = "uV" if name.startswith("EEG") else ""
        for k, (v, w) in enumerate(
            [(name, 16), ("", 80), (unit, 8), (f"{lo:.0f}", 8), (f"{hi:.0f}", 8),
             (-dmax - 1, 8), (dmax, 8), ("", 80), (sfreq, 8), ("", 32)]
        ):  # fmt: skip
            fields[k].append(_edf_field(v, w))
    for group in fields:
        header += b"".join(group)
    data = bytearray()
    for rec in range(seconds):
        for name, x in chans.items():
            lo, hi = limits[name]
            seg = x[rec * sfreq : (rec + 1) * sfreq]
            dig = np.round((seg - lo) / (hi - lo) * (2 * dmax + 1) - dmax - 1).astype(np.int32)
            if bdf:
                b = dig.astype("<i4").view(np.uint8).reshape(-1, 4)[:, :3]
                data += b.tobytes()
            else:
                data += dig.astype("<i2").tobytes()
    path.write_bytes(bytes(header) + bytes(data))
    return [path]


def write_bdf(path: Path, rng: np.random.Generator) -> list[Path]:
    """A BDF file with a step-like trigger channel."""
    trig = np.zeros(256)
    trig[40:48] = 3
    trig[150:158] = 5
    return write_edf(path.with_suffix(".bdf"), rng, bdf=True, extra={"Trigger": trig})


def write_fif(path: Path, rng: np.random.Generator) -> list[Path]:
    """A FIF file (MNE) with two EEG channels and a STI 014 channel."""
    import mne

    n = int(rng.integers(64, 200))
    stim = np.zeros(n)
    stim[n // 3 : n // 3 + 3] = 1
    info = mne.create_info(["Fz", "Cz", "STI 014"], 128.0, ["eeg", "eeg", "stim"])
    x = np.vstack([rng.standard_normal((2, n)) * 1e-5, stim])
    raw = mne.io.RawArray(x, info, verbose="error")
    raw.save(path.with_name(path.stem + "_raw.fif"), overwrite=True, verbose="error")
    return [path.with_name(path.stem + "_raw.fif")]


def write_brainvision(path: Path, rng: np.random.Generator) -> list[Path]:
    """A BrainVision triplet (.vhdr, .vmrk, .eeg) with float32 multiplexed data."""
    stem = path.stem
    n_ch, n = int(rng.integers(2, 4)), int(rng.integers(50, 200))
    vhdr, vmrk, eeg = (path.with_suffix(s) for s in (".vhdr", ".vmrk", ".eeg"))
    chans = "\n".join(f"Ch{i + 1}=C{i},,0.1,µV" for i in range(n_ch))
    vhdr.write_text(
        "Brain Vision Data Exchange Header File Version 1.0\n[Common Infos]\nCodepage=UTF-8\n"
        f"DataFile={stem}.eeg\nMarkerFile={stem}.vmrk\nDataFormat=BINARY\n"
        f"DataOrientation=MULTIPLEXED\nNumberOfChannels={n_ch}\nSamplingInterval=4000\n"
        "[Binary Infos]\nBinaryFormat=IEEE_FLOAT_32\n[Channel Infos]\n" + chans + "\n",
        encoding="utf-8",
    )
    vmrk.write_text(
        "Brain Vision Data Exchange Marker File, Version 1.0\n[Common Infos]\nCodepage=UTF-8\n"
        f"DataFile={stem}.eeg\n[Marker Infos]\nMk1=New Segment,,1,1,0\n"
        f"Mk2=Stimulus,S  1,{n // 2},1,0\n",
        encoding="utf-8",
    )
    eeg.write_bytes((rng.standard_normal((n, n_ch)) * 10).astype("<f4").tobytes())
    return [vhdr, vmrk, eeg]


def write_muse_csv(path: Path, rng: np.random.Generator) -> list[Path]:
    """An eeg-notebooks Muse CSV (timestamps, 5 channels, Marker0)."""
    n = int(rng.integers(20, 120))
    ts = 1.5e9 + np.arange(n) / 256
    x = rng.standard_normal((n, 5)) * 50
    marker = np.zeros(n, int)
    marker[n // 2] = 2
    lines = ["timestamps,TP9,AF7,AF8,TP10,Right AUX,Marker0"]
    lines += [
        f"{t:.6f}," + ",".join(f"{v:.3f}" for v in row) + f",{m}"
        for t, row, m in zip(ts, x, marker, strict=True)
    ]
    p = path.with_suffix(".csv")
    p.write_text("\n".join(lines) + "\n")
    return [p]


def write_myo_txt(path: Path, rng: np.random.Generator) -> list[Path]:
    """A Myo txt (8 EMG columns and a label, no header)."""
    n = int(rng.integers(20, 120))
    x = rng.integers(-128, 127, size=(n, 8))
    labels = np.repeat(rng.integers(0, 7, size=4), -(-n // 4))[:n]
    p = path.with_suffix(".txt")
    p.write_text(
        "\n".join(",".join(map(str, r)) + f",{lab}" for r, lab in zip(x, labels, strict=True))
        + "\n"
    )
    return [p]


def write_brainflow_csv(path: Path, rng: np.random.Generator) -> list[Path]:
    """A BrainFlow CSV of the synthetic board (tab-separated rows x samples, no header)."""
    from brainflow.board_shim import BoardIds, BoardShim

    rows = BoardShim.get_num_rows(BoardIds.SYNTHETIC_BOARD.value)
    n = int(rng.integers(10, 60))
    data = rng.standard_normal((rows, n))
    ts_row = BoardShim.get_timestamp_channel(BoardIds.SYNTHETIC_BOARD.value)
    data[ts_row] = 1.7e9 + np.arange(n) / 250
    p = path.with_suffix(".csv")
    p.write_text("\n".join("\t".join(f"{v:.6f}" for v in col) for col in data.T) + "\n")
    return [p]


#: Every format, by name: writer(path, rng) -> files (the first one is read).
WRITERS: dict[str, Callable[[Path, np.random.Generator], list[Path]]] = {
    "xdf": lambda p, rng: write_xdf(p.with_suffix(".xdf"), rng),
    "edf": lambda p, rng: write_edf(p.with_suffix(".edf"), rng),
    "bdf": write_bdf,
    "fif": write_fif,
    "brainvision": write_brainvision,
    "muse_csv": write_muse_csv,
    "myo_txt": write_myo_txt,
    "brainflow_csv": write_brainflow_csv,
}
