"""Cut the small test excerpts in this folder from ../shared/data (run once; kept for provenance).

Usage: ``python tests/data/make_excerpts.py [SHARED_DATA]``. Every excerpt keeps the
original format byte for byte where possible (CSV/TXT lines, EDF records, XDF chunks).
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SECONDS = 30


def _copy_meta(src: Path, dst: Path) -> None:
    dst.mkdir(parents=True, exist_ok=True)
    for name in ("LICENSE",):
        if (src / name).exists():
            shutil.copy(src / name, dst / name)


def _lines(src: Path, dst: Path, n: int) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    with open(src) as f, open(dst, "w") as g:
        for k, line in enumerate(f):
            if k >= n:
                break
            g.write(line)


def _edf(src: Path, dst: Path, n_records: int) -> None:
    raw = src.read_bytes()
    header_bytes = int(raw[184:192])
    ns = int(raw[252:256])
    per = [int(raw[256 + ns * 216 + 8 * k : 256 + ns * 216 + 8 * k + 8]) for k in range(ns)]
    record = 2 * sum(per)
    head = bytearray(raw[:header_bytes])
    head[236:244] = f"{n_records:<8d}".encode()
    dst.parent.mkdir(parents=True, exist_ok=True)
    dst.write_bytes(bytes(head) + raw[header_bytes : header_bytes + n_records * record])


def _xdf(src: Path, dst: Path, fraction: float) -> None:
    sys.path.insert(0, str(HERE.parents[1]))
    from bci.devices._readers import scan_xdf

    raw = src.read_bytes()
    chunks = scan_xdf(src)
    data_start = next(off for off, _, tag in chunks if tag == 3)
    limit = data_start + fraction * (len(raw) - data_start)
    keep = [
        raw[off : off + 1 + {1: 1, 4: 4, 8: 8}[raw[off]] + length]
        for off, length, tag in chunks
        if tag in (1, 2) or (tag in (3, 4, 5) and off < limit) or tag == 6
    ]
    dst.parent.mkdir(parents=True, exist_ok=True)
    dst.write_bytes(b"XDF:" + b"".join(keep))


def main(shared: Path) -> None:
    for name, rel, rate in (
        ("muse-ssvep", "subject1/session1/data_2017-09-14-21.20.04.csv", 256),
        ("muse-p300", "subject1/session1/data_2017-02-04-15_45_13.csv", 256),
        ("muse-n170", "subject1/session1/data_2017-09-13-15.30.01.csv", 256),
    ):
        _copy_meta(shared / name, HERE / name)
        _lines(shared / name / rel, HERE / name / Path(rel).name, 1 + SECONDS * rate)
    _copy_meta(shared / "myo-wrist-gestures", HERE / "myo-wrist-gestures")
    _lines(
        shared / "myo-wrist-gestures/right_hand/12345-1/7.txt",
        HERE / "myo-wrist-gestures/12345-1/7.txt",
        SECONDS * 200,
    )
    _copy_meta(shared / "eegmmidb-edf", HERE / "eegmmidb-edf")
    _edf(shared / "eegmmidb-edf/S001/S001R04.edf", HERE / "eegmmidb-edf/S001R04.edf", SECONDS)
    _copy_meta(shared / "xdf-openbci-emg-gestures", HERE / "xdf-openbci-emg-gestures")
    _xdf(
        shared / "xdf-openbci-emg-gestures/threeMotionData/three_motion_one.xdf",
        HERE / "xdf-openbci-emg-gestures/three_motion_one.xdf",
        0.1,
    )
    _copy_meta(shared / "xdf-muse-multistream", HERE / "xdf-muse-multistream")
    for sub in ("P003", "P031"):
        rel = f"data/sub-{sub}/ses-S001/eeg/sub-{sub}_ses-S001_task-Default_run-001_eeg.xdf"
        shutil.copy(
            shared / "xdf-muse-multistream" / rel, HERE / "xdf-muse-multistream" / Path(rel).name
        )


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else HERE.parents[2] / "shared" / "data")
