"""``calibrate()``: recordings -> trials -> strategies and baselines on shared folds -> ONNX + report."""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from bci._scoring import itr_bits_per_min
from bci.config._calibration import EXPORTABLE_BASELINES as EXPORTABLE
from bci.config._calibration import CalibrationConfig

from ._baselines import DEFAULT_BASELINES, TDFeatures, make_baseline
from ._epochs import Trials, load_trials
from ._evaluate import (
    Scores,
    cross_validate,
    fit_estimator,
    learning_curve,
    make_folds,
    shortcut_check,
    shortcut_role,
    trial_accuracy,
)
from ._features import FeatureStrategy

if TYPE_CHECKING:
    from ._population import Population

logger = logging.getLogger(__name__)


@dataclass
class CalibrationResult:
    """What :func:`calibrate` produced."""

    out_dir: Path
    metrics: dict
    scores: list[Scores] = field(default_factory=list)


def _freqs(config: CalibrationConfig) -> list[float] | None:
    return [config.frequencies[c] for c in config.classes] if config.frequencies else None


def _factory(
    name: str,
    config: CalibrationConfig,
    trials: Trials,
    progress: bool = False,
    population: Population | None = None,
):
    """A zero-argument constructor for a strategy or baseline (``pop_<name>``: pooled)."""
    if name.startswith("pop_"):
        from ._population import pooled_factory

        base = _factory(name[4:], config, trials, progress)
        return pooled_factory(base, population, config)
    freqs = _freqs(config)
    n_classes = len(config.classes)
    if name == "features":
        return lambda: FeatureStrategy(
            config.family, trials.sfreq, n_classes, freqs=freqs, n_harmonics=config.n_harmonics
        )
    if name in ("linear_probe", "readin", "full", "scratch"):
        from ._strategies import FoundationStrategy

        tc = config.training
        return lambda: FoundationStrategy(
            name,
            trials.positions,
            trials.sfreq,
            list(config.classes),
            epochs=tc.epochs,
            patience=tc.patience,
            batch_size=tc.batch_size,
            max_windows=tc.max_windows,
            seed=config.evaluation.seed,
            progress=progress,
            encoder=tc.encoder,
        )

    def baseline():
        return make_baseline(
            name,
            sfreq=trials.sfreq,
            freqs=freqs,
            n_harmonics=config.n_harmonics,
            n_classes=n_classes,
        )

    if name in EXPORTABLE:
        from ._baseline_export import ExportableBaseline

        return lambda: ExportableBaseline(name, baseline(), n_classes)
    return baseline


def _single_channel_features(config: CalibrationConfig, trials: Trials):
    """Per-channel features for the single-channel shortcut check (the family's own features)."""
    if config.family == "emg":
        return lambda X: TDFeatures().transform(X.astype(np.float64))
    if config.family == "ssvep":
        from ._features import FeatureDecoder, _np_features

        m = FeatureDecoder(
            "ssvep",
            1,
            trials.n_times,
            trials.sfreq,
            freqs=_freqs(config),
            n_harmonics=config.n_harmonics,
            n_classes=len(config.classes),
        )
        return lambda X: _np_features(m, X.astype(np.float32))
    if config.family == "erp":
        from ._baselines import Decimate

        return lambda X: Decimate(max(1, int(round(trials.sfreq / 32)))).transform(X)
    return lambda X: np.log(np.var(X, axis=-1) + 1e-9)


def _primary(m: dict, binary: bool) -> float:
    return m["auc"] if binary and "auc" in m else m["accuracy"]


def pick_shipped(scores: list[Scores], ship: str, binary: bool, skipped: dict[str, str]) -> Scores:
    """The candidate to export: ``ship`` by name, or with ``auto`` the best-scoring strategy or
    exportable baseline (AUC for binary tasks, else accuracy; a tie goes to the strategy).

    Raises
    ------
    bci.DecoderError
        Nothing exportable could be trained, or the named one failed.
    """
    from bci import DecoderError

    exportable = [
        s for s in scores if s.kind == "strategy" or (s.kind == "baseline" and s.name in EXPORTABLE)
    ]
    if not exportable:
        raise DecoderError(f"no calibration strategy could be trained: {skipped}")
    if ship == "auto":  # a tie goes to the strategy (td_lda computes the emg features' figures)
        return max(
            exportable, key=lambda s: (round(_primary(s.metrics, binary), 6), s.kind == "strategy")
        )
    best = next((s for s in exportable if s.name == ship), None)
    if best is None:
        raise DecoderError(f"ship={ship!r} could not be trained: {skipped.get(ship)}")
    return best


def _compare_with_baselines(best: Scores, scores: list[Scores], binary: bool, ship: str) -> dict:
    """The shipped decoder next to the best baseline; a warning when a baseline beats it."""
    baselines = [s for s in scores if s.kind == "baseline"]
    metric = "auc" if binary and "auc" in best.metrics else "accuracy"
    out: dict = {"metric": metric, "shipped": best.name, "shipped_score": best.metrics[metric]}
    if not baselines:
        return out
    top = max(baselines, key=lambda s: _primary(s.metrics, binary))
    diff = _primary(best.metrics, binary) - _primary(top.metrics, binary)
    out.update(
        best_baseline=top.name,
        best_baseline_score=top.metrics[metric],
        difference=round(diff, 4),
        baseline_wins=diff < 0,
    )
    if best.kind == "baseline":
        out["note"] = f"baseline {best.name} is shipped: it beat every strategy"
    if diff < 0:
        how = (
            f"set ship: {top.name} to ship it"
            if top.name in EXPORTABLE and ship != "auto"
            else "it is report-only (not exportable to ONNX)"
            if top.name not in EXPORTABLE
            else ""
        )
        out["warning"] = (
            f"baseline {top.name} ({metric} {top.metrics[metric]:.3f}) beats the shipped "
            f"{best.name} ({best.metrics[metric]:.3f})" + (f"; {how}" if how else "")
        )
    return out


def _write_config(path: Path, config: CalibrationConfig) -> None:
    """The calibration config beside the model, so ``bci evaluate`` cuts trials the same way."""
    import yaml

    path.write_text(
        "# Written by bci calibrate: the config this model was calibrated with.\n"
        + yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False)
    )


def calibrate(
    paths: list[str | Path],
    config: CalibrationConfig,
    out_dir: str | Path,
    *,
    progress: bool = True,
    learning: bool = True,
    shortcut: bool = True,
) -> CalibrationResult:
    """Calibrate one user's decoder from recordings and write model, report and metrics.

    Parameters
    ----------
    paths : list of path-like
        Recordings (any format ``bci.devices.read_recording`` reads).
    config : CalibrationConfig
        Paradigm, mapping, epoching, strategies.
    out_dir : path-like
        Output folder: ``model.onnx``, ``metrics.json``, ``report.md`` and PNG plots.
    progress : bool
        tqdm bars over files, candidates and folds.
    learning, shortcut : bool
        Compute the learning curve and the shortcut check.

    Returns
    -------
    CalibrationResult

    Raises
    ------
    bci.RecordingError
        Unusable data: missing markers, too few trials per class, channel mismatch.

    Notes
    -----
    Runs with BLAS and OpenMP limited to one thread (``threadpoolctl``). The matrices of a
    calibration are small: on a 2-core machine, the threads' synchronisation made the
    linear probe's logistic regressions 9x slower than one thread (30 s vs 3.3 s a fold).
    """
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        return _calibrate(paths, config, out_dir, progress, learning, shortcut)


def _calibrate(
    paths: list[str | Path],
    config: CalibrationConfig,
    out_dir: str | Path,
    progress: bool,
    learning: bool,
    shortcut: bool,
) -> CalibrationResult:
    t_start = time.perf_counter()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    trials = load_trials(list(paths), config, progress=progress)
    n_classes = len(config.classes)
    binary = n_classes == 2
    pos = config.classes.index(config.positive) if config.positive else (1 if binary else None)
    ev = config.evaluation
    scheme, folds = make_folds(trials, ev.scheme, ev.folds, ev.seed)
    logger.info("%s: %s over %d windows", config.paradigm, scheme, len(trials.y))
    baselines = list(
        config.baselines if config.baselines is not None else DEFAULT_BASELINES[config.family]
    )
    if config.ship in EXPORTABLE and config.ship not in baselines:
        baselines.append(config.ship)
    candidates = [(b, "baseline") for b in baselines] + [(s, "strategy") for s in config.strategies]
    population = None
    if config.population:
        from ._population import load_population, pooled_candidates

        population = load_population(config.population, config, trials, paths)
        candidates += pooled_candidates(candidates)
    it = candidates
    if progress:
        from tqdm.auto import tqdm

        it = tqdm(candidates, desc="cross-validating", unit="candidate")
    scores: list[Scores] = []
    skipped: dict[str, str] = {}
    for name, kind in it:
        if name.removeprefix("pop_") in ("linear_probe", "readin", "full"):
            from ._strategies import pretrained_encoder

            if pretrained_encoder(config.training.encoder) is None:
                skipped[name] = "no pretrained encoder installed (models/weights)"
                continue
        X = trials.X.astype(np.float64) if kind == "baseline" else trials.X
        try:
            scores.append(
                cross_validate(
                    name,
                    kind,
                    _factory(name, config, trials, population=population),
                    X,
                    trials,
                    folds,
                    pos,
                )
            )
        except (ImportError, RuntimeError) as exc:
            skipped[name] = str(exc)
            logger.warning("%s %s skipped: %s", kind, name, exc)
    strategies = [s for s in scores if s.kind == "strategy"]
    best = pick_shipped(scores, config.ship, binary, skipped)
    warnings_: list[str] = [f"skipped {f}: {why}" for f, why in trials.skipped.items()]
    comparison = _compare_with_baselines(best, scores, binary, config.ship)
    if comparison.get("warning"):
        warnings_.append(comparison["warning"])
        logger.warning("%s", comparison["warning"])
    if config.family == "ssvep":
        T = config.epochs.tmax - config.epochs.tmin
        for s in scores:
            s.metrics["itr_bits_per_min"] = round(
                itr_bits_per_min(s.metrics["accuracy"], n_classes, T), 2
            )
    lc: list[dict] = []
    if learning:
        lc = learning_curve(
            _factory(best.name, config, trials, population=population),
            trials.X,
            trials,
            folds,
            ev.learning_curve,
            ev.seed,
            pos,
        )
    shortcuts: list[Scores] = []
    roles: dict[str, dict] = {}
    if shortcut:
        shortcuts = shortcut_check(
            trials, trials.X_raw, folds, pos, _single_channel_features(config, trials)
        )
        ref = _primary(best.metrics, binary)
        montage = dict(zip(trials.ch_names, trials.positions, strict=True))
        for s in shortcuts:
            role, why = shortcut_role(
                s.name, config.family, montage, _freqs(config), config.n_harmonics
            )
            v = _primary(s.metrics, binary)
            warns = role == "artifact" and v >= ref - ev.shortcut_margin
            roles[s.name] = {"role": role, "rule": why, "warns": warns}
            if warns:
                msg = (
                    f"shortcut check: artifact-only features '{s.name}' ({why}) reach {v:.3f} "
                    f"vs the shipped decoder's {ref:.3f} (margin {ev.shortcut_margin:g}); the "
                    "decoder may rely on eye/muscle artifacts"
                )
                warnings_.append(msg)
                logger.warning("%s", msg)
    # final model on every trial
    final = fit_estimator(
        _factory(best.name, config, trials, progress=progress, population=population)(),
        trials.X,
        trials.y,
        trials.groups,
    )
    from ._export import export_model

    latency = export_model(final, best.name, trials, config, out / "model.onnx")
    metrics = {
        "paradigm": config.paradigm,
        "family": config.family,
        "user": config.user,
        "classes": list(config.classes),
        "files": [str(p) for p in paths],
        "n_windows": int(len(trials.y)),
        "trials_per_class": trials.counts(),
        "sfreq": trials.sfreq,
        "ch_names": trials.ch_names,
        "montage": dict(zip(trials.ch_names, trials.positions, strict=True)),
        "window_s": round(trials.n_times / trials.sfreq, 3),
        "evaluation": scheme,
        "best": {
            "name": best.name,
            "accuracy": best.metrics["accuracy"],
            "balanced_accuracy": best.metrics["balanced_accuracy"],
            **({"auc": best.metrics["auc"]} if "auc" in best.metrics else {}),
            **{
                k: best.metrics[k]
                for k in ("trial_accuracy", "n_trials", "chance", "p_value", "auc_p_value")
                if k in best.metrics
            },
            "kind": best.kind,
        },
        "comparison": {k: v for k, v in comparison.items() if k != "warning"},
        "strategies": {s.name: s.metrics for s in strategies},
        "baselines": {s.name: s.metrics for s in scores if s.kind == "baseline"},
        "skipped": skipped,
        "learning_curve": lc,
        "shortcut": {
            s.name: {
                **{
                    k: s.metrics[k]
                    for k in ("accuracy", "balanced_accuracy", "auc")
                    if k in s.metrics
                },
                **roles.get(s.name, {}),
            }
            for s in shortcuts
        },
        "shortcut_margin": ev.shortcut_margin,
        "skipped_files": dict(trials.skipped),
        "warnings": warnings_,
        "inference_latency_ms": latency,
        "seconds": round(time.perf_counter() - t_start, 1),
    }
    if population is not None:
        metrics["population"] = population.describe()
        metrics["seconds_without_population"] = round(metrics["seconds"] - population.seconds, 1)
    if scheme.startswith("leave-one-session"):
        pred = best.proba.argmax(axis=1)
        metrics["per_session"] = {
            str(sess): round(
                float((pred[trials.sessions == sess] == trials.y[trials.sessions == sess]).mean()),
                4,
            )
            for sess in np.unique(trials.sessions)
        }
        metrics["per_session_trial_accuracy"] = {
            str(sess): round(trial_accuracy(best.proba[sel], trials.y[sel], trials.groups[sel]), 4)
            for sess in np.unique(trials.sessions)
            if (sel := trials.sessions == sess).any()
        }
    if "scratch" in metrics["strategies"]:
        pre = [n for n in ("linear_probe", "readin", "full") if n in metrics["strategies"]]
        metrics["pretrained_vs_scratch"] = {
            n: round(
                _primary(metrics["strategies"][n], binary)
                - _primary(metrics["strategies"]["scratch"], binary),
                4,
            )
            for n in pre
        }
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2, default=float))
    _write_config(out / "calibration.yaml", config)
    from ._report import write_report

    write_report(out, metrics, scores + shortcuts, best)
    logger.info(
        "calibrated %s for %s in %.1f s: best %s accuracy %.3f -> %s",
        config.paradigm,
        config.user,
        metrics["seconds"],
        best.name,
        best.metrics["accuracy"],
        out,
    )
    return CalibrationResult(out, metrics, scores + shortcuts)
