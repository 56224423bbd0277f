"""Export the chosen decoder to ONNX (docs/design.md#decoder) and measure its inference latency."""

from __future__ import annotations

import hashlib
import logging
import time
from pathlib import Path

import numpy as np

from bci.config._calibration import CalibrationConfig

from ._baseline_export import EXPORTABLE
from ._epochs import Trials

logger = logging.getLogger(__name__)


def _data_hash(trials: Trials) -> str:
    h = hashlib.sha256()
    h.update(np.ascontiguousarray(trials.X[:: max(1, len(trials.X) // 64)]).tobytes())
    h.update(trials.y.tobytes())
    return h.hexdigest()[:16]


def export_model(
    estimator: object, name: str, trials: Trials, config: CalibrationConfig, path: Path
) -> dict:
    """Write ``model.onnx`` with calibration metadata; return its latency (ms, ORT CPU, 1 thread).

    The decoder's input channels are named as in the recording (what the runtime sees on the
    stream); ``bci.montage`` maps each to its electrode position.
    """
    from bci import models

    module = estimator.to_torch()
    base = name.removeprefix("pop_")
    if base == "features" or base in EXPORTABLE:
        sfreq, n_times = trials.sfreq, trials.n_times
        normalization = "in-graph: per-window mean removed; features standardized inside the graph"
        example = trials.X[:8]
    else:
        sfreq = float(models.MODEL_SFREQ)
        n_times = int(module.n_times)
        normalization = models.NORMALIZATION
        from ._strategies import _resample

        example = _resample(trials.X[:8], trials.sfreq, sfreq)
    bp = list(config.bandpass) if config.bandpass else None
    if bp is not None:
        bp[1] = min(bp[1], 0.45 * trials.sfreq)
    meta = {
        "sfreq": sfreq,
        "ch_names": list(trials.ch_names),
        "n_times": int(n_times),
        "classes": list(config.classes),
        "normalization": normalization,
        "preprocess": {"bandpass": bp, "notch": config.notch},
        "version": __import__("bci").__version__,
        "data_hash": _data_hash(trials),
        "model_id": f"calibration/{config.paradigm}/{config.user}/{name}",
        "user": config.user,
        "paradigm": config.paradigm,
        "montage": dict(zip(trials.ch_names, trials.positions, strict=True)),
        "strategy": name,
        "recording_sfreq": trials.sfreq,
    }
    if config.epochs.events == "onset":  # the runtime decodes one epoch per onset marker
        ep = config.epochs
        meta["epochs"] = {
            "events": "onset",
            "markers": sorted(config.mapping),
            "tmin": ep.tmin,
            "tmax": ep.tmax,
            "marker_stream": ep.marker_stream,
            "baseline": list(ep.baseline) if ep.baseline else None,
        }
    models.export_onnx(module, path, meta, example)
    return measure_latency(path, example[0])


def measure_latency(path: Path, x: np.ndarray, n: int = 200) -> dict:
    """p50/p99 of ``DecoderONNX.__call__`` on one window (CPU, 1 thread)."""
    from bci._decoder import DecoderONNX

    dec = DecoderONNX(path, provider="cpu", threads=1)
    dec.warmup(10)
    x = np.ascontiguousarray(x, dtype=np.float32)
    t = np.empty(n)
    for i in range(n):
        t0 = time.perf_counter()
        dec(x)
        t[i] = time.perf_counter() - t0
    t *= 1e3
    return {
        "provider": str(dec.provider),
        "p50": round(float(np.percentile(t, 50)), 3),
        "p99": round(float(np.percentile(t, 99)), 3),
        "n": n,
    }
