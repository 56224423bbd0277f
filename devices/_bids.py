"""Export a session recording to EEG-BIDS (through mne-bids), with the runtime's outputs as a
derivative.

Raw data: the decoded signal (the first regularly sampled stream, or ``signal=``) is written
by :func:`mne_bids.write_raw_bids` (BrainVision by default) with ``channels.tsv``,
``events.tsv`` (one row per stimulus marker, onset within one sample), the ``_eeg.json``
sidecar, ``participants.tsv``, ``scans.tsv`` and ``dataset_description.json``.

Derivative (``derivatives/bci-runtime/``, when the recording holds them): one TSV per kind,
onsets in seconds from the first sample of the raw data, each with a JSON sidecar that
describes its columns:

- ``*_desc-decisions_events.tsv``: every decision (class probabilities, emitted label);
- ``*_desc-latency_events.tsv``: the latency stamps of every decision (LSL clock) and the
  stage latencies in ms;
- ``*_desc-runtime_events.tsv``: the runtime's own events (start, gaps, stop...).
"""

from __future__ import annotations

import json
import logging
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from bci._errors import ConfigError, RecordingError
from bci._interop import pick_signal, sample_index

if TYPE_CHECKING:
    from bci._types import Recording, Signal, StreamSpec

logger = logging.getLogger(__name__)

DERIVATIVE = "bci-runtime"
#: Marker stream types that become BIDS events (XDF); other string streams are left out.
STIMULUS_TYPES = ("Markers", "Marker", "markers", "")
_FORMATS = ("BrainVision", "EDF", "BDF", "FIF")


@dataclass
class BIDSExport:
    """What :func:`write_bids` wrote.

    Parameters
    ----------
    raw : Path
        The raw data file (``*_eeg.vhdr``, ``.edf`` or ``.fif``).
    events : Path | None
        ``*_events.tsv``; ``None`` when the recording has no stimulus marker on the signal.
    n_events : int
        Rows of ``events.tsv``.
    derivatives : list of Path
        The ``derivatives/bci-runtime/`` TSV files (decisions, latency, runtime events).
    """

    raw: Path
    events: Path | None
    n_events: int
    derivatives: list[Path] = field(default_factory=list)


def _label(value: str, what: str) -> str:
    if not value or not value.isalnum():
        raise ConfigError(
            f"BIDS {what}={value!r} (--{what}): use letters and digits only, no -, _ or spaces.",
            [(what, value, "alphanumeric")],
        )
    return value


def write_bids(
    path: str | os.PathLike,
    root: str | os.PathLike,
    *,
    subject: str = "01",
    session: str | None = None,
    task: str = "bci",
    run: int | None = None,
    signal: str | None = None,
    line_freq: float | None = None,
    fmt: str | None = None,
    overwrite: bool = False,
) -> BIDSExport:
    """Write one recording into a BIDS dataset.

    Parameters
    ----------
    path : path-like
        A session recording (``bci run`` XDF) or any file
        :func:`bci.devices.read_recording` reads.
    root : path-like
        The BIDS dataset folder (created or added to).
    subject, session, task : str
        BIDS entities (letters and digits).
    run : int | None
        BIDS run number.
    signal : str | None
        Stream name of the signal to export; default: the first regularly sampled one.
    line_freq : float | None
        Mains frequency for the sidecar (``PowerLineFrequency``); ``None`` writes ``n/a``.
    fmt : str | None
        ``"BrainVision"``, ``"EDF"``, ``"BDF"`` or ``"FIF"``; ``None``: BrainVision for EEG,
        EDF for EMG (EMG-BIDS takes EDF or BDF only).
    overwrite : bool
        Replace files of the same subject/session/task/run.

    Returns
    -------
    BIDSExport
        Paths of the raw file, ``events.tsv`` and the derivative TSVs.

    Raises
    ------
    ConfigError
        An entity that BIDS does not allow, or an unknown ``fmt``.
    RecordingError
        The file cannot be read, has no such signal, or the output exists (pass
        ``overwrite``).
    """
    import mne_bids

    from ._readers import read_recording, xdf_recording

    for what, value in (("subject", subject), ("task", task), ("session", session)):
        if value is not None:
            _label(value, what)
    if fmt is not None and fmt not in _FORMATS:
        raise ConfigError(
            f"BIDS format {fmt!r} (--format) is unknown; use one of {', '.join(_FORMATS)}."
        )
    p = Path(path)
    specs: dict[str, StreamSpec] = {}
    if p.suffix.lower() in (".xdf", ".xdfz") and p.is_file():
        rec, specs = xdf_recording(p)
    else:
        rec = read_recording(p)
    sig = pick_signal(rec, signal)
    stim_streams = sorted(
        {m.stream for m in rec.markers if m.stream not in specs}
        | {name for name, s in specs.items() if s.stype in STIMULUS_TYPES}
    )
    raw = rec.to_mne(signal=sig.spec.name, markers=stim_streams)
    raw.info["line_freq"] = line_freq
    types = set(raw.get_channel_types())
    datatype = "eeg" if "eeg" in types else "emg" if "emg" in types else None
    if datatype is None:
        raise RecordingError(
            f"{p}: signal {sig.spec.name!r} has no EEG or EMG channel (types {sorted(types)}); "
            "pick another stream with --signal."
        )
    if fmt is None:
        fmt = "BrainVision" if datatype == "eeg" else "EDF"
    if datatype == "emg" and fmt not in ("EDF", "BDF"):
        raise ConfigError(
            f"BIDS format {fmt!r} (--format): EMG-BIDS stores EDF or BDF only; use one of them."
        )
    bids_path = mne_bids.BIDSPath(
        subject=subject, session=session, task=task, run=run, datatype=datatype, root=root
    )
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            mne_bids.write_raw_bids(
                raw,
                bids_path,
                format=fmt,
                allow_preload=True,
                overwrite=overwrite,
                emg_placement="Other" if datatype == "emg" else None,  # electrode sites unknown
                verbose=False,
            )
    except FileExistsError as exc:
        raise RecordingError(f"{exc} Pass overwrite (--overwrite) to replace it.") from exc
    for w in caught:
        logger.warning("mne-bids: %s", w.message)
    raw_path = Path(bids_path.fpath)
    events = bids_path.copy().update(suffix="events", extension=".tsv")
    events_path = Path(events.fpath) if Path(events.fpath).is_file() else None
    out = BIDSExport(raw_path, events_path, len(raw.annotations))
    out.derivatives = _write_derivatives(rec, specs, sig, bids_path, overwrite)
    logger.debug(
        "BIDS: %s (%d channels at %g Hz, %d events, %d derivative files)",
        raw_path,
        sig.spec.n_channels,
        sig.spec.sfreq,
        out.n_events,
        len(out.derivatives),
    )
    return out


# --------------------------------------------------------------------------- derivatives
def _tsv(path: Path, columns: dict[str, Any], sidecar: dict[str, Any], overwrite: bool) -> Path:
    if path.exists() and not overwrite:
        raise RecordingError(f"{path} exists; pass overwrite (--overwrite) to replace it.")
    path.parent.mkdir(parents=True, exist_ok=True)
    names = list(columns)
    n = len(next(iter(columns.values())))
    lines = ["\t".join(names)]
    for k in range(n):
        cells = []
        for name in names:
            v = columns[name][k]
            if v is None or (isinstance(v, float) and not np.isfinite(v)):
                cells.append("n/a")
            elif isinstance(v, float | np.floating):
                digits = 6 if name == "onset" else 4 if name.endswith("_ms") else None
                cells.append(repr(float(v)) if digits is None else f"{float(v):.{digits}f}")
            else:
                cells.append(str(v).replace("\t", " ").replace("\n", " "))
        lines.append("\t".join(cells))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    path.with_suffix(".json").write_text(json.dumps(sidecar, indent=2) + "\n", encoding="utf-8")
    return path


def _dataset_description(deriv_root: Path) -> None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        ver = version("bci-runtime")
    except PackageNotFoundError:
        ver = "unknown"
    desc = {
        "Name": "bci-runtime decisions and latency stamps",
        "BIDSVersion": "1.9.0",
        "DatasetType": "derivative",
        "GeneratedBy": [{"Name": "bci-runtime", "Version": ver, "Description": "bci export-bids"}],
    }
    deriv_root.mkdir(parents=True, exist_ok=True)
    (deriv_root / "dataset_description.json").write_text(json.dumps(desc, indent=2) + "\n")


def _write_derivatives(
    rec: Recording, specs: dict[str, StreamSpec], sig: Signal, bids_path: Any, overwrite: bool
) -> list[Path]:
    decisions = [s for s in rec.signals if s.spec.stype == "Decision"]
    stamps = [s for s in rec.signals if s.spec.stype == "LatencyStamps"]
    runtime = [name for name, s in specs.items() if s.stype == "Events"]
    if not (decisions or stamps or runtime):
        return []
    deriv_root = Path(bids_path.root) / "derivatives" / DERIVATIVE
    _dataset_description(deriv_root)
    base = bids_path.copy().update(root=deriv_root, suffix="events", extension=".tsv", check=False)
    written = []

    def onset(t: np.ndarray) -> np.ndarray:
        return sample_index(sig, t) / sig.spec.sfreq

    clock = "LSL clock of the recording, seconds"
    for dec in decisions:
        classes = list(dec.spec.ch_names[:-1])
        index = dec.data[-1].astype(int)
        cols: dict[str, Any] = {
            "onset": onset(dec.timestamps),
            "duration": [0.0] * index.size,
            "t_sample": dec.timestamps,
            "label": [classes[i] if 0 <= i < len(classes) else None for i in index],
        }
        cols.update({f"p_{c}": dec.data[k] for k, c in enumerate(classes)})
        sidecar = {
            "onset": {"Description": "Time of the last sample of the decoded window", "Units": "s"},
            "t_sample": {"Description": f"Last sample of the window on the {clock}"},
            "label": {"Description": "Emitted label (n/a: below threshold or dwell)"},
            **{f"p_{c}": {"Description": f"Smoothed probability of class {c}"} for c in classes},
            "StreamName": dec.spec.name,
        }
        path = Path(base.copy().update(description="decisions").fpath)
        written.append(_tsv(path, cols, sidecar, overwrite))
    for st in stamps:
        t = {name: st.data[k].astype(np.float64) for k, name in enumerate(st.spec.ch_names)}
        cols = {"onset": onset(st.timestamps), "duration": [0.0] * st.timestamps.size, **t}
        sidecar = {
            "onset": {"Description": "t_sample mapped onto the raw data", "Units": "s"},
            **{name: {"Description": f"{name} on the {clock}"} for name in t},
            "StreamName": st.spec.name,
        }
        if {"t_sample", "t_pull", "t_decoded", "t_published"} <= set(t):
            stages = {
                "transport_ms": ("t_pull", "t_sample"),
                "processing_ms": ("t_decoded", "t_pull"),
                "output_ms": ("t_published", "t_decoded"),
                "decision_ms": ("t_published", "t_sample"),
            }
            for name, (b, a) in stages.items():
                cols[name] = (t[b] - t[a]) * 1e3
                sidecar[name] = {"Description": f"{b} - {a}", "Units": "ms"}
        path = Path(base.copy().update(description="latency").fpath)
        written.append(_tsv(path, cols, sidecar, overwrite))
    events = [m for m in rec.markers if m.stream in runtime]
    if events:
        kinds = []
        for m in events:
            try:
                kinds.append(str(json.loads(m.value).get("event", "")))
            except (ValueError, AttributeError):
                kinds.append("")
        cols = {
            "onset": onset(np.array([m.timestamp for m in events])),
            "duration": [0.0] * len(events),
            "event": kinds,
            "payload": [m.value for m in events],
        }
        sidecar = {
            "onset": {"Description": "Time of the runtime event", "Units": "s"},
            "event": {"Description": "Event kind (started, gap, stopped...)"},
            "payload": {"Description": "The event as published (JSON)"},
            "StreamName": runtime,
        }
        path = Path(base.copy().update(description="runtime").fpath)
        written.append(_tsv(path, cols, sidecar, overwrite))
    return written
