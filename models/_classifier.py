"""Task models on top of the foundation encoder, and the fine-tuning strategies.

A classifier is ``WindowNorm -> ReadIn -> FoundationEncoder -> mean-pool -> head ->
softmax``; its input is what the runtime hands the decoder (microvolts,
``(batch, n_channels, n_times)`` at ``sfreq``) and its output class probabilities, so it
exports directly to the decoder ONNX contract (:func:`bci.models.export_onnx`).

Head features (:data:`POOLINGS`): ``"last"`` mean-pools the last layer's tokens;
``"layers"`` concatenates the mean-pooled tokens of every transformer block (multi-layer
probing) and each channel's log amplitude, the scale that :class:`WindowNorm` divides out.
Both are computed in the graph, so both export to ONNX.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional as F

from bci._errors import ConfigError

from ._channels import channel_indices
from ._encoder import (
    MODEL_SFREQ,
    NORMALIZATION,
    EncoderConfig,
    FoundationEncoder,
    ReadIn,
    WindowNorm,
    pad_to_patch,
)

logger = logging.getLogger(__name__)

#: Fine-tuning strategies accepted by :func:`build_classifier` and :func:`bci.models.fit`.
STRATEGIES = ("linear_probe", "readin", "full", "scratch")
#: Head features accepted by :func:`build_classifier` (see the module notes).
POOLINGS = ("last", "layers")


class FeatureNorm(nn.Module):
    """Layer norm of each layer's pooled tokens; the channel log amplitudes pass unchanged.

    Parameters
    ----------
    dim : int
        Token width.
    n_layers : int
        Number of pooled layers, concatenated first in the feature vector.
    """

    def __init__(self, dim: int, n_layers: int):
        super().__init__()
        self.dim = dim
        self.norms = nn.ModuleList([nn.LayerNorm(dim) for _ in range(n_layers)])

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """Normalise features ``(batch, n_layers * dim + n_channels)``."""
        d = self.dim
        parts = [norm(z[:, i * d : (i + 1) * d]) for i, norm in enumerate(self.norms)]
        return torch.cat([*parts, z[:, len(self.norms) * d :]], dim=-1)


class EncoderClassifier(nn.Module):
    """Foundation encoder plus a classification head, with normalisation in the graph.

    Parameters
    ----------
    encoder : FoundationEncoder
        The (pretrained or fresh) encoder.
    ch_names : sequence of str
        Channel labels, in the order of the input rows.
    sfreq : float
        Sampling rate of the input (Hz); stored as ``bci.sfreq`` at export.
    n_times : int
        Window length in samples.
    n_classes : int
        Number of outputs.
    strategy : str
        One of :data:`STRATEGIES`; decides which parameters :func:`bci.models.fit` trains.
    classes : sequence of str | None
        Class names (``bci.classes``); default ``"0".."n_classes-1"``.
    pooling : {"last", "layers"}
        Head features (:data:`POOLINGS`): the last layer's pooled tokens, or every block's
        plus the channels' log amplitudes.
    """

    def __init__(
        self,
        encoder: FoundationEncoder,
        ch_names: Sequence[str],
        sfreq: float,
        n_times: int,
        n_classes: int,
        strategy: str = "full",
        classes: Sequence[str] | None = None,
        pooling: str = "last",
    ):
        super().__init__()
        _check_pooling(pooling)
        self.pooling = pooling
        self.ch_names = list(ch_names)
        self.sfreq = float(sfreq)
        self.n_times = int(n_times)
        self.n_classes = int(n_classes)
        self.strategy = strategy
        self.classes = [str(c) for c in (classes or range(n_classes))]
        self.normalization = NORMALIZATION
        self.norm = WindowNorm()
        self.readin = ReadIn(len(self.ch_names))
        self.encoder = encoder
        self.register_buffer(
            "ch_idx", torch.tensor(channel_indices(self.ch_names), dtype=torch.long)
        )
        self.pad = pad_to_patch(self.n_times, encoder.config.patch)
        dim = encoder.config.dim
        if pooling == "last":
            norm, n_feat = nn.LayerNorm(dim), dim
        else:
            depth = encoder.config.depth
            norm, n_feat = FeatureNorm(dim, depth), depth * dim + len(self.ch_names)
        self.head = nn.Sequential(norm, nn.Dropout(0.1), nn.Linear(n_feat, n_classes))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Head features of raw windows ``x``: ``(batch, dim)``, or with ``pooling="layers"``
        ``(batch, depth * dim + n_channels)`` (every block's pooled tokens, log amplitudes)."""
        z = self.readin(self.norm(x))
        if self.pad:
            z = F.pad(z, (self.pad, 0))
        if self.pooling == "last":
            return self.encoder(z, self.ch_idx).mean(dim=(1, 2))
        pooled = [tok.mean(dim=1) for tok in self.encoder.forward_layers(z, self.ch_idx)]
        return torch.cat([*pooled, self.norm.log_scale(x)], dim=-1)

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """Un-normalised class scores ``(batch, n_classes)``."""
        return self.head(self.features(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class probabilities ``(batch, n_classes)`` of windows ``(batch, n_ch, n_times)``."""
        return torch.softmax(self.logits(x), dim=-1)

    def trainable_parameters(self, strategy: str | None = None) -> list[nn.Parameter]:
        """The parameters a strategy trains (and freezes the others).

        ``linear_probe``: the head. ``readin``: the read-in layer and the head.
        ``full`` and ``scratch``: everything.
        """
        strategy = strategy or self.strategy
        _check_strategy(strategy)
        train_encoder = strategy in ("full", "scratch")
        train_readin = strategy in ("readin", "full", "scratch")
        for p in self.encoder.parameters():
            p.requires_grad_(train_encoder)
        for p in self.readin.parameters():
            p.requires_grad_(train_readin)
        return [p for p in self.parameters() if p.requires_grad]


def _check_pooling(pooling: str) -> None:
    if pooling not in POOLINGS:
        raise ConfigError(
            f"unknown head pooling {pooling!r}; use one of {', '.join(POOLINGS)}",
            [("pooling", pooling, " | ".join(POOLINGS))],
        )


def _check_strategy(strategy: str) -> None:
    if strategy not in STRATEGIES:
        raise ConfigError(
            f"unknown fine-tuning strategy {strategy!r}; use one of {', '.join(STRATEGIES)}",
            [("strategy", strategy, " | ".join(STRATEGIES))],
        )


def build_classifier(
    encoder: nn.Module | None,
    ch_names: Sequence[str],
    sfreq: float,
    n_times: int,
    n_classes: int,
    strategy: str = "full",
    *,
    classes: Sequence[str] | None = None,
    config: EncoderConfig | None = None,
    pooling: str = "last",
) -> EncoderClassifier:
    """Build a classifier for one device/task on top of the foundation encoder.

    Parameters
    ----------
    encoder : FoundationEncoder | None
        A pretrained encoder (:func:`bci.models.load_encoder`). ``None`` loads the shipped
        default weights, except for ``strategy="scratch"``, which builds a fresh encoder.
    ch_names : sequence of str
        Channel labels of the input rows; 10-05 names share pretrained embeddings.
    sfreq : float
        Input rate (Hz). The encoder was pretrained at 250 Hz: resample to it
        (:func:`bci.models.resample`) for the pretrained strategies; another rate is accepted
        with a warning.
    n_times : int
        Window length in samples.
    n_classes : int
        Number of classes.
    strategy : {"linear_probe", "readin", "full", "scratch"}
        ``linear_probe`` trains the head on a frozen encoder; ``readin`` also trains the
        per-device read-in layer (NDT-stitch); ``full`` fine-tunes everything; ``scratch``
        trains a freshly initialised encoder (the no-pretraining control).
    classes : sequence of str | None
        Class names, stored in the export's ``bci.classes``.
    config : EncoderConfig | None
        Encoder size for ``scratch`` (default: the shipped model's size).
    pooling : {"last", "layers"}
        Head features: ``"last"`` mean-pools the last layer; ``"layers"`` concatenates every
        block's pooled tokens and each channel's log amplitude (multi-layer probing; what
        calibration uses).

    Returns
    -------
    EncoderClassifier
        Outputs class probabilities; :func:`bci.models.fit` trains it.
    """
    _check_strategy(strategy)
    _check_pooling(pooling)
    if n_classes < 2:
        raise ConfigError(f"n_classes must be >= 2, got {n_classes}")
    if classes is not None and len(classes) != n_classes:
        raise ConfigError(f"{len(classes)} class names given for n_classes={n_classes}")
    if strategy == "scratch":
        cfg = config or (encoder.config if isinstance(encoder, FoundationEncoder) else None)
        encoder = FoundationEncoder(cfg)
    elif encoder is None:
        from ._weights import load_encoder

        encoder = load_encoder("default")
    if not isinstance(encoder, FoundationEncoder):
        raise ConfigError(
            f"build_classifier needs a bci.models.FoundationEncoder, got {type(encoder).__name__}; "
            "braindecode encoders are built with bci.models.build_braindecode"
        )
    if strategy != "scratch" and abs(float(sfreq) - MODEL_SFREQ) > 1e-6:
        logger.warning(
            "sfreq=%.1f Hz but the encoder was pretrained at %.0f Hz; resample the windows "
            "(bci.models.resample) for the best transfer",
            sfreq,
            MODEL_SFREQ,
        )
    max_t = encoder.config.max_patches * encoder.config.patch
    if n_times > max_t:
        raise ConfigError(f"n_times={n_times} is longer than the encoder's {max_t} samples")
    model = EncoderClassifier(
        encoder, ch_names, sfreq, n_times, n_classes, strategy, classes, pooling
    )
    model.trainable_parameters(strategy)
    return model
