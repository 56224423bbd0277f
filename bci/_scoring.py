"""Score decoder decisions against a recording's labels (``bci evaluate``), without torch.

Trials are cut from the recording's markers the way the calibration config defines them:

- ``onset``: one trial per mapped marker, ``[onset + tmin, onset + tmax]``;
- ``start_end``: a ``"<k>s"``/``"<k>e"`` pair, or the same plain value twice;
- ``labels``: per-sample labels exposed as label-change markers; one trial is one contiguous
  segment of one label.

A decision belongs to a trial when its whole window lies inside the trial (after ``skip``),
as calibration cuts its windows. Window metrics use every such decision; trial metrics
average the probabilities of a trial's windows first (what live smoothing over one trial
does), so a trial with one window each (ERP epochs, SSVEP trials) scores the same as
calibration's epoch-by-epoch figure.

Chance level and p-values: accuracy is compared with the majority-class rate (what always
answering the most frequent class gets) with a one-sided binomial test over trials, the
independent units; AUC with a one-sided Mann-Whitney U test.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from bci.config._calibration import CalibrationConfig

_START_END = re.compile(r"^(?P<k>.+?)(?P<se>[se])$")


@dataclass(frozen=True)
class TrialSpan:
    """One labelled trial on the recording's clock.

    Parameters
    ----------
    onset : float
        When the cue (or label segment) started, s.
    start, end : float
        Span inside which a decision's window must lie to count for this trial, s.
    label : int
        Class index.
    """

    onset: float
    start: float
    end: float
    label: int


def marker_key(value: object) -> str:
    """A marker value or a per-sample label as a mapping key (``3.0`` -> ``"3"``)."""
    if isinstance(value, int | float | np.integer | np.floating) and float(value).is_integer():
        return str(int(value))
    return str(value).strip()


def start_end_pairs(
    markers: Sequence[tuple[float, str]], mapping: dict[str, str]
) -> list[tuple[float, float, str]]:
    """``(start, end, class)`` from ``"<k>s"``/``"<k>e"`` markers or a plain value given twice."""
    trials: list[tuple[float, float, str]] = []
    open_: dict[str, float] = {}
    for t, value in markers:
        v = str(value).strip()
        match = _START_END.match(v)
        if match and match["k"] in mapping:
            k = match["k"]
            if match["se"] == "s":
                open_[k] = t
            elif k in open_:
                trials.append((open_.pop(k), t, mapping[k]))
        elif v in mapping:
            if v in open_:
                trials.append((open_.pop(v), t, mapping[v]))
            else:
                open_ = {v: t}  # a new start closes any dangling one
    return trials


def label_segments(
    markers: Sequence[tuple[float, str]], mapping: dict[str, str], t_end: float
) -> list[tuple[float, float, str]]:
    """``(start, end, class)`` of every run of one label, from label-change markers."""
    out: list[tuple[float, float, str]] = []
    ms = sorted(markers, key=lambda m: m[0])
    for i, (t, value) in enumerate(ms):
        stop = ms[i + 1][0] if i + 1 < len(ms) else t_end
        key = marker_key(value)
        if key in mapping and stop > t:
            if out and out[-1][2] == mapping[key] and abs(out[-1][1] - t) < 1e-9:
                out[-1] = (out[-1][0], stop, out[-1][2])  # the same label repeated
            else:
                out.append((t, stop, mapping[key]))
    return out


def cut_trials(
    markers: Sequence[tuple[float, str]], config: CalibrationConfig, t_end: float
) -> list[TrialSpan]:
    """Labelled trials of one recording, as ``config.epochs`` defines them.

    Parameters
    ----------
    markers : sequence of (timestamp, value)
        The recording's events, on the decisions' clock.
    config : CalibrationConfig
        ``mapping``, ``classes`` and ``epochs`` decide what a trial is.
    t_end : float
        End of the recording (closes the last label segment).
    """
    ep = config.epochs
    index = {c: i for i, c in enumerate(config.classes)}
    if ep.events == "onset":
        out = []
        for t, value in markers:
            key = str(value).strip()
            if key in config.mapping:
                out.append(TrialSpan(t, t + ep.tmin, t + ep.tmax, index[config.mapping[key]]))
        return out
    if ep.events == "start_end":
        spans = start_end_pairs(markers, config.mapping)
    else:
        spans = label_segments(markers, config.mapping, t_end)
    return [TrialSpan(a, a + ep.skip, b, index[c]) for a, b, c in spans if b > a]


def rest_intervals(
    trials: Sequence[TrialSpan], t_begin: float, t_end: float, rest_class: int | None
) -> list[tuple[float, float]]:
    """Spans with no task: gaps between trials plus the trials of the rest class."""
    busy = sorted((min(tr.onset, tr.start), tr.end) for tr in trials if tr.label != rest_class)
    out: list[tuple[float, float]] = []
    cur = t_begin
    for a, b in busy:
        if a > cur:
            out.append((cur, a))
        cur = max(cur, b)
    if t_end > cur:
        out.append((cur, t_end))
    return out


@dataclass
class RecordingScore:
    """Decisions of one recording matched to its trials.

    Attributes
    ----------
    window_y, window_proba : ndarray
        True class and probabilities of every decision inside a trial.
    trial_y, trial_proba : ndarray
        True class and mean probabilities of every trial with at least one decision.
    first_correct_s : ndarray
        Per scored trial: seconds from the trial's onset to the first decision whose label
        is the trial's class; NaN when none came before the trial ended.
    rest_s, rest_decisions, false_activations : float, int, int
        Rest time, decisions wholly inside rest, and those that named a non-rest class.
    unscored_trials : int
        Trials no decision window fits in.
    """

    path: str
    window_y: np.ndarray
    window_proba: np.ndarray
    trial_y: np.ndarray
    trial_proba: np.ndarray
    first_correct_s: np.ndarray
    trial_onsets: np.ndarray
    rest_s: float
    rest_decisions: int
    false_activations: int
    unscored_trials: int
    n_decisions: int
    duration_s: float
    extra: dict = field(default_factory=dict)


def match_decisions(
    path: str,
    t_first: np.ndarray,
    t_last: np.ndarray,
    t_sample: np.ndarray,
    probs: np.ndarray,
    label_index: np.ndarray,
    trials: Sequence[TrialSpan],
    *,
    t_begin: float,
    t_end: float,
    rest_class: int | None = None,
    tol: float = 0.02,
) -> RecordingScore:
    """Assign each decision to the trial its window lies in and collect what the metrics need.

    Parameters
    ----------
    t_first, t_last : ndarray, shape (n,)
        Timestamps of the first and last sample of each decision's window (or epoch).
    t_sample : ndarray, shape (n,)
        Timestamp of the newest sample of each decision (``t_last`` for windows).
    probs : ndarray, shape (n, n_classes)
        Decoder outputs.
    label_index : ndarray, shape (n,)
        The emitted label after smoothing, threshold and dwell (-1: none).
    trials : sequence of TrialSpan
        From :func:`cut_trials`.
    t_begin, t_end : float
        The recording's span (rest before the first and after the last trial counts).
    rest_class : int | None
        Index of a "rest" class, whose trials count as rest for false activations.
    tol : float
        Slack in s when testing that a window lies inside a trial (sample rounding).
    """
    t_first = np.asarray(t_first, np.float64)
    t_last = np.asarray(t_last, np.float64)
    t_sample = np.asarray(t_sample, np.float64)
    probs = np.asarray(probs, np.float64).reshape(len(t_first), -1)
    label_index = np.asarray(label_index, int)
    n_classes = probs.shape[1]
    wy: list[int] = []
    wp: list[np.ndarray] = []
    ty: list[int] = []
    tp: list[np.ndarray] = []
    fc: list[float] = []
    onsets: list[float] = []
    unscored = 0
    for tr in trials:
        inside = (t_first >= tr.start - tol) & (t_last <= tr.end + tol)
        if not inside.any():
            unscored += 1
            continue
        p = probs[inside]
        wy.extend([tr.label] * len(p))
        wp.append(p)
        ty.append(tr.label)
        tp.append(p.mean(axis=0))
        onsets.append(tr.onset)
        during = (t_sample >= tr.onset) & (t_sample <= tr.end + tol)
        hits = np.flatnonzero(during & (label_index == tr.label))
        fc.append(float(t_sample[hits[0]] - tr.onset) if len(hits) else math.nan)
    rest = rest_intervals(trials, t_begin, t_end, rest_class)
    rest_s = float(sum(b - a for a, b in rest))
    in_rest = np.zeros(len(t_first), bool)
    for a, b in rest:
        in_rest |= (t_first >= a - tol) & (t_last <= b + tol)
    active = (label_index >= 0) & (label_index != (-2 if rest_class is None else rest_class))
    return RecordingScore(
        path=path,
        window_y=np.asarray(wy, int),
        window_proba=np.concatenate(wp) if wp else np.zeros((0, n_classes)),
        trial_y=np.asarray(ty, int),
        trial_proba=np.asarray(tp).reshape(-1, n_classes),
        first_correct_s=np.asarray(fc, np.float64),
        trial_onsets=np.asarray(onsets, np.float64),
        rest_s=rest_s,
        rest_decisions=int(in_rest.sum()),
        false_activations=int((in_rest & active).sum()),
        unscored_trials=unscored,
        n_decisions=len(t_first),
        duration_s=float(t_end - t_begin),
    )


# --------------------------------------------------------------------------- metrics
def confusion(y: np.ndarray, pred: np.ndarray, n_classes: int) -> np.ndarray:
    """Counts, rows = true class, columns = predicted class."""
    cm = np.zeros((n_classes, n_classes), dtype=int)
    np.add.at(cm, (np.asarray(y, int), np.asarray(pred, int)), 1)
    return cm


def balanced_accuracy(cm: np.ndarray) -> float:
    """Mean recall over the classes that occur."""
    rows = cm.sum(axis=1)
    ok = rows > 0
    return float((cm.diagonal()[ok] / rows[ok]).mean()) if ok.any() else math.nan


def auc_score(y_bin: np.ndarray, score: np.ndarray) -> float:
    """Area under the ROC curve (Mann-Whitney U / (n_pos n_neg), ties counted half)."""
    from scipy.stats import rankdata

    y_bin = np.asarray(y_bin, bool)
    n_pos, n_neg = int(y_bin.sum()), int((~y_bin).sum())
    if n_pos == 0 or n_neg == 0:
        return math.nan
    ranks = rankdata(score)
    return float((ranks[y_bin].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def auc_p_value(y_bin: np.ndarray, score: np.ndarray) -> float:
    """One-sided Mann-Whitney U p-value of AUC > 0.5."""
    from scipy.stats import mannwhitneyu

    y_bin = np.asarray(y_bin, bool)
    if y_bin.all() or not y_bin.any():
        return math.nan
    return float(mannwhitneyu(score[y_bin], score[~y_bin], alternative="greater").pvalue)


def chance_level(y: np.ndarray, n_classes: int) -> float:
    """Accuracy of always answering the most frequent class (1 / n_classes when balanced)."""
    y = np.asarray(y, int)
    if len(y) == 0:
        return 1.0 / n_classes
    return float(np.bincount(y, minlength=n_classes).max() / len(y))


def binomial_p_value(n_correct: int, n: int, chance: float) -> float:
    """One-sided binomial p-value of ``n_correct`` hits out of ``n`` at rate ``chance``."""
    from scipy.stats import binomtest

    if n == 0:
        return math.nan
    return float(binomtest(int(n_correct), int(n), min(max(chance, 0.0), 1.0), "greater").pvalue)


def itr_bits_per_min(accuracy: float, n_classes: int, trial_seconds: float) -> float:
    """Wolpaw information transfer rate in bits/min (0 at or below chance)."""
    p, n = min(max(accuracy, 1e-9), 1.0), n_classes
    if p <= 1.0 / n or trial_seconds <= 0:
        return 0.0
    bits = math.log2(n) + p * math.log2(p)
    if p < 1.0:
        bits += (1 - p) * math.log2((1 - p) / (n - 1))
    return bits * 60.0 / trial_seconds


def classification_metrics(
    y: np.ndarray, proba: np.ndarray, n_classes: int, positive: int | None = None
) -> dict:
    """Accuracy (with chance level and binomial p), balanced accuracy, confusion, AUC (binary)."""
    y = np.asarray(y, int)
    proba = np.asarray(proba, np.float64).reshape(len(y), n_classes)
    if len(y) == 0:
        return {"n": 0}
    pred = proba.argmax(axis=1)
    cm = confusion(y, pred, n_classes)
    n_ok = int((pred == y).sum())
    chance = chance_level(y, n_classes)
    out: dict = {
        "n": len(y),
        "accuracy": n_ok / len(y),
        "balanced_accuracy": balanced_accuracy(cm),
        "chance": chance,
        "p_value": binomial_p_value(n_ok, len(y), chance),
        "per_class_recall": [
            float(cm[k, k] / cm[k].sum()) if cm[k].sum() else math.nan for k in range(n_classes)
        ],
        "confusion": cm.tolist(),
    }
    if n_classes == 2:
        pos = 1 if positive is None else positive
        out["auc"] = auc_score(y == pos, proba[:, pos])
        out["auc_p_value"] = auc_p_value(y == pos, proba[:, pos])
    return out


def _selection_seconds(scores: Sequence[RecordingScore]) -> float:
    """Median time from one trial's onset to the next (cue to cue), over every recording."""
    gaps = []
    for s in scores:
        if len(s.trial_onsets) >= 2:
            d = np.diff(np.sort(s.trial_onsets))
            gaps.extend(d[d > 0].tolist())
    return float(np.median(gaps)) if gaps else math.nan


def summarize(
    scores: Sequence[RecordingScore], n_classes: int, positive: int | None = None
) -> dict:
    """Metrics over every recording: windows, trials, time to first correct, ITR, rest."""
    wy = np.concatenate([s.window_y for s in scores]) if scores else np.zeros(0, int)
    wp = np.concatenate([s.window_proba for s in scores]) if scores else np.zeros((0, n_classes))
    ty = np.concatenate([s.trial_y for s in scores]) if scores else np.zeros(0, int)
    tp = np.concatenate([s.trial_proba for s in scores]) if scores else np.zeros((0, n_classes))
    fc = np.concatenate([s.first_correct_s for s in scores]) if scores else np.zeros(0)
    trials = classification_metrics(ty, tp, n_classes, positive)
    sel = _selection_seconds(scores)
    rest_s = float(sum(s.rest_s for s in scores))
    n_false = int(sum(s.false_activations for s in scores))
    n_rest = int(sum(s.rest_decisions for s in scores))
    found = fc[np.isfinite(fc)]
    out = {
        "n_decisions": int(sum(s.n_decisions for s in scores)),
        "duration_s": float(sum(s.duration_s for s in scores)),
        "windows": classification_metrics(wy, wp, n_classes, positive),
        "trials": trials,
        "unscored_trials": int(sum(s.unscored_trials for s in scores)),
        "time_to_first_correct_s": {
            "median": float(np.median(found)) if len(found) else None,
            "mean": float(found.mean()) if len(found) else None,
            "p90": float(np.percentile(found, 90)) if len(found) else None,
            "never": int((~np.isfinite(fc)).sum()),
            "n": len(fc),
        },
        "selection_s": sel if math.isfinite(sel) else None,
        "itr_bits_per_min": itr_bits_per_min(trials["accuracy"], n_classes, sel)
        if trials.get("n") and math.isfinite(sel)
        else None,
        "rest": {
            "seconds": rest_s,
            "decisions": n_rest,
            "false_activations": n_false,
            "per_min": n_false / (rest_s / 60.0) if rest_s > 0 else None,
            "fraction": n_false / n_rest if n_rest else None,
        },
    }
    return out
