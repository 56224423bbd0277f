"""Cross-validation on shared folds, metrics, learning curve, shortcut check and ITR."""

from __future__ import annotations

import inspect
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from sklearn.metrics import balanced_accuracy_score, confusion_matrix, roc_auc_score
from sklearn.model_selection import LeaveOneGroupOut, StratifiedGroupKFold

from ._epochs import Trials

logger = logging.getLogger(__name__)

Factory = Callable[[], object]  # returns an object with fit(X, y) and predict_proba(X)


def fit_estimator(est: object, X: np.ndarray, y: np.ndarray, groups: np.ndarray) -> object:
    """``est.fit(X, y)``, with ``groups=`` (trial ids) when its ``fit`` takes them.

    Estimators that split their training windows internally (validation split, inner
    cross-validation) use the trial ids to keep the windows of one trial on one side.
    """
    if "groups" in inspect.signature(est.fit).parameters:
        return est.fit(X, y, groups=groups)
    return est.fit(X, y)


def make_folds(
    trials: Trials, scheme: str, n_folds: int, seed: int
) -> tuple[str, list[tuple[np.ndarray, np.ndarray]]]:
    """Train/test indices shared by every candidate.

    ``loso`` leaves one session out (``auto`` picks it when there are >= 2 sessions); ``kfold``
    is stratified k-fold over trials, so all windows of one trial fall on the same side.
    """
    n_sessions = len(np.unique(trials.sessions))
    if scheme == "loso" or (scheme == "auto" and n_sessions >= 2):
        if n_sessions < 2:
            scheme = "kfold"
        else:
            folds = list(LeaveOneGroupOut().split(trials.X, trials.y, trials.sessions))
            return "leave-one-session-out", folds
    min_count = min(trials.counts().values())
    k = max(2, min(n_folds, min_count))
    cv = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed)
    return f"stratified {k}-fold", list(cv.split(trials.X, trials.y, trials.groups))


@dataclass
class Scores:
    """Out-of-fold predictions of one candidate and the metrics derived from them."""

    name: str
    kind: str  # "baseline" | "strategy" | "shortcut"
    proba: np.ndarray
    y: np.ndarray
    fold_acc: list[float]
    fit_seconds: float
    metrics: dict = field(default_factory=dict)


def compute_metrics(y: np.ndarray, proba: np.ndarray, n_classes: int, positive: int | None) -> dict:
    """Accuracy, balanced accuracy, per-class recall, confusion matrix, AUC (binary)."""
    pred = proba.argmax(axis=1)
    cm = confusion_matrix(y, pred, labels=list(range(n_classes)))
    recall = (cm.diagonal() / np.maximum(cm.sum(axis=1), 1)).tolist()
    out = {
        "accuracy": float((pred == y).mean()),
        "balanced_accuracy": float(balanced_accuracy_score(y, pred)),
        "per_class_recall": [float(r) for r in recall],
        "confusion": cm.tolist(),
    }
    if n_classes == 2:
        pos = 1 if positive is None else positive
        try:
            out["auc"] = float(roc_auc_score((y == pos).astype(int), proba[:, pos]))
        except ValueError:
            out["auc"] = float("nan")
    return out


def cross_validate(
    name: str,
    kind: str,
    factory: Factory,
    X: np.ndarray,
    trials: Trials,
    folds: list[tuple[np.ndarray, np.ndarray]],
    positive: int | None,
) -> Scores:
    """Fit a fresh candidate on each training fold; collect out-of-fold probabilities."""
    n_classes = len(trials.classes)
    proba = np.zeros((len(trials.y), n_classes))
    fold_acc = []
    t0 = time.perf_counter()
    for tr, te in folds:
        est = factory()
        fit_estimator(est, X[tr], trials.y[tr], trials.groups[tr])
        p = np.asarray(est.predict_proba(X[te]))
        if p.shape[1] != n_classes:  # a class missing from the training fold
            full = np.zeros((len(te), n_classes))
            full[:, np.asarray(est.classes_, dtype=int)] = p
            p = full
        proba[te] = p
        fold_acc.append(float((p.argmax(1) == trials.y[te]).mean()))
    s = Scores(name, kind, proba, trials.y, fold_acc, time.perf_counter() - t0)
    s.metrics = compute_metrics(trials.y, proba, n_classes, positive)
    s.metrics["fold_accuracy"] = fold_acc
    if len(np.unique(trials.groups)) < len(trials.groups):  # several windows per trial
        s.metrics["trial_accuracy"] = trial_accuracy(proba, trials.y, trials.groups)
    s.metrics.update(significance(proba, trials.y, trials.groups, n_classes, positive))
    s.metrics["fit_seconds"] = round(s.fit_seconds, 2)
    logger.info(
        "%s %s: accuracy %.3f%s (%.1f s)",
        kind,
        name,
        s.metrics["accuracy"],
        f", AUC {s.metrics['auc']:.3f}" if "auc" in s.metrics else "",
        s.fit_seconds,
    )
    return s


def significance(
    proba: np.ndarray, y: np.ndarray, groups: np.ndarray, n_classes: int, positive: int | None
) -> dict:
    """Chance level and one-sided p-values, counted over trials (the independent units).

    Windows of one trial are averaged first. ``chance`` is the majority-class rate of the
    trials; ``p_value`` a binomial test of the trial hits against it; ``auc_p_value`` (binary)
    a Mann-Whitney U test of the trials' positive-class scores.
    """
    from bci._scoring import classification_metrics

    ug, inv = np.unique(groups, return_inverse=True)
    sums = np.zeros((len(ug), proba.shape[1]))
    np.add.at(sums, inv, proba)
    counts = np.bincount(inv, minlength=len(ug))[:, None]
    yt = np.zeros(len(ug), dtype=int)
    yt[inv] = y
    m = classification_metrics(yt, sums / counts, n_classes, positive)
    out = {"n_trials": int(len(ug)), "chance": m["chance"], "p_value": m["p_value"]}
    if "auc_p_value" in m:
        out["auc_p_value"] = m["auc_p_value"]
    return out


def trial_accuracy(proba: np.ndarray, y: np.ndarray, groups: np.ndarray) -> float:
    """Accuracy per trial after averaging the window probabilities of each trial.

    This is what live post-processing (``postprocess.smoothing`` over the windows of one
    gesture) does; window accuracy is the stricter per-decision figure.
    """
    ug, inv = np.unique(groups, return_inverse=True)
    sums = np.zeros((len(ug), proba.shape[1]))
    np.add.at(sums, inv, proba)
    yt = np.zeros(len(ug), dtype=int)
    yt[inv] = y
    return float((sums.argmax(axis=1) == yt).mean())


def learning_curve(
    factory: Factory,
    X: np.ndarray,
    trials: Trials,
    folds: list[tuple[np.ndarray, np.ndarray]],
    fractions: list[float],
    seed: int,
    positive: int | None,
) -> list[dict]:
    """Score vs number of calibration trials: subsample whole trials of each training fold."""
    rng = np.random.default_rng(seed)
    out = []
    n_classes = len(trials.classes)
    for frac in fractions:
        accs, n_trials, aucs = [], [], []
        for tr, te in folds:
            keep = []
            for k in range(n_classes):
                g = np.unique(trials.groups[tr][trials.y[tr] == k])
                if len(g) == 0:
                    continue
                n = max(2, int(round(frac * len(g))))
                keep.extend(rng.choice(g, size=min(n, len(g)), replace=False).tolist())
            sub = tr[np.isin(trials.groups[tr], keep)]
            if len(np.unique(trials.y[sub])) < 2:
                continue
            est = fit_estimator(factory(), X[sub], trials.y[sub], trials.groups[sub])
            p = np.asarray(est.predict_proba(X[te]))
            if p.shape[1] != n_classes:
                full = np.zeros((len(te), n_classes))
                full[:, np.asarray(est.classes_, dtype=int)] = p
                p = full
            accs.append(float((p.argmax(1) == trials.y[te]).mean()))
            n_trials.append(len(keep))
            if n_classes == 2:
                pos = 1 if positive is None else positive
                yt = (trials.y[te] == pos).astype(int)
                if 0 < yt.sum() < len(yt):
                    aucs.append(float(roc_auc_score(yt, p[:, pos])))
        if accs:
            row = {
                "fraction": frac,
                "n_trials": float(np.mean(n_trials)),
                "accuracy": float(np.mean(accs)),
            }
            if aucs:
                row["auc"] = float(np.mean(aucs))
            out.append(row)
    return out


def _band_logpower(X: np.ndarray, sfreq: float, lo: float, hi: float) -> np.ndarray:
    from scipy.signal import welch

    nper = min(X.shape[-1], int(sfreq))
    f, p = welch(X, fs=sfreq, nperseg=nper, axis=-1)
    sel = (f >= lo) & (f < hi)
    if not sel.any():
        return np.zeros(X.shape[:2])
    return np.log(p[..., sel].mean(axis=-1) + 1e-12)


def shortcut_features(trials: Trials, X_raw: np.ndarray | None) -> dict[str, np.ndarray]:
    """Artifact-only feature sets: EOG band on frontal channels, > 30 Hz power, each channel alone.

    ``X_raw`` are the same windows before band-pass filtering (eye and muscle activity often
    lies outside the decoder's band); without it the filtered windows are used.
    """
    Xs = X_raw if X_raw is not None else trials.X
    sf = trials.sfreq
    front = [i for i, p in enumerate(trials.positions) if p.upper().startswith(("FP", "AF", "F"))]
    out: dict[str, np.ndarray] = {}
    if front:
        out["eog_frontal_0.5-4Hz"] = _band_logpower(Xs[:, front], sf, 0.5, 4.0)
    if sf / 2 > 35:
        out["emg_power_>30Hz"] = _band_logpower(Xs, sf, 30.0, min(sf / 2 - 1, 100.0))
    return out


OCCIPITAL = ("O", "PO", "I")  # occipital, parieto-occipital, inion: the visual cortex
FRONTAL = ("FP", "AF", "F")


def shortcut_role(
    name: str,
    family: str,
    positions: dict[str, str],
    freqs: list[float] | None = None,
    n_harmonics: int = 1,
) -> tuple[str, str]:
    """Whether a shortcut feature set is the paradigm's own signal or a possible artifact.

    Returns
    -------
    role : ``"signal"`` | ``"artifact"``
        Only ``artifact`` rows can raise the shortcut warning.
    why : str
        The rule that decided it, for the report.

    Notes
    -----
    - ``emg``: muscle power and single channels are the signal (it is an EMG decoder).
    - ``emg_power_>30Hz`` in EEG families is muscle, unless an SSVEP stimulation frequency or
      harmonic lies in that band (then it holds the SSVEP itself).
    - ``eog_frontal_0.5-4Hz`` is eye movement in every EEG family.
    - one channel alone: frontal (Fp, AF, F) is an eye/face artifact risk; for SSVEP an
      occipital channel (O, PO, I) is the signal; any other single channel is information
      about where the signal is, not an artifact.
    """
    if family == "emg":
        return "signal", "EMG decoder: muscle power is its signal"
    if name.startswith("eog"):
        return "artifact", "eye movements (frontal 0.5-4 Hz)"
    if name.startswith("emg_power"):
        harmonics = [f * h for f in freqs or [] for h in range(1, n_harmonics + 1)]
        if family == "ssvep" and any(h >= 30.0 for h in harmonics):
            return "signal", "SSVEP harmonics above 30 Hz lie in this band"
        return "artifact", "muscle power above 30 Hz"
    if name.startswith("single_channel_"):
        pos = positions.get(name[len("single_channel_") :], "").upper()
        if pos.startswith(FRONTAL):
            return "artifact", f"frontal channel ({pos}): eye and face muscles"
        if family == "ssvep" and pos.startswith(OCCIPITAL):
            return "signal", f"occipital channel ({pos}): the SSVEP source"
        return "signal", f"one channel ({pos or '?'}): where the signal is"
    return "artifact", "artifact-only features"


class _FeatureLDA:
    """Standardize + shrinkage LDA on precomputed features (for the shortcut check)."""

    def __init__(self, F: np.ndarray):
        self.F = F

    def fit(self, idx: np.ndarray, y: np.ndarray) -> _FeatureLDA:
        from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        self.m = make_pipeline(
            StandardScaler(), LinearDiscriminantAnalysis(solver="lsqr", shrinkage="auto")
        )
        self.m.fit(self.F[idx.reshape(-1).astype(int)], y)
        self.classes_ = self.m.classes_
        return self

    def predict_proba(self, idx: np.ndarray) -> np.ndarray:
        return self.m.predict_proba(self.F[idx.reshape(-1).astype(int)])


def shortcut_check(
    trials: Trials,
    X_raw: np.ndarray | None,
    folds: list[tuple[np.ndarray, np.ndarray]],
    positive: int | None,
    single_channel: Callable[[np.ndarray], np.ndarray] | None,
) -> list[Scores]:
    """Cross-validate artifact-only features with the same folds as the decoders."""
    feats = shortcut_features(trials, X_raw)
    if single_channel is not None:
        for c, name in enumerate(trials.ch_names):
            feats[f"single_channel_{name}"] = single_channel(trials.X[:, c : c + 1])
    idx = np.arange(len(trials.y), dtype=float)[:, None, None]
    out = []
    for name, F in feats.items():
        F = np.nan_to_num(F.reshape(len(F), -1))
        out.append(
            cross_validate(
                name, "shortcut", lambda F=F: _FeatureLDA(F), idx, trials, folds, positive
            )
        )
    return out
