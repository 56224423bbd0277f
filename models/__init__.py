"""Foundation-model decoders: the channel-agnostic encoder, fine-tuning, ONNX export.

Importing this package imports torch; the live decode path never does (it runs the
exported ONNX file through :class:`bci._decoder.DecoderONNX`).

Main entry points
-----------------
- :func:`load_encoder` -- the shipped (or any) pretrained :class:`FoundationEncoder`.
- :func:`build_classifier` -- encoder + task head for a channel set, with a fine-tuning
  strategy (``linear_probe``, ``readin``, ``full``, ``scratch``).
- :func:`fit` -- supervised training with a validation split and early stopping.
- :func:`export_onnx` -- decoder ONNX (docs/design.md#decoder) with the onnxruntime-vs-torch check.
- :func:`pretrain` -- masked-reconstruction pretraining (``bci pretrain``).
- :func:`build_braindecode` / :data:`REGISTRY` -- braindecode encoders (LaBraM, CBraMod,
  EEGPT, EEGNet) built from config, local weights loaded strictly.
"""

from __future__ import annotations

from ._channels import VOCAB, channel_indices, normalize_name
from ._classifier import POOLINGS, STRATEGIES, EncoderClassifier, build_classifier
from ._data import Segment, load_segments, resample
from ._encoder import (
    MODEL_SFREQ,
    NORMALIZATION,
    EncoderConfig,
    FoundationEncoder,
    ReadIn,
    WindowNorm,
)
from ._export import PARITY_TOL, data_hash, export_onnx, parity_check, read_metadata
from ._fit import fit
from ._pretrain import PretrainSettings, pretrain
from ._registry import (
    REGISTRY,
    BraindecodeClassifier,
    build_braindecode,
    load_weights,
    save_weights,
)
from ._weights import (
    WEIGHTS_DIR,
    check_keys,
    load_classifier,
    load_encoder,
    save_classifier,
    save_encoder,
)

__all__ = [
    "MODEL_SFREQ",
    "NORMALIZATION",
    "PARITY_TOL",
    "POOLINGS",
    "REGISTRY",
    "STRATEGIES",
    "VOCAB",
    "WEIGHTS_DIR",
    "BraindecodeClassifier",
    "EncoderClassifier",
    "EncoderConfig",
    "FoundationEncoder",
    "PretrainSettings",
    "ReadIn",
    "Segment",
    "WindowNorm",
    "build_braindecode",
    "build_classifier",
    "channel_indices",
    "check_keys",
    "data_hash",
    "export_onnx",
    "fit",
    "load_classifier",
    "load_encoder",
    "load_segments",
    "load_weights",
    "normalize_name",
    "parity_check",
    "pretrain",
    "read_metadata",
    "resample",
    "save_classifier",
    "save_encoder",
    "save_weights",
]
