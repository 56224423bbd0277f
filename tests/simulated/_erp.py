"""xDAWN + LDA on simulated oddball data (test helper)."""

from __future__ import annotations

import numpy as np
from scipy import signal


def epochs_from(
    rec, truth, labels: tuple[str, str], tmin: float = 0.0, tmax: float = 0.8, band=(0.5, 20.0)
):
    """Band-passed, decimated epochs ``(n, n_channels, n_times)`` and 0/1 labels."""
    sig = rec.signals[0]
    sf = sig.spec.sfreq
    sos = signal.butter(4, band, "bandpass", fs=sf, output="sos")
    x = signal.sosfiltfilt(sos, sig.data.astype(float), axis=1)
    q = int(sf // 50)
    a, b = int(tmin * sf), int(tmax * sf)
    ep, y = [], []
    for t in truth:
        if t["label"] not in labels:
            continue
        i = int(round(t["onset"] * sf))
        if i + a < 0 or i + b > x.shape[1]:
            continue
        seg = x[:, i + a : i + b]
        ep.append(seg[:, ::q])
        y.append(int(t["label"] == labels[0]))
    return np.stack(ep), np.array(y)


def xdawn_lda_auc(ep: np.ndarray, y: np.ndarray, seed: int = 0) -> float:
    """5-fold cross-validated ROC AUC of pyriemann Xdawn(4 filters) + shrinkage LDA."""
    from pyriemann.spatialfilters import Xdawn
    from pyriemann.tangentspace import TangentSpace  # noqa: F401 (import check only)
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    flat = FunctionTransformer(lambda z: z.reshape(len(z), -1))
    clf = make_pipeline(
        Xdawn(nfilter=4), flat, LinearDiscriminantAnalysis(solver="lsqr", shrinkage="auto")
    )
    cv = StratifiedKFold(5, shuffle=True, random_state=seed)
    return float(cross_val_score(clf, ep, y, cv=cv, scoring="roc_auc").mean())
