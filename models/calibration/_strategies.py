"""Foundation-model strategies (docs/design.md#decoder) wrapped as fit / predict_proba estimators.

``linear_probe``, ``readin`` and ``full`` start from the pretrained encoder; ``scratch`` is the
same architecture freshly initialised: the comparison the issue asks for on every set.

Recipe (the same for every strategy; only the initialisation and the encoder's learning rate
differ):

- the head is first fitted on features of the frozen encoder, computed once (linear probing):
  by default (``probe_solver="logistic"``) the convex problem solved to convergence, L2
  logistic regression with ``C`` chosen by 5-fold cross-validated log loss on the training
  split, whole trials per fold (``groups``); ``"adamw"`` runs up to
  :data:`PROBE_EPOCHS` epochs with early stopping instead. For ``linear_probe`` that is all
  (the earlier 4-epoch AdamW probe left the head close to its random initialisation).
- ``readin``, ``full`` and ``scratch`` then train their parameters for ``epochs`` epochs
  (``training`` in the config) from that head: LP-FT (Kumar et al. 2022, "Fine-tuning can
  distort pretrained features"). ``full`` gives the pretrained encoder a 10x smaller learning
  rate than the head (:data:`ENCODER_LR_SCALE`, discriminative fine-tuning); ``scratch`` trains
  its random encoder at the full rate, as training from scratch is normally done.
- same windows, validation split, early stopping and folds for all; the validation split and
  the probe's folds keep the windows of one trial together, like the evaluation's folds.

Windows are resampled to the encoder's rate (250 Hz) inside the wrapper; the exported
model then declares that rate in ``bci.sfreq`` and the runtime resamples live.
"""

from __future__ import annotations

import logging

import numpy as np

logger = logging.getLogger(__name__)

#: Epochs (and early-stopping patience) of the linear-probing stage, on cached features.
PROBE_EPOCHS, PROBE_PATIENCE = 100, 10
#: Learning rate of encoder and read-in relative to the head, per strategy.
ENCODER_LR_SCALE = {"linear_probe": 1.0, "readin": 1.0, "full": 0.1, "scratch": 1.0}
#: Head features of every strategy (:data:`bci.models.POOLINGS`).
POOLING = "layers"

_ENCODER: dict[str, object] = {}


def pretrained_encoder(path: str = "default") -> object | None:
    """The pretrained encoder at ``path`` (cached; ``"default"``: the shipped one).

    ``None`` when the shipped weights are not installed. A ``path`` the user named that
    cannot be loaded is an error (:class:`bci.DecoderError`), not a silent skip.
    """
    if path not in _ENCODER:
        from bci import models

        try:
            _ENCODER[path] = models.load_encoder(path)
        except Exception as exc:  # noqa: BLE001 -- any load failure means "not available"
            if path != "default":
                raise
            logger.warning(
                "pretrained encoder not available (%s): pretrained strategies skipped", exc
            )
            _ENCODER[path] = None
    return _ENCODER[path]


def _resample(X: np.ndarray, sfreq: float, target: float) -> np.ndarray:
    if abs(sfreq - target) < 1e-6:
        return X.astype(np.float32)
    from fractions import Fraction

    from scipy.signal import resample_poly

    fr = Fraction(target / sfreq).limit_denominator(100)
    return resample_poly(X, fr.numerator, fr.denominator, axis=-1).astype(np.float32)


class FoundationStrategy:
    """One of ``linear_probe``, ``readin``, ``full``, ``scratch`` on the foundation encoder.

    Parameters
    ----------
    strategy : str
        Fine-tuning strategy.
    positions : list of str
        Electrode position of each channel (channel-name embeddings).
    sfreq : float
        Rate of the windows given to ``fit`` / ``predict_proba``.
    classes : list of str
        Class names.
    epochs, patience, batch_size, max_windows : int
        Training budget of the fine-tuning stage.
    probe_epochs : int
        Epochs of the linear-probing stage (0: no probing before fine-tuning).
    encoder_lr_scale : float | None
        Encoder learning rate relative to the head's; default :data:`ENCODER_LR_SCALE`.
    seed : int
        Seed of the split, shuffling and initialisation.
    pooling : {"layers", "last"}
        Head features (:data:`bci.models.POOLINGS`); default :data:`POOLING`.
    encoder : str
        Pretrained encoder (:func:`pretrained_encoder`): ``"default"`` or an ``encoder.pt``.
    """

    def __init__(
        self,
        strategy: str,
        positions: list[str],
        sfreq: float,
        classes: list[str],
        *,
        epochs: int = 4,
        patience: int = 2,
        batch_size: int = 64,
        max_windows: int = 400,
        seed: int = 0,
        progress: bool = False,
        probe_epochs: int = PROBE_EPOCHS,
        encoder_lr_scale: float | None = None,
        probe_solver: str = "logistic",
        pooling: str | None = None,
        encoder: str = "default",
    ):
        self.name = strategy
        self.encoder = encoder
        self.strategy = strategy
        self.positions = positions
        self.sfreq = sfreq
        self.classes = classes
        self.epochs = epochs
        self.patience = patience
        self.batch_size = batch_size
        self.max_windows = max_windows
        self.seed = seed
        self.progress = progress
        self.probe_epochs = probe_epochs
        self.probe_solver = probe_solver
        self.pooling = POOLING if pooling is None else pooling
        self.encoder_lr_scale = (
            ENCODER_LR_SCALE[strategy] if encoder_lr_scale is None else encoder_lr_scale
        )

    def fit(
        self, X: np.ndarray, y: np.ndarray, groups: np.ndarray | None = None
    ) -> FoundationStrategy:
        """Build the classifier (pretrained or fresh encoder) and train it.

        ``groups``: trial id of each window; the inner splits (validation split, the probe's
        cross-validation) then never put windows of one trial on both sides. ``None``:
        independent windows.
        """
        import torch

        from bci import models

        torch.set_num_threads(1)
        self.model_sfreq = float(models.MODEL_SFREQ)
        Xr = _resample(X, self.sfreq, self.model_sfreq)
        if self.strategy == "scratch":
            torch.manual_seed(self.seed)  # fresh init must be reproducible
            encoder = None
        else:
            encoder = pretrained_encoder(self.encoder)
            if encoder is None:
                raise RuntimeError("no pretrained encoder installed")
            import copy

            encoder = copy.deepcopy(encoder)
        model = models.build_classifier(
            encoder,
            self.positions,
            self.model_sfreq,
            Xr.shape[-1],
            len(self.classes),
            self.strategy,
            classes=self.classes,
            pooling=self.pooling,
        )
        probe = self.strategy == "linear_probe"
        self.model_, self.history_ = models.fit(
            model,
            Xr,
            y,
            strategy=self.strategy,
            max_epochs=self.probe_epochs if probe else self.epochs,
            patience=PROBE_PATIENCE if probe else self.patience,
            batch_size=self.batch_size,
            seed=self.seed,
            progress=self.progress,
            probe_epochs=0 if probe else self.probe_epochs,
            probe_patience=PROBE_PATIENCE,
            probe_solver=self.probe_solver,
            encoder_lr_scale=self.encoder_lr_scale,
            max_train_windows=self.max_windows,
            groups=groups,
        )
        self.classes_ = np.arange(len(self.classes))
        return self

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Class probabilities (windows resampled to the encoder's rate first)."""
        import torch

        Xr = torch.from_numpy(_resample(X, self.sfreq, self.model_sfreq))
        with torch.no_grad():
            return torch.cat([self.model_(Xr[i : i + 256]) for i in range(0, len(Xr), 256)]).numpy()

    def to_torch(self) -> object:
        """The trained module for export."""
        return self.model_
