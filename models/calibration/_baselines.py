"""Classical baselines, scikit-learn estimators on ``X (n_trials, n_channels, n_times)``.

- SSVEP: filter-bank CCA (Chen et al. 2015, training-free) and ensemble TRCA (Nakanishi et al.
  2018) with the same filter bank.
- ERP: xDAWN covariances + tangent space + LDA (pyriemann), xDAWN + decimated epochs + LDA.
- Motor imagery: CSP + LDA, tangent space + logistic regression (pyriemann).
- EMG: RMS / MAV / zero-crossing / waveform-length per channel + shrinkage LDA.

Every estimator has ``predict_proba`` so the same metrics (AUC included) apply to all.
"""

from __future__ import annotations

import numpy as np
from scipy import signal as sps
from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def filter_bank(freqs: list[float], sfreq: float, n_bands: int = 5) -> list[tuple[float, float]]:
    """Sub-bands ``[m * f_min - 2, f_hi]`` (Chen et al. 2015), clipped to the Nyquist rate."""
    f_min, f_max = min(freqs), max(freqs)
    hi = min(0.45 * sfreq, 4 * f_max + 2)
    bands = []
    for m in range(1, n_bands + 1):
        lo = max(1.0, m * f_min - 2.0)
        if lo < hi - 4:
            bands.append((lo, hi))
    return bands or [(max(1.0, f_min - 2.0), hi)]


def _bandpass(X: np.ndarray, band: tuple[float, float], sfreq: float) -> np.ndarray:
    sos = sps.butter(4, band, btype="bandpass", fs=sfreq, output="sos")
    return sps.sosfiltfilt(sos, X, axis=-1)


def references(freqs: list[float], sfreq: float, n_times: int, n_harmonics: int) -> np.ndarray:
    """Sine/cosine references, shape ``(n_freqs, 2 * n_harmonics, n_times)``."""
    t = np.arange(n_times) / sfreq
    out = []
    for f in freqs:
        rows = []
        for h in range(1, n_harmonics + 1):
            if h * f < sfreq / 2:
                rows += [np.sin(2 * np.pi * h * f * t), np.cos(2 * np.pi * h * f * t)]
            else:
                rows += [np.zeros(n_times), np.zeros(n_times)]
        out.append(rows)
    return np.asarray(out)


def _cca_r(Qx: np.ndarray, Y: np.ndarray) -> float:
    Y = Y[np.abs(Y).sum(axis=1) > 0]
    Qy, _ = np.linalg.qr(Y.T)
    return float(np.linalg.svd(Qx.T @ Qy, compute_uv=False)[0])


class FBCCA(ClassifierMixin, BaseEstimator):
    """Filter-bank canonical correlation analysis (training-free SSVEP detector).

    Parameters
    ----------
    freqs : list of float
        Stimulation frequency of each class, in class order.
    sfreq : float
        Sampling rate.
    n_harmonics : int
        Harmonics in the references.
    n_bands : int
        Sub-bands of the filter bank.
    """

    def __init__(self, freqs: list[float], sfreq: float, n_harmonics: int = 3, n_bands: int = 5):
        self.freqs = freqs
        self.sfreq = sfreq
        self.n_harmonics = n_harmonics
        self.n_bands = n_bands

    def fit(self, X: np.ndarray, y: np.ndarray) -> FBCCA:
        """Training-free scores; only a per-class offset/scale is learnt on the training fold.

        Raw correlations favour the frequency with more background power (1/f), so a
        logistic regression on the K scores calibrates them into probabilities.
        """
        self.classes_ = np.unique(y)
        self.calib_ = LogisticRegression(C=1.0, max_iter=500).fit(self.decision_function(X), y)
        return self

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        """Weighted sum over sub-bands of squared canonical correlations, per class."""
        bands = filter_bank(self.freqs, self.sfreq, self.n_bands)
        w = np.array([(m + 1) ** -1.25 + 0.25 for m in range(len(bands))])
        ref = references(self.freqs, self.sfreq, X.shape[-1], self.n_harmonics)
        scores = np.zeros((len(X), len(self.freqs)))
        for b, band in enumerate(bands):
            Xb = _bandpass(X, band, self.sfreq)
            for i, x in enumerate(Xb):
                Qx, _ = np.linalg.qr((x - x.mean(axis=1, keepdims=True)).T)
                for k in range(len(self.freqs)):
                    scores[i, k] += w[b] * _cca_r(Qx, ref[k]) ** 2
        return scores

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Calibrated class probabilities."""
        return self.calib_.predict_proba(self.decision_function(X))

    def predict(self, X: np.ndarray) -> np.ndarray:
        """The most probable class."""
        return self.classes_[self.predict_proba(X).argmax(axis=1)]


class TRCA(ClassifierMixin, BaseEstimator):
    """Ensemble task-related component analysis with a filter bank (Nakanishi et al. 2018).

    Parameters
    ----------
    freqs : list of float
        Stimulation frequency of each class (sets the filter bank).
    sfreq : float
        Sampling rate.
    n_bands : int
        Sub-bands of the filter bank.
    """

    def __init__(self, freqs: list[float], sfreq: float, n_bands: int = 3):
        self.freqs = freqs
        self.sfreq = sfreq
        self.n_bands = n_bands

    @staticmethod
    def _filter(X: np.ndarray) -> np.ndarray:
        X = X - X.mean(axis=-1, keepdims=True)
        n, c, _ = X.shape
        S_sum = X.sum(axis=0)
        S = S_sum @ S_sum.T - np.einsum("nct,ndt->cd", X, X)
        Q = np.einsum("nct,ndt->cd", X, X) + 1e-6 * np.eye(c) * np.trace(S_sum @ S_sum.T) / c
        from scipy.linalg import eigh

        vals, vecs = eigh(S, Q)
        return vecs[:, -1]

    def fit(self, X: np.ndarray, y: np.ndarray) -> TRCA:
        """Learn one spatial filter and one template per class and sub-band."""
        self.classes_ = np.unique(y)
        self.bands_ = filter_bank(self.freqs, self.sfreq, self.n_bands)
        self.w_ = []
        self.templates_ = []
        for band in self.bands_:
            Xb = _bandpass(X, band, self.sfreq)
            W = np.stack([self._filter(Xb[y == k]) for k in self.classes_], axis=1)  # (C, K)
            self.w_.append(W)
            self.templates_.append(np.stack([Xb[y == k].mean(axis=0) for k in self.classes_]))
        s = self.decision_function(X)
        self.scale_ = 1.0 / max(1e-6, float(np.std(s)))
        return self

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        """Weighted correlation of the ensemble-filtered trial with each class template."""
        wts = np.array([(m + 1) ** -1.25 + 0.25 for m in range(len(self.bands_))])
        scores = np.zeros((len(X), len(self.classes_)))
        for b, band in enumerate(self.bands_):
            W = self.w_[b]
            Xb = _bandpass(X, band, self.sfreq)
            proj = np.einsum("ck,nct->nkt", W, Xb).reshape(len(X), -1)
            for k, tmpl in enumerate(self.templates_[b]):
                tp = (W.T @ tmpl).ravel()
                tp = (tp - tp.mean()) / (tp.std() + 1e-12)
                pz = (proj - proj.mean(axis=1, keepdims=True)) / (
                    proj.std(axis=1, keepdims=True) + 1e-12
                )
                scores[:, k] += wts[b] * (pz @ tp) / len(tp)
        return scores

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Softmax of the scaled scores."""
        return _softmax(self.decision_function(X) * getattr(self, "scale_", 10.0))

    def predict(self, X: np.ndarray) -> np.ndarray:
        """The class whose template correlates best."""
        return self.classes_[self.decision_function(X).argmax(axis=1)]


class Decimate(TransformerMixin, BaseEstimator):
    """Flatten epochs after averaging over ``factor`` consecutive samples."""

    def __init__(self, factor: int = 8):
        self.factor = factor

    def fit(self, X: np.ndarray, y: np.ndarray | None = None) -> Decimate:
        """Stateless."""
        return self

    def transform(self, X: np.ndarray) -> np.ndarray:
        """``(n, C, T) -> (n, C * T // factor)``."""
        n, c, t = X.shape
        t2 = t // self.factor
        return X[:, :, : t2 * self.factor].reshape(n, c, t2, self.factor).mean(-1).reshape(n, -1)


class TDFeatures(TransformerMixin, BaseEstimator):
    """Hudgins time-domain EMG features per channel: log RMS, log MAV, zero-crossing rate, log WL."""

    def fit(self, X: np.ndarray, y: np.ndarray | None = None) -> TDFeatures:
        """Stateless."""
        return self

    def transform(self, X: np.ndarray) -> np.ndarray:
        """``(n, C, T) -> (n, 4 C)``."""
        X = X - X.mean(axis=-1, keepdims=True)
        rms = 0.5 * np.log(np.mean(X**2, axis=-1) + 1e-6)
        mav = np.log(np.mean(np.abs(X), axis=-1) + 1e-6)
        zc = np.mean((X[..., 1:] * X[..., :-1]) < 0, axis=-1)
        wl = np.log(np.mean(np.abs(np.diff(X, axis=-1)), axis=-1) + 1e-6)
        return np.concatenate([rms, mav, zc, wl], axis=1)


def _lda() -> LinearDiscriminantAnalysis:
    return LinearDiscriminantAnalysis(solver="lsqr", shrinkage="auto")


def make_baseline(
    name: str,
    *,
    sfreq: float,
    freqs: list[float] | None = None,
    n_harmonics: int = 3,
    n_classes: int = 2,
) -> BaseEstimator:
    """Build a classical baseline by name (see the module docstring)."""
    if name == "fbcca":
        return FBCCA(list(freqs or []), sfreq, n_harmonics)
    if name == "trca":
        return TRCA(list(freqs or []), sfreq)
    if name == "td_lda":
        return make_pipeline(TDFeatures(), StandardScaler(), _lda())
    from pyriemann.estimation import Covariances, XdawnCovariances
    from pyriemann.spatialfilters import CSP, Xdawn
    from pyriemann.tangentspace import TangentSpace

    factor = max(1, int(round(sfreq / 32)))
    if name == "xdawn_ts":
        return make_pipeline(
            XdawnCovariances(nfilter=2, estimator="oas", xdawn_estimator="oas"),
            TangentSpace(metric="riemann"),
            _lda(),
        )
    if name == "xdawn_lda":
        return make_pipeline(Xdawn(nfilter=2, estimator="oas"), Decimate(factor), _lda())
    if name == "csp_lda":
        return make_pipeline(Covariances("oas"), CSP(nfilter=6, log=True), _lda())
    if name == "ts_lr":
        return make_pipeline(
            Covariances("oas"),
            TangentSpace(metric="riemann"),
            StandardScaler(),
            LogisticRegression(C=1.0, max_iter=500),
        )
    raise ValueError(f"unknown baseline {name!r}")


DEFAULT_BASELINES = {
    "ssvep": ["fbcca", "trca"],
    "erp": ["xdawn_ts", "xdawn_lda"],
    "mi": ["csp_lda", "ts_lr"],
    "emg": ["td_lda"],
}
