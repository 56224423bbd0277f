"""Cross-user calibration: population models, leave-one-subject-out and few-trial curves.

A *population* is the labelled recordings of other users of the same paradigm (same montage,
rate and classes). Every candidate, classical or foundation-model, can start from it the same
way: :class:`PooledEstimator` trains the candidate on the population's trials plus the new
user's calibration trials (``pop_features``, ``pop_xdawn_lda``, ``pop_td_lda``,
``pop_linear_probe``...). The comparison stays fair: every pooled candidate sees exactly the
same population and the same trials of the new user.

:func:`leave_one_subject_out` is the evaluation scheme for it: each subject in turn is the new
user; the others are the population. The new user's trials are split in recording order: the
first ``calibration_share`` are the calibration pool, the rest the test trials. A calibration
takes the *first* ``n`` trials per class of that pool (as a user who calibrates for a shorter
time would give), so the few-trial curve (5, 10, 20, 40, all) is scored on one fixed test set.
The foundation-model strategy (and the classical pipeline) that a calibration would ship is
chosen by inner cross-validation on the calibration trials alone, never on the test trials.
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bci._errors import ConfigError, RecordingError
from bci.config._calibration import CalibrationConfig

from ._epochs import CalibrationDataError, Trials, load_trials
from ._evaluate import fit_estimator

logger = logging.getLogger(__name__)

#: Prefix of a candidate trained on the population plus the user's trials.
POOLED = "pop_"
#: Foundation-model strategies (the rest are classical).
FOUNDATION = ("linear_probe", "readin", "full", "scratch")


def base_name(name: str) -> str:
    """``pop_linear_probe`` -> ``linear_probe``."""
    return name.removeprefix(POOLED)


def is_foundation(name: str) -> bool:
    """Whether a candidate (pooled or not) is a foundation-model strategy."""
    return base_name(name) in FOUNDATION


def subject_of(path: str | Path, root: str | Path | None = None) -> str:
    """The subject a recording belongs to.

    The first folder below ``root`` (default: the recording's grandparent folder when that
    looks like ``subjectN/sessionM``), with a trailing ``-<session number>`` removed:
    ``muse-p300/subject2/session1/x.csv`` -> ``subject2``, ``right_hand/45612-3/4.txt`` ->
    ``45612``.
    """
    p = Path(path)
    if root is not None:
        try:
            part = p.resolve().relative_to(Path(root).resolve()).parts[0]
        except (ValueError, IndexError):
            part = p.parent.name
    elif re.fullmatch(r"(session|ses-?)\w*", p.parent.name, flags=re.I):
        part = p.parent.parent.name
    else:
        part = p.parent.name
    return re.sub(r"-\d+$", "", part)


def group_by_subject(paths: Sequence[str | Path]) -> dict[str, list[Path]]:
    """Recordings grouped by :func:`subject_of`, in sorted order."""
    out: dict[str, list[Path]] = {}
    for p in sorted(map(Path, paths)):
        out.setdefault(subject_of(p), []).append(p)
    return out


@dataclass
class Population:
    """Trials of other users of one paradigm, pooled.

    Parameters
    ----------
    trials : Trials
        Every window of every subject (``groups`` unique across subjects).
    subjects : ndarray of str
        Subject of each window.
    seconds : float
        Time it took to read and epoch the recordings (its preparation time).
    """

    trials: Trials
    subjects: np.ndarray
    seconds: float = 0.0

    @property
    def names(self) -> list[str]:
        """The subjects, sorted."""
        return sorted(set(self.subjects.tolist()))

    def describe(self) -> dict:
        """Subjects, windows and trials per class, preparation time (for ``metrics.json``)."""
        return {
            "subjects": self.names,
            "n_windows": int(len(self.trials.y)),
            "trials_per_class": self.trials.counts(),
            "files": list(self.trials.files),
            "prepare_seconds": round(self.seconds, 1),
        }


def concat_trials(parts: Sequence[Trials]) -> Trials:
    """One :class:`Trials` from several with the same channels, rate and classes."""
    first = parts[0]
    groups, offset = [], 0
    for t in parts:
        groups.append(t.groups + offset)
        offset = int(groups[-1].max()) + 1
    raw = [t.X_raw for t in parts]
    return Trials(
        X=np.concatenate([t.X for t in parts]),
        y=np.concatenate([t.y for t in parts]),
        groups=np.concatenate(groups),
        sessions=np.concatenate([t.sessions for t in parts]),
        sfreq=first.sfreq,
        ch_names=list(first.ch_names),
        positions=list(first.positions),
        classes=list(first.classes),
        files=[f for t in parts for f in t.files],
        X_raw=None if any(r is None for r in raw) else np.concatenate(raw),
    )


def conform(other: Trials, user: Trials, subject: str = "") -> Trials:
    """``other``'s windows on ``user``'s time grid (same montage required).

    Muse recordings time-stamped by their host run at 256-259 Hz: windows of one duration
    then differ by a sample or two. Rates within 5 % are resampled to the user's window
    length; anything else is an error.

    Raises :class:`CalibrationDataError` for another montage or rate.
    """
    from dataclasses import replace

    if other.ch_names != user.ch_names or abs(other.sfreq - user.sfreq) > 0.05 * user.sfreq:
        raise CalibrationDataError(
            f"population subject {subject} has {other.ch_names} at {other.sfreq:g} Hz but the "
            f"user's recordings have {user.ch_names} at {user.sfreq:g} Hz; a population must "
            "share the montage (set 'channels' in the config or drop it from --population)"
        )
    if other.n_times == user.n_times:
        return other
    from scipy.signal import resample

    def fit(X: np.ndarray | None) -> np.ndarray | None:
        if X is None:
            return None
        return resample(X, user.n_times, axis=-1).astype(X.dtype)

    return replace(other, X=fit(other.X), X_raw=fit(other.X_raw), sfreq=user.sfreq)


def load_subject(
    files: Sequence[str | Path], config: CalibrationConfig, subject: str = ""
) -> Trials:
    """One subject's trials, file by file: a file left with no usable trial (every trial
    rejected, no matching marker) is skipped with a warning instead of failing the subject.

    Raises :class:`CalibrationDataError` when no file of the subject has a usable trial.
    """
    parts = []
    for f in files:
        try:
            t = load_trials([f], config)
        except (RecordingError, ValueError) as exc:
            logger.warning("%s: skipped (%s)", f, exc)
            continue
        if len(t.y):
            parts.append(t)
    if not parts:
        raise CalibrationDataError(
            f"subject {subject or '?'}: no usable trial in {len(files)} recording(s)"
        )
    return concat_trials(parts)


def load_population(
    paths: Sequence[str | Path],
    config: CalibrationConfig,
    user: Trials | None = None,
    user_files: Sequence[str | Path] = (),
) -> Population:
    """Read the population's recordings, one subject at a time (:func:`subject_of`).

    Raises
    ------
    bci.ConfigError
        No file given, or a file that is also one of the user's calibration recordings.
    CalibrationDataError
        A subject whose montage, rate or window differs from the user's.
    """
    t0 = time.perf_counter()
    if not paths:
        raise ConfigError("population: no recording given (--population FILES or 'population')")
    missing = [str(p) for p in paths if not Path(p).is_file()]
    if missing:
        raise ConfigError(
            f"population: {missing[0]}: no such file (--population or 'population' in the config)"
        )
    mine = {Path(p).resolve() for p in user_files}
    both = sorted(str(p) for p in paths if Path(p).resolve() in mine)
    if both:
        raise ConfigError(
            f"population: {both[0]} is also one of the user's recordings (--data); the "
            "population must hold other users' recordings only"
        )
    parts, subjects = [], []
    for subject, files in group_by_subject(paths).items():
        t = load_subject(files, config, subject)
        ref = user if user is not None else (parts[0] if parts else t)
        parts.append(conform(t, ref, subject))
        subjects.append(np.full(len(t.y), subject))
    pop = Population(concat_trials(parts), np.concatenate(subjects), time.perf_counter() - t0)
    logger.info(
        "population: %d subjects, %d windows (%.1f s to prepare)",
        len(parts),
        len(pop.trials.y),
        pop.seconds,
    )
    return pop


def subsample_trials(
    y: np.ndarray, groups: np.ndarray, max_windows: int | None, seed: int
) -> np.ndarray:
    """Indices of whole trials, drawn class-stratified, adding up to about ``max_windows``."""
    if max_windows is None or len(y) <= max_windows:
        return np.arange(len(y))
    rng = np.random.default_rng([seed, 3])
    keep = []
    share = max_windows / len(y)
    for k in np.unique(y):
        g = np.unique(groups[y == k])
        n = max(1, int(round(share * len(g))))
        keep.append(rng.choice(g, size=min(n, len(g)), replace=False))
    return np.flatnonzero(np.isin(groups, np.concatenate(keep)))


class PooledEstimator:
    """A candidate trained on the population's trials plus the user's (``pop_<name>``).

    Parameters
    ----------
    factory : callable
        Builds the underlying candidate (a strategy or a baseline).
    population : Population
        Other users' trials.
    max_windows : int | None
        Population windows used at most (whole trials, class-stratified, seeded).
    seed : int
        Seed of that subsample.
    """

    def __init__(
        self,
        factory: Callable[[], object],
        population: Population,
        max_windows: int | None = None,
        seed: int = 0,
    ):
        self.factory = factory
        self.population = population
        self.max_windows = max_windows
        self.seed = seed

    def fit(
        self, X: np.ndarray, y: np.ndarray, groups: np.ndarray | None = None
    ) -> PooledEstimator:
        """Fit the candidate on population + user windows (trial ids kept apart)."""
        pt = self.population.trials
        sel = subsample_trials(pt.y, pt.groups, self.max_windows, self.seed)
        Xp = pt.X[sel].astype(X.dtype, copy=False)
        g_user = np.arange(len(y)) if groups is None else np.asarray(groups)
        g_pop = pt.groups[sel] + int(g_user.max()) + 1
        self.estimator_ = fit_estimator(
            self.factory(),
            np.concatenate([Xp, X]),
            np.concatenate([pt.y[sel], y]),
            np.concatenate([g_pop, g_user]),
        )
        self.classes_ = getattr(self.estimator_, "classes_", np.unique(y))
        self.n_population_windows_ = len(sel)
        return self

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """The candidate's class probabilities."""
        return self.estimator_.predict_proba(X)

    def to_torch(self) -> object:
        """The trained module for export (strategies only)."""
        return self.estimator_.to_torch()


def pooled_factory(
    factory: Callable[[], object], population: Population, config: CalibrationConfig
) -> Callable[[], PooledEstimator]:
    """Wrap a candidate's factory so it trains on the population too."""
    return lambda: PooledEstimator(
        factory, population, config.population_max_windows, config.evaluation.seed
    )


def pooled_candidates(candidates: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """``pop_<name>`` for every candidate that can pool (all but the training-free FBCCA)."""
    return [(POOLED + n, k) for n, k in candidates if n != "fbcca"]


# --- leave-one-subject-out ---------------------------------------------------------------


def first_trials(
    y: np.ndarray, groups: np.ndarray, n_per_class: int | None, positive: int | None
) -> np.ndarray:
    """Window indices of the first trials in recording order (trial ids increase with time).

    With ``positive`` (ERP): trials up to the ``n``-th trial of that class, the other class's
    trials shown alongside included (a P300 calibration of 20 targets also shows the
    non-targets in between). Otherwise the first ``n`` trials of each class. ``None``: all.
    """
    if n_per_class is None:
        return np.arange(len(y))
    order = np.unique(groups)  # sorted = recording order
    label = {g: int(y[groups == g][0]) for g in order}
    keep: list[int] = []
    if positive is not None:
        seen = 0
        for g in order:
            keep.append(g)
            seen += label[g] == positive
            if seen >= n_per_class:
                break
    else:
        count: dict[int, int] = {}
        for g in order:
            if count.get(label[g], 0) < n_per_class:
                keep.append(g)
                count[label[g]] = count.get(label[g], 0) + 1
    return np.flatnonzero(np.isin(groups, keep))


def calibration_split(trials: Trials, share: float) -> tuple[np.ndarray, np.ndarray]:
    """(calibration pool, test) window indices: the first ``share`` of each class's trials
    in recording order, then the rest."""
    pool = []
    for k in np.unique(trials.y):
        g = np.unique(trials.groups[trials.y == k])
        pool.extend(g[: max(1, int(round(share * len(g))))].tolist())
    cal = np.flatnonzero(np.isin(trials.groups, pool))
    return cal, np.setdiff1d(np.arange(len(trials.y)), cal)


def _score(y: np.ndarray, proba: np.ndarray, positive: int | None) -> float:
    from sklearn.metrics import roc_auc_score

    if proba.shape[1] == 2:
        pos = 1 if positive is None else positive
        yt = (y == pos).astype(int)
        if 0 < yt.sum() < len(yt):
            return float(roc_auc_score(yt, proba[:, pos]))
    return float((proba.argmax(axis=1) == y).mean())


def _proba(est: object, X: np.ndarray, n_classes: int) -> np.ndarray:
    p = np.asarray(est.predict_proba(X))
    if p.shape[1] != n_classes:
        full = np.zeros((len(X), n_classes))
        full[:, np.asarray(est.classes_, dtype=int)] = p
        p = full
    return p


def inner_cv_score(
    factory: Callable[[], object],
    X: np.ndarray,
    y: np.ndarray,
    groups: np.ndarray,
    positive: int | None,
    n_folds: int = 3,
    seed: int = 0,
) -> float:
    """Mean score of a candidate over stratified k-fold of the calibration trials."""
    from sklearn.model_selection import StratifiedGroupKFold

    n_classes = int(y.max()) + 1
    trial_y = np.array([y[groups == g][0] for g in np.unique(groups)])
    k = max(2, min(n_folds, int(np.bincount(trial_y).min())))
    cv = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed)
    scores = []
    for tr, te in cv.split(X, y, groups):
        if len(np.unique(y[tr])) < 2:
            continue
        est = fit_estimator(factory(), X[tr], y[tr], groups[tr])
        scores.append(_score(y[te], _proba(est, X[te], n_classes), positive))
    return float(np.mean(scores)) if scores else float("nan")


def _inputs(name: str, user: Trials) -> np.ndarray:
    """float32 windows for the strategies (torch), float64 for the classical baselines."""
    return user.X if base_name(name) in ("features", *FOUNDATION) else user.X.astype(np.float64)


def _candidate(
    name: str, base: Callable[[], object], pop: Population, config: CalibrationConfig
) -> Callable[[], object]:
    return pooled_factory(base, pop, config) if name.startswith(POOLED) else base


def leave_one_subject_out(
    subjects: dict[str, Trials],
    config: CalibrationConfig,
    candidates: list[str],
    factory: Callable[[str, Trials], Callable[[], object]],
    *,
    n_per_class: Sequence[int | None] = (5, 10, 20, 40, None),
    calibration_share: float = 0.5,
    select_at: Sequence[int | None] = (20,),
    inner_folds: int = 3,
    progress: bool = False,
) -> dict:
    """Leave-one-subject-out over ``subjects`` with few-trial calibration.

    Parameters
    ----------
    subjects : dict of str to Trials
        Each subject's trials (same montage).
    config : CalibrationConfig
        The paradigm (``positive``, ``population_max_windows``, ``evaluation.seed``).
    candidates : list of str
        Strategies and baselines; ``pop_<name>`` trains ``name`` on the population too.
    factory : callable
        ``factory(name, trials)`` -> zero-argument constructor of the un-pooled candidate.
    n_per_class : sequence of int or None
        Calibration sizes in trials per class (``None``: the whole calibration pool).
    calibration_share : float
        Share of each class's trials (the first ones) in the calibration pool.
    select_at : sequence of int or None
        Sizes at which the foundation-model and classical candidates to ship are chosen by
        inner cross-validation on the calibration trials.
    inner_folds : int
        Folds of that inner cross-validation.

    Returns
    -------
    dict
        ``rows`` (subject, n, candidate, score, seconds), ``selection`` (per subject and
        size: the inner-CV choice of each kind and its test score), ``summary``.
    """
    from tqdm.auto import tqdm

    names = sorted(subjects)
    if len(names) < 2:
        raise ConfigError(f"leave-one-subject-out needs recordings of >= 2 subjects, got {names}")
    pos = (
        config.classes.index(config.positive)
        if config.positive
        else (1 if len(config.classes) == 2 else None)
    )
    erp_pos = pos if config.family == "erp" else None
    rows: list[dict] = []
    selection: list[dict] = []
    jobs = [(s, n) for s in names for n in n_per_class]
    bar = tqdm(jobs, desc="leave-one-subject-out", disable=not progress)
    pops: dict[str, Population] = {}
    for test, n in bar:
        if test not in pops:
            others = [s for s in names if s != test]
            parts = [subjects[s] for s in others]
            pops[test] = Population(
                concat_trials(parts),
                np.concatenate([np.full(len(subjects[s].y), s) for s in others]),
            )
        pop = pops[test]
        user = subjects[test]
        pool, te = calibration_split(user, calibration_share)
        sub = first_trials(user.y[pool], user.groups[pool], n, erp_pos)
        cal = pool[sub]
        if n is not None and len(cal) == len(pool) and n not in select_at and None in n_per_class:
            continue  # the pool has fewer trials: the same as the "all" calibration
        if len(np.unique(user.y[cal])) < len(config.classes):
            logger.warning("%s n=%s: a class has no calibration trial; skipped", test, n)
            continue
        n_cal = {
            c: int(len(np.unique(user.groups[cal][user.y[cal] == k])))
            for k, c in enumerate(config.classes)
        }
        fitted: dict[str, float] = {}
        for name in candidates:
            make = _candidate(name, factory(base_name(name), user), pop, config)
            Xc = _inputs(name, user)
            t0 = time.perf_counter()
            try:
                est = fit_estimator(make(), Xc[cal], user.y[cal], user.groups[cal])
                score = _score(user.y[te], _proba(est, Xc[te], len(config.classes)), pos)
            except (ImportError, RuntimeError, ValueError) as exc:
                logger.warning("%s %s n=%s skipped: %s", test, name, n, exc)
                continue
            fitted[name] = score
            rows.append(
                {
                    "subject": test,
                    "n_per_class": n,
                    "calibration_trials": n_cal,
                    "test_windows": int(len(te)),
                    "candidate": name,
                    "score": round(score, 4),
                    "seconds": round(time.perf_counter() - t0, 2),
                }
            )
        if n in select_at:
            sel = {"subject": test, "n_per_class": n}
            for kind, group in (
                ("foundation", [c for c in fitted if is_foundation(c)]),
                ("classical", [c for c in fitted if not is_foundation(c)]),
            ):
                inner = {}
                for name in group:
                    make = _candidate(name, factory(base_name(name), user), pop, config)
                    Xc = _inputs(name, user)
                    inner[name] = inner_cv_score(
                        make,
                        Xc[cal],
                        user.y[cal],
                        user.groups[cal],
                        pos,
                        inner_folds,
                        config.evaluation.seed,
                    )
                if not inner:
                    continue
                choice = max(inner, key=lambda c: np.nan_to_num(inner[c], nan=-1.0))
                sel[kind] = {
                    "chosen": choice,
                    "test_score": round(fitted[choice], 4),
                    "inner_cv": {k: round(v, 4) for k, v in inner.items()},
                    "best_on_test": max(group, key=lambda c: fitted[c]),
                    "best_test_score": round(max(fitted[c] for c in group), 4),
                }
            selection.append(sel)
    return {"rows": rows, "selection": selection, "summary": summarize(rows, selection)}


def summarize(rows: list[dict], selection: list[dict]) -> dict:
    """Mean test score per candidate and size over subjects; mean of the inner-CV choices."""
    curve: dict[str, dict[str, float]] = {}
    for r in rows:
        key = "all" if r["n_per_class"] is None else str(r["n_per_class"])
        curve.setdefault(r["candidate"], {}).setdefault(key, []).append(r["score"])  # type: ignore[arg-type]
    curve = {c: {k: round(float(np.mean(v)), 4) for k, v in d.items()} for c, d in curve.items()}
    out: dict = {"curve": curve}
    sizes = {str(s["n_per_class"]) for s in selection}
    for kind, keep in (
        ("foundation", is_foundation),
        ("classical", lambda c: not is_foundation(c)),
    ):
        # the one candidate with the best mean over subjects (picked on the test trials)
        single = {c: d[k] for c, d in curve.items() if keep(c) for k in sizes if k in d}
        if single:
            best = max(single, key=single.get)
            out[f"{kind}_best_single"] = {"candidate": best, "score": single[best]}
    for kind in ("foundation", "classical"):
        chosen = [s[kind]["test_score"] for s in selection if kind in s]
        oracle = [s[kind]["best_test_score"] for s in selection if kind in s]
        if chosen:
            out[f"{kind}_chosen"] = round(float(np.mean(chosen)), 4)
            out[f"{kind}_best_on_test"] = round(float(np.mean(oracle)), 4)
    return out


def loso_markdown(results: list[dict]) -> str:
    """Tables: few-trial curve per candidate, then inner-CV choices at 20 trials per class."""
    out = []
    for r in results:
        out.append(f"### {r['set']} (leave-one-subject-out, {r['metric']}, mean over subjects)\n")
        curve = r["summary"]["curve"]
        sizes = sorted(
            {k for d in curve.values() for k in d},
            key=lambda k: (k == "all", int(k) if k != "all" else 0),
        )
        out.append("| candidate | " + " | ".join(f"{k}/class" for k in sizes) + " |")
        out.append("|---" * (len(sizes) + 1) + "|")
        for c, d in curve.items():
            out.append(
                f"| {c} | " + " | ".join(f"{d[k]:.3f}" if k in d else "" for k in sizes) + " |"
            )
        out.append("")
        out.append(
            "| test subject | foundation (inner-CV choice) | classical (inner-CV choice) | best classical on test |"
        )
        out.append("|---|---|---|---|")
        for s in r["selection"]:
            f, c = s.get("foundation", {}), s.get("classical", {})
            out.append(
                f"| {s['subject']} | {f.get('chosen', '')} {f.get('test_score', float('nan')):.3f} "
                f"| {c.get('chosen', '')} {c.get('test_score', float('nan')):.3f} "
                f"| {c.get('best_on_test', '')} {c.get('best_test_score', float('nan')):.3f} |"
            )
        sm = r["summary"]
        out.append(
            f"| **mean** | **{sm.get('foundation_chosen', float('nan')):.3f}** | "
            f"{sm.get('classical_chosen', float('nan')):.3f} | {sm.get('classical_best_on_test', float('nan')):.3f} |"
        )
        single = sm.get("classical_best_single")
        if single:
            out.append(
                f"\nBest single classical pipeline (mean over subjects, picked on the test "
                f"trials): {single['candidate']} {single['score']:.3f}."
            )
        out.append(f"\n{r['seconds']} s on {r['machine']}; encoder {r['encoder']}.\n")
    if len(results) > 1:
        keys = ("foundation_chosen", "classical_chosen", "classical_best_on_test")
        means = {k: sum(r["summary"].get(k, 0) for r in results) / len(results) for k in keys}
        single = sum(r["summary"]["classical_best_single"]["score"] for r in results) / len(results)
        out.append(
            "**Mean over the sets** at 20 trials per class: foundation (inner-CV choice) "
            f"{means['foundation_chosen']:.3f}, classical (inner-CV choice) "
            f"{means['classical_chosen']:.3f}, best single classical pipeline per set "
            f"{single:.3f}, best classical per subject on test {means['classical_best_on_test']:.3f}."
        )
    return "\n".join(out)


def run_loso(
    paths: Sequence[str | Path],
    config: CalibrationConfig,
    out_dir: str | Path,
    *,
    n_per_class: Sequence[int | None] = (5, 10, 20, 40, None),
    progress: bool = True,
) -> dict:
    """``bci calibrate --loso``: leave-one-subject-out over the recordings of several users.

    Recordings are grouped by :func:`subject_of`. Candidates: the config's strategies and
    baselines, each alone and pooled with the population (``pop_``). Writes ``loso.json`` and
    ``loso.md`` to ``out_dir`` and returns the result.
    """
    import json

    from threadpoolctl import threadpool_limits

    from ._baselines import DEFAULT_BASELINES
    from ._calibrate import _factory

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    with threadpool_limits(limits=1):
        groups = group_by_subject(paths)
        subjects = {s: load_subject(f, config, s) for s, f in groups.items()}
        if len(subjects) < 2:
            raise ConfigError(
                f"--loso needs recordings of >= 2 subjects (one folder per subject), got "
                f"{sorted(subjects)}"
            )
        ref = max(subjects.values(), key=lambda t: len(t.y))
        subjects = {s: conform(t, ref, s) for s, t in subjects.items()}
        baselines = (
            config.baselines if config.baselines is not None else DEFAULT_BASELINES[config.family]
        )
        names = [b for b in baselines if b != "fbcca"] + list(config.strategies)
        cands = names + [POOLED + n for n in names]
        res = leave_one_subject_out(
            subjects,
            config,
            cands,
            lambda n, t: _factory(n, config, t),
            n_per_class=n_per_class,
            progress=progress,
        )
    res.update(
        set=config.paradigm,
        subjects={s: t.counts() for s, t in subjects.items()},
        seconds=round(time.perf_counter() - t0, 1),
        encoder=config.training.encoder,
        machine=f"{os.cpu_count()} cpu",
        metric="AUC" if len(config.classes) == 2 else "accuracy",
    )
    (out / "loso.json").write_text(json.dumps(res, indent=1, default=float) + "\n")
    (out / "loso.md").write_text(loso_markdown([res]) + "\n")
    logger.info("leave-one-subject-out: %s -> %s", res["summary"], out / "loso.md")
    return res
