"""Per-user calibration (``bci calibrate``): paradigm, epoching, evaluation and training settings.

One YAML file per data set (``configs/calibrate_<set>.yaml``) says how to turn a recording
into labelled trials: which stream and channels, which marker values (or per-sample labels)
mean which class, how to cut windows, and which strategies and baselines to compare.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from ._base import ConfigModel

Family = Literal["ssvep", "erp", "mi", "emg"]
STRATEGIES = ("features", "linear_probe", "readin", "full", "scratch")
BASELINES = ("fbcca", "trca", "xdawn_ts", "xdawn_lda", "csp_lda", "ts_lr", "td_lda")
#: Baselines that export to ONNX (linear pipelines), so ``ship`` may name them.
EXPORTABLE_BASELINES = ("td_lda", "xdawn_lda")


class EpochsConfig(ConfigModel):
    """How trials (and windows inside trials) are cut from a recording.

    ``events`` kinds:

    - ``onset``: one trial per mapped marker, ``[tmin, tmax]`` around it (SSVEP, ERP, MI).
    - ``start_end``: a marker opens a trial and a second one closes it, either ``"<k>s"`` /
      ``"<k>e"`` or the same plain value ``"<k>"`` twice; windows of ``window`` s every
      ``hop`` s are cut between ``start + skip`` and ``end`` (EMG gestures).
    - ``labels``: a per-sample label channel (``label_channel``); every run of one label is a
      trial, cut into windows after skipping ``skip`` s of reaction time (Myo gestures).
    """

    events: Literal["onset", "start_end", "labels"] = Field(
        "onset", description="Where trials come from."
    )
    tmin: float = Field(0.0, description="Trial start relative to the onset marker, s (onset).")
    tmax: float = Field(1.0, description="Trial end relative to the onset marker, s (onset).")
    window: float = Field(1.0, gt=0, description="Window length in s (start_end, labels).")
    hop: float = Field(0.5, gt=0, description="Hop between windows in s (start_end, labels).")
    skip: float = Field(
        0.0, ge=0, description="Seconds skipped after a trial starts (reaction time)."
    )
    marker_stream: str | None = Field(
        None,
        description="Marker stream holding the onsets (onset); null takes every marker stream. "
        "The exported decoder carries it: the runtime cuts its epochs on that stream.",
    )
    label_channel: str = Field(
        "label", description="Name of the per-sample label channel (labels)."
    )
    baseline: tuple[float, float] | None = Field(
        None, description="Baseline window [a, b] s relative to onset to subtract, or null."
    )
    reject_uv: float | None = Field(
        None, gt=0, description="Drop trials whose peak-to-peak exceeds this (uV), or null."
    )

    @model_validator(mode="after")
    def _check(self) -> EpochsConfig:
        if self.events == "onset" and not self.tmax > self.tmin:
            raise ValueError("epochs.tmax must be greater than epochs.tmin")
        return self


class EvaluationConfig(ConfigModel):
    """Cross-validation, learning curve and shortcut check."""

    folds: int = Field(5, ge=2, le=20, description="Folds of stratified k-fold.")
    scheme: Literal["auto", "kfold", "loso"] = Field(
        "auto", description="'auto': leave-one-session-out when >= 2 sessions, else k-fold."
    )
    learning_curve: list[float] = Field(
        [0.2, 0.4, 0.6, 0.8, 1.0], description="Fractions of the training trials for the curve."
    )
    shortcut_margin: float = Field(
        0.05,
        ge=0,
        le=1,
        description="Warn when artifact-only features come this close to the decoder.",
    )
    seed: int = Field(0, description="Seed of fold shuffling and training.")


class TrainingConfig(ConfigModel):
    """Fine-tuning of the foundation model (kept short: calibration must take < 2 min)."""

    epochs: int = Field(4, ge=1, le=500, description="Maximum epochs per fold (early stopping).")
    patience: int = Field(2, ge=1, description="Stop after N epochs without validation gain.")
    batch_size: int = Field(64, ge=1, description="Mini-batch size.")
    lr: float = Field(
        1e-3, gt=0, description="Learning rate of the head (10x lower for the encoder)."
    )
    max_windows: int = Field(
        400,
        ge=10,
        description="Fine-tune on at most N training windows (speed); the linear probe sees them all.",
    )
    time_budget: float = Field(90.0, gt=0, description="Soft time budget per strategy in s.")
    encoder: str = Field(
        "default",
        description="Pretrained encoder of linear_probe/readin/full: 'default' (the shipped "
        "models/weights/encoder.pt) or an encoder.pt written by bci pretrain.",
    )


class CalibrationConfig(ConfigModel):
    """How to calibrate one user's decoder from recordings of one paradigm."""

    paradigm: str = Field(
        ..., pattern=r"^[a-z0-9_-]+$", description="Paradigm name (report, metadata)."
    )
    family: Family = Field(
        ..., description="ssvep | erp | mi | emg: decides features and baselines."
    )
    user: str = Field("user", description="Who the decoder is for (ONNX metadata).")
    stream: str | None = Field(
        None,
        description="Name or type of the signal stream to use; null takes the first numeric one.",
    )
    channels: list[str] | None = Field(
        None,
        description="Channels to use, by name in the recording (after rename); null keeps all.",
    )
    rename: dict[str, str] = Field(
        default_factory=dict,
        description="Electrode position of a channel, e.g. {'Right AUX': 'POz'}.",
    )
    classes: list[str] = Field(..., min_length=2, description="Class names, in output order.")
    mapping: dict[str, str] = Field(
        ...,
        min_length=1,
        description="Marker value (or label) -> class name; unmapped values are ignored.",
    )
    frequencies: dict[str, float] | None = Field(
        None, description="SSVEP: stimulation frequency of each class in Hz."
    )
    n_harmonics: int = Field(
        3, ge=1, le=6, description="SSVEP: harmonics in the reference signals."
    )
    positive: str | None = Field(
        None, description="Binary tasks: the positive class (AUC, ERP target)."
    )
    sfreq: float | None = Field(
        None, gt=0, description="Sampling rate when the file has no usable timestamps (Myo txt)."
    )
    layout: str | dict[str, Any] | None = Field(
        None,
        description="Column layout of CSV/text recordings the reader does not recognise: a "
        "replay mapping YAML file (configs/replay_columns.yaml is a template) or the same keys "
        "inline; null detects the layout. 'mapping' stays the marker-to-class map.",
    )
    bandpass: tuple[float, float] | None = Field(
        None,
        description="Causal Butterworth band-pass (order 4) in Hz, or null; the runtime applies it too.",
    )
    notch: float | None = Field(None, gt=0, description="Line frequency to notch, or null.")
    resample: float | None = Field(
        None, gt=0, description="Rate for the decoder input in Hz, or null."
    )
    epochs: EpochsConfig = Field(default_factory=EpochsConfig)
    sessions: Literal["file", "folder", "none"] = Field(
        "file", description="What makes a session for leave-one-session-out."
    )
    min_trials_per_class: int = Field(5, ge=2, description="Refuse to calibrate with fewer.")
    strategies: list[str] = Field(
        ["features", "linear_probe", "scratch"],
        description="Decoders to train and compare: features | linear_probe | readin | full | scratch.",
    )
    baselines: list[str] | None = Field(
        None, description="Classical baselines; null takes the family's defaults."
    )
    ship: str = Field(
        "auto",
        description="What to export: 'auto' takes the best cross-validated strategy or "
        "exportable baseline (td_lda, xdawn_lda); or name one of them.",
    )
    evaluation: EvaluationConfig = Field(default_factory=EvaluationConfig)
    training: TrainingConfig = Field(default_factory=TrainingConfig)
    population: list[str] = Field(
        [],
        description="Recordings of other users of this paradigm (same montage): every "
        "candidate is also trained on them plus the user's trials, as 'pop_<name>'.",
    )
    population_max_windows: int | None = Field(
        4000,
        ge=1,
        description="Population windows used at most per fit (whole trials, class-stratified); "
        "null: all.",
    )

    @model_validator(mode="after")
    def _check(self) -> CalibrationConfig:
        unknown = sorted(set(self.mapping.values()) - set(self.classes))
        if unknown:
            raise ValueError(f"mapping targets {unknown} are not in classes {self.classes}")
        bad = [s for s in self.strategies if s not in STRATEGIES]
        if bad:
            raise ValueError(f"unknown strategies {bad}; choose from {list(STRATEGIES)}")
        if self.baselines is not None:
            bad = [b for b in self.baselines if b not in BASELINES]
            if bad:
                raise ValueError(f"unknown baselines {bad}; choose from {list(BASELINES)}")
        if self.ship != "auto" and self.ship not in self.strategies:
            if self.ship not in EXPORTABLE_BASELINES:
                raise ValueError(
                    f"ship={self.ship!r} must be 'auto', one of strategies {self.strategies} "
                    f"or an exportable baseline {list(EXPORTABLE_BASELINES)}"
                )
        if self.family == "ssvep":
            if not self.frequencies or set(self.frequencies) != set(self.classes):
                raise ValueError("ssvep needs frequencies: {class: Hz} for every class")
        if self.positive is not None and self.positive not in self.classes:
            raise ValueError(f"positive={self.positive!r} is not in classes {self.classes}")
        if self.bandpass is not None and not 0 < self.bandpass[0] < self.bandpass[1]:
            raise ValueError("bandpass must be [low, high] with 0 < low < high")
        return self
