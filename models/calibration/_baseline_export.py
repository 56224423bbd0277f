"""Classical baselines that are linear pipelines, rewritten as torch modules for ONNX export.

``td_lda`` (Hudgins features + standardization + shrinkage LDA) and ``xdawn_lda`` (xDAWN
spatial filters + decimation + shrinkage LDA) compute the same probabilities in the graph
as their scikit-learn pipelines, so ``ship: auto`` can ship them when they beat every
strategy. The Riemannian pipelines (matrix logarithms), FBCCA and TRCA (QR / zero-phase
filtering) stay report-only.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from bci.config._calibration import EXPORTABLE_BASELINES as EXPORTABLE


class LinearBaseline(nn.Module):
    """Spatial filter (optional) -> features -> standardization -> linear -> softmax.

    Parameters
    ----------
    kind : ``"td"`` | ``"decimate"``
        Hudgins time-domain features per channel, or mean over ``factor`` samples.
    spatial : ndarray, shape (n_filters, n_channels) | None
        Spatial filters applied first.
    factor : int
        Decimation factor (``decimate``).
    mean, scale : ndarray
        Standardization of the features.
    weight, bias : ndarray
        Linear decision function, one row per class.
    n_times : int
        Window length the module was fitted on (export metadata).
    """

    def __init__(
        self,
        kind: str,
        spatial: np.ndarray | None,
        factor: int,
        mean: np.ndarray,
        scale: np.ndarray,
        weight: np.ndarray,
        bias: np.ndarray,
        n_times: int,
    ):
        super().__init__()
        self.kind = kind
        self.factor = int(factor)
        self.n_times = int(n_times)
        self.has_spatial = spatial is not None
        if spatial is not None:
            self.register_buffer("spatial", torch.tensor(spatial, dtype=torch.float32))
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32))
        self.register_buffer("scale", torch.tensor(scale, dtype=torch.float32))
        self.register_buffer("weight", torch.tensor(weight, dtype=torch.float32))
        self.register_buffer("bias", torch.tensor(bias, dtype=torch.float32))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class probabilities ``(batch, n_classes)``."""
        if self.has_spatial:
            x = torch.matmul(self.spatial, x)
        if self.kind == "td":
            x = x - x.mean(dim=-1, keepdim=True)
            rms = 0.5 * torch.log((x**2).mean(-1) + 1e-6)
            mav = torch.log(x.abs().mean(-1) + 1e-6)
            zc = ((x[..., 1:] * x[..., :-1]) < 0).to(x.dtype).mean(-1)
            wl = torch.log((x[..., 1:] - x[..., :-1]).abs().mean(-1) + 1e-6)
            f = torch.cat([rms, mav, zc, wl], dim=1)
        else:
            b, c, t = x.shape
            t2 = t // self.factor
            f = x[..., : t2 * self.factor].reshape(b, c, t2, self.factor).mean(-1).reshape(b, -1)
        z = (f - self.mean) / self.scale
        return torch.softmax(torch.matmul(z, self.weight.T) + self.bias, dim=-1)


def _lda_rows(lda: object, n_classes: int) -> tuple[np.ndarray, np.ndarray]:
    coef, icpt = np.atleast_2d(lda.coef_), np.atleast_1d(lda.intercept_)
    if coef.shape[0] == 1 and len(lda.classes_) == 2:  # binary LDA: one logit for class 1
        coef = np.vstack([np.zeros_like(coef), coef])
        icpt = np.r_[0.0, icpt]
    w = np.zeros((n_classes, coef.shape[1]))
    b = np.full(n_classes, -1e4)
    present = np.asarray(lda.classes_, dtype=int)
    w[present] = coef
    b[present] = icpt
    return w, b


def baseline_to_torch(name: str, pipeline: object, n_classes: int, n_times: int) -> nn.Module:
    """The fitted scikit-learn pipeline ``name`` as a :class:`LinearBaseline`.

    Raises
    ------
    ValueError
        ``name`` is not one of :data:`EXPORTABLE`.
    """
    steps = dict(pipeline.named_steps)
    lda = steps["lineardiscriminantanalysis"]
    w, b = _lda_rows(lda, n_classes)
    if name == "td_lda":
        sc = steps["standardscaler"]
        return LinearBaseline("td", None, 1, sc.mean_, sc.scale_, w, b, n_times)
    if name == "xdawn_lda":
        xd, dec = steps["xdawn"], steps["decimate"]
        n_feat = w.shape[1]
        return LinearBaseline(
            "decimate", xd.filters_, dec.factor, np.zeros(n_feat), np.ones(n_feat), w, b, n_times
        )
    raise ValueError(f"baseline {name!r} cannot be exported; exportable: {list(EXPORTABLE)}")


class ExportableBaseline:
    """A fitted baseline with ``to_torch()``, so :func:`export_model` can ship it."""

    def __init__(self, name: str, pipeline: object, n_classes: int):
        self.name = name
        self.pipeline = pipeline
        self.n_classes = n_classes

    def fit(self, X: np.ndarray, y: np.ndarray) -> ExportableBaseline:
        """Fit the scikit-learn pipeline on float64 windows."""
        self.pipeline.fit(X.astype(np.float64), y)
        self.n_times_ = int(X.shape[-1])
        return self

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """The scikit-learn pipeline's probabilities."""
        return self.pipeline.predict_proba(X.astype(np.float64))

    def to_torch(self) -> nn.Module:
        """The same decision function as a torch module."""
        return baseline_to_torch(self.name, self.pipeline, self.n_classes, self.n_times_).eval()
