"""The ``features`` strategy: a classical pipeline written as a small torch module.

The same module computes the training features (no gradient, batch by batch) and is what we
export to ONNX, so the deployed decoder is bit-for-bit the one that was cross-validated.

- ssvep: per-channel power at each stimulation frequency and harmonic (projection on sine /
  cosine references), relative to the window's power, log.
- emg: log RMS, log MAV, zero-crossing rate, log waveform length per channel.
- mi: CSP spatial filters (fitted on the training fold) then log-variance.
- erp: mean over ``factor`` samples (decimation) and flatten.

Then standardization and shrinkage LDA, whose linear decision function lives in the graph.
"""

from __future__ import annotations

import numpy as np
import torch
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from torch import nn

from ._baselines import references


class FeatureDecoder(nn.Module):
    """Feature extraction + standardization + linear classifier + softmax.

    Parameters
    ----------
    kind : str
        ``ssvep``, ``emg``, ``mi`` or ``erp``.
    n_channels, n_times : int
        Input window shape.
    sfreq : float
        Sampling rate.
    freqs : list of float | None
        SSVEP frequencies (class order).
    n_harmonics : int
        SSVEP harmonics.
    n_classes : int
        Outputs.
    """

    def __init__(
        self,
        kind: str,
        n_channels: int,
        n_times: int,
        sfreq: float,
        *,
        freqs: list[float] | None = None,
        n_harmonics: int = 2,
        n_classes: int = 2,
        n_spatial: int = 6,
        erp_rate: float = 32.0,
    ):
        super().__init__()
        self.kind = kind
        self.factor = max(1, int(round(sfreq / erp_rate)))
        if kind == "ssvep":
            ref = references(list(freqs or []), sfreq, n_times, n_harmonics)  # (K, 2H, T)
            self.register_buffer(
                "ref", torch.tensor(ref.reshape(-1, n_times).T, dtype=torch.float32)
            )
            self.n_pairs = ref.shape[0] * ref.shape[1] // 2
            n_feat = n_channels * self.n_pairs
        elif kind == "emg":
            n_feat = 4 * n_channels
        elif kind == "mi":
            n_spatial = min(n_spatial, n_channels)
            self.register_buffer("spatial", torch.eye(n_channels)[:n_spatial].clone())
            n_feat = n_spatial
        elif kind == "erp":
            n_feat = n_channels * (n_times // self.factor)
        else:
            raise ValueError(f"unknown feature kind {kind!r}")
        self.n_times = n_times
        self.register_buffer("mean", torch.zeros(n_feat))
        self.register_buffer("scale", torch.ones(n_feat))
        self.linear = nn.Linear(n_feat, n_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """``(batch, n_channels, n_times) -> (batch, n_features)``."""
        x = x - x.mean(dim=-1, keepdim=True)
        if self.kind == "ssvep":
            proj = torch.matmul(x, self.ref)  # (B, C, 2KH)
            b, c, _ = proj.shape
            pw = (proj**2).reshape(b, c, self.n_pairs, 2).sum(-1) * (2.0 / self.n_times)
            total = (x**2).mean(dim=-1, keepdim=True)
            return torch.log((pw + 1e-6) / (total + 1e-6)).reshape(b, -1)
        if self.kind == "emg":
            rms = 0.5 * torch.log((x**2).mean(-1) + 1e-6)
            mav = torch.log(x.abs().mean(-1) + 1e-6)
            zc = ((x[..., 1:] * x[..., :-1]) < 0).to(x.dtype).mean(-1)
            wl = torch.log((x[..., 1:] - x[..., :-1]).abs().mean(-1) + 1e-6)
            return torch.cat([rms, mav, zc, wl], dim=1)
        if self.kind == "mi":
            s = torch.matmul(self.spatial, x)
            return torch.log((s**2).mean(-1) + 1e-6)
        b, c, t = x.shape
        t2 = t // self.factor
        return x[..., : t2 * self.factor].reshape(b, c, t2, self.factor).mean(-1).reshape(b, -1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class probabilities ``(batch, n_classes)``."""
        z = (self.features(x) - self.mean) / self.scale
        return torch.softmax(self.linear(z), dim=-1)


def _np_features(model: FeatureDecoder, X: np.ndarray, batch: int = 512) -> np.ndarray:
    out = []
    with torch.no_grad():
        for i in range(0, len(X), batch):
            out.append(
                model.features(torch.from_numpy(np.ascontiguousarray(X[i : i + batch]))).numpy()
            )
    return np.concatenate(out).astype(np.float64)


class FeatureStrategy:
    """Fit / predict wrapper (scikit-learn style) around :class:`FeatureDecoder`."""

    name = "features"

    def __init__(
        self,
        family: str,
        sfreq: float,
        n_classes: int,
        *,
        freqs: list[float] | None = None,
        n_harmonics: int = 2,
        erp_rate: float = 32.0,
    ):
        self.erp_rate = erp_rate
        self.family = family
        self.sfreq = sfreq
        self.n_classes = n_classes
        self.freqs = freqs
        self.n_harmonics = n_harmonics

    def fit(self, X: np.ndarray, y: np.ndarray) -> FeatureStrategy:
        """Fit spatial filters (mi), scaler and shrinkage LDA on the training windows."""
        _, c, t = X.shape
        m = FeatureDecoder(
            self.family,
            c,
            t,
            self.sfreq,
            freqs=self.freqs,
            n_harmonics=self.n_harmonics,
            n_classes=self.n_classes,
            erp_rate=self.erp_rate,
        )
        if self.family == "mi":
            from pyriemann.estimation import Covariances
            from pyriemann.spatialfilters import CSP

            cov = Covariances("oas").fit_transform(X.astype(np.float64))
            csp = CSP(nfilter=m.spatial.shape[0], log=True).fit(cov, y)
            m.spatial.copy_(torch.tensor(csp.filters_, dtype=torch.float32))
        F = _np_features(m, X)
        mu, sd = F.mean(axis=0), F.std(axis=0) + 1e-6
        lda = LinearDiscriminantAnalysis(solver="lsqr", shrinkage="auto").fit((F - mu) / sd, y)
        coef, icpt = np.atleast_2d(lda.coef_), np.atleast_1d(lda.intercept_)
        if coef.shape[0] == 1 and len(lda.classes_) == 2:  # binary LDA: one logit for class 1
            coef = np.vstack([np.zeros_like(coef), coef])
            icpt = np.r_[0.0, icpt]
        # classes absent from a training fold keep a very low logit
        full_w = np.zeros((self.n_classes, coef.shape[1]))
        full_b = np.full(self.n_classes, -1e4)
        present = np.asarray(lda.classes_, dtype=int)
        full_w[present] = coef
        full_b[present] = icpt
        with torch.no_grad():
            m.mean.copy_(torch.tensor(mu, dtype=torch.float32))
            m.scale.copy_(torch.tensor(sd, dtype=torch.float32))
            m.linear.weight.copy_(torch.tensor(full_w, dtype=torch.float32))
            m.linear.bias.copy_(torch.tensor(full_b, dtype=torch.float32))
        self.model_ = m.eval()
        return self

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Class probabilities from the torch module (what ONNX will compute)."""
        out = []
        with torch.no_grad():
            for i in range(0, len(X), 512):
                out.append(
                    self.model_(torch.from_numpy(np.ascontiguousarray(X[i : i + 512]))).numpy()
                )
        return np.concatenate(out)

    def to_torch(self) -> nn.Module:
        """The fitted module for export."""
        return self.model_
