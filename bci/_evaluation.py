"""``bci evaluate``: decode labelled recordings with the live pipeline and score the decisions.

:func:`evaluate` runs :func:`bci.decode_recording` (virtual time or an LSL replay), cuts each
file's trials as its calibration config defines them (:mod:`bci._scoring`), and writes
``evaluation.json``, ``report.md`` and PNG plots. With ``offline=True`` it also scores the
same decoder on the same files epoch by epoch, as calibration does (this imports torch).
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ._errors import ConfigError
from ._scoring import RecordingScore, cut_trials, match_decisions, summarize

if TYPE_CHECKING:
    from .config import CalibrationConfig, SessionConfig

logger = logging.getLogger(__name__)


def find_calibration_config(decoder: str | Path) -> Path | None:
    """``calibration.yaml`` written beside a calibrated model, if there is one."""
    p = Path(decoder)
    folder = p if p.is_dir() else p.parent
    cand = folder / "calibration.yaml"
    return cand if cand.is_file() else None


def _rest_class(config: CalibrationConfig) -> int | None:
    lower = [c.lower() for c in config.classes]
    return lower.index("rest") if "rest" in lower else None


def _positive(config: CalibrationConfig) -> int | None:
    if len(config.classes) != 2:
        return None
    return config.classes.index(config.positive) if config.positive else 1


def score_recording(decoded: object, config: CalibrationConfig) -> RecordingScore:
    """Match one :class:`bci.DecodedRecording`'s decisions to the trials of its file."""
    d = decoded.decisions
    markers = list(decoded.markers)
    times = [t for t, _ in markers]
    if len(d) and not decoded.event_locked:
        t_begin, t_end = float(d["t_first"].min()), float(d["t_last"].max())
    else:
        cand = [*times, *(d["t_first"].tolist() if len(d) else [])]
        t_begin = min(cand) if cand else 0.0
        t_end = max([*times, *(d["t_last"].tolist() if len(d) else [])] or [t_begin])
    trials = cut_trials(markers, config, t_end)
    return match_decisions(
        str(decoded.path),
        d["t_first"],
        d["t_last"],
        d["t_sample"],
        d["probs"],
        d["label_index"],
        trials,
        t_begin=t_begin,
        t_end=t_end,
        rest_class=_rest_class(config),
    )


def offline_scores(
    decoder: str | Path, recordings: Sequence[str | Path], config: CalibrationConfig
) -> dict:
    """The decoder on the same files, epoch by epoch as calibration cuts and filters them.

    Returns the window and trial metrics of :func:`bci._scoring.classification_metrics`.
    """
    from scipy import signal as sps

    from bci.models.calibration._epochs import load_trials

    from ._decoder import DecoderONNX
    from ._scoring import classification_metrics

    cfg = config.model_copy(update={"min_trials_per_class": 2})
    trials = load_trials(list(recordings), cfg)
    dec = DecoderONNX(decoder, provider="cpu", threads=1)
    X = trials.X
    if dec.sfreq and abs(dec.sfreq - trials.sfreq) > 1e-6:
        from fractions import Fraction

        fr = Fraction(dec.sfreq / trials.sfreq).limit_denominator(100)
        X = sps.resample_poly(X, fr.numerator, fr.denominator, axis=-1).astype(np.float32)
    if X.shape[-1] != dec.n_times:
        n = dec.n_times
        X = X[..., :n] if X.shape[-1] >= n else np.pad(X, ((0, 0), (0, 0), (0, n - X.shape[-1])))
    proba = np.stack([np.array(dec(x), dtype=np.float64) for x in X])
    n_classes = len(config.classes)
    ug, inv = np.unique(trials.groups, return_inverse=True)
    sums = np.zeros((len(ug), n_classes))
    np.add.at(sums, inv, proba)
    ty = np.zeros(len(ug), int)
    ty[inv] = trials.y
    pos = _positive(config)
    return {
        "windows": classification_metrics(trials.y, proba, n_classes, pos),
        "trials": classification_metrics(ty, sums / np.bincount(inv)[:, None], n_classes, pos),
        "skipped_files": dict(trials.skipped),
    }


def evaluate(
    decoder: str | Path,
    recordings: Sequence[str | Path],
    config: CalibrationConfig,
    out_dir: str | Path,
    *,
    speed: float | None = None,
    session: SessionConfig | None = None,
    offline: bool = False,
    plots: bool = True,
) -> dict:
    """Decode ``recordings`` with the live pipeline and score them; write the report.

    Parameters
    ----------
    decoder : str | Path
        ``.onnx`` file or ``bci calibrate`` output folder.
    recordings : sequence of path-like
        Labelled recordings the decoder did not see in calibration.
    config : CalibrationConfig
        How trials and labels are read from the files (``mapping``, ``epochs``, ``classes``).
    out_dir : path-like
        Where ``evaluation.json``, ``report.md`` and the PNG plots go.
    speed : float | None
        ``None``: virtual time. A number: LSL replay at that speed.
    session : SessionConfig | None
        Hop and post-processing (smoothing, threshold, dwell) of the live pipeline.
    offline : bool
        Also score the decoder epoch by epoch as calibration does (imports torch).
    plots : bool
        Write the PNG plots.

    Returns
    -------
    dict
        What ``evaluation.json`` holds.

    Raises
    ------
    ConfigError
        The decoder's classes differ from the config's.
    """
    from ._evaluate_run import decode_recording

    t0 = time.perf_counter()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    decoded = decode_recording(
        decoder, recordings, calibration=config, speed=speed, session=session
    )
    classes = list(config.classes)
    for d in decoded:
        if list(d.class_names) != classes and not all(c.isdigit() for c in d.class_names):
            raise ConfigError(
                f"the decoder's classes {list(d.class_names)} differ from the calibration "
                f"config's {classes}: pass the --config the decoder was calibrated with"
            )
    scores = [score_recording(d, config) for d in decoded]
    n_classes = len(classes)
    pos = _positive(config)
    result: dict = {
        "decoder": str(decoder),
        "paradigm": config.paradigm,
        "classes": classes,
        "mode": "virtual time" if speed is None else f"LSL replay at {speed:g}x",
        "event_locked": bool(decoded and decoded[0].event_locked),
        "trial_definition": config.epochs.events,
        "files": [str(d.path) for d in decoded],
        "summary": summarize(scores, n_classes, pos),
        "per_file": {},
    }
    for d, s in zip(decoded, scores, strict=True):
        one = summarize([s], n_classes, pos)
        result["per_file"][str(d.path)] = {
            "decisions": s.n_decisions,
            "trials": one["trials"].get("n", 0),
            "trial_accuracy": one["trials"].get("accuracy"),
            "window_accuracy": one["windows"].get("accuracy"),
            "auc": one["trials"].get("auc"),
            "duration_s": d.duration_s,
            "wall_s": d.wall_s,
            "realtime_factor": d.realtime_factor,
            "counters": d.counters,
            "latency_ms": d.latency_ms,
        }
    if offline:
        off = offline_scores(decoder, recordings, config)
        result["offline"] = off
        on_acc = result["summary"]["trials"].get("accuracy")
        off_acc = off["trials"].get("accuracy")
        if on_acc is not None and off_acc is not None:
            result["online_minus_offline"] = {"trial_accuracy": on_acc - off_acc}
            if "auc" in off["trials"] and "auc" in result["summary"]["trials"]:
                result["online_minus_offline"]["trial_auc"] = (
                    result["summary"]["trials"]["auc"] - off["trials"]["auc"]
                )
    result["seconds"] = time.perf_counter() - t0
    (out / "evaluation.json").write_text(json.dumps(_clean(result), indent=2))
    from ._scoring_report import write_evaluation_report

    write_evaluation_report(out, result, decoded, scores, config, plots=plots)
    s = result["summary"]["trials"]
    if s.get("n"):
        logger.info(
            "evaluated %s on %d file(s): trial accuracy %.3f over %d trials (chance %.3f) -> %s",
            config.paradigm,
            len(decoded),
            s["accuracy"],
            s["n"],
            s["chance"],
            out,
        )
    return result


def _clean(obj: object) -> object:
    """JSON-safe: NaN/inf become null, numpy scalars become Python numbers."""
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_clean(v) for v in obj]
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj
