"""The closed loop: in-silico model, optimizer, safety limits, presenter.

Every section is a frozen pydantic model with defaults, so ``closed_loop: {}`` is a valid,
safe configuration. There is deliberately **no switch that turns the safety limiter off**:
the only relaxation is the SSVEP opt-in for screened participants, which needs a written
reason and is logged and recorded with every stimulus it affects.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from ._base import ConfigModel


class MonitorConfig(ConfigModel):
    """The physical display: the safety rules are defined in degrees and cd/m2, not pixels."""

    width_cm: float = Field(53.0, gt=0, description="Visible width of the screen in cm.")
    width_px: int = Field(1920, gt=0, description="Horizontal resolution in pixels.")
    height_px: int = Field(1080, gt=0, description="Vertical resolution in pixels.")
    distance_cm: float = Field(60.0, gt=0, description="Eye-to-screen viewing distance in cm.")
    max_luminance: float = Field(250.0, gt=0, description="Luminance of full white in cd/m2.")
    min_luminance: float = Field(0.5, ge=0, description="Luminance of full black in cd/m2.")
    refresh_hz: float = Field(60.0, gt=0, description="Refresh rate in Hz (frames per second).")

    @model_validator(mode="after")
    def _check_luminance(self) -> MonitorConfig:
        if self.min_luminance >= self.max_luminance:
            raise ValueError(
                f"min_luminance ({self.min_luminance}) must be below max_luminance "
                f"({self.max_luminance}); measure both with a photometer"
            )
        return self


class SafetyConfig(ConfigModel):
    """Photosensitivity limits (WCAG 2.3.1, ITU-R BT.1702, EFA guidance); always applied."""

    monitor: MonitorConfig = Field(default_factory=MonitorConfig)
    screened_participant: bool = Field(
        False,
        description="SSVEP opt-in: the participant was screened for photosensitive epilepsy. "
        "Allows periodic flicker above 3 Hz (with depth/size limits); needs screened_reason.",
    )
    screened_reason: str | None = Field(
        None, description="Who screened the participant and how; logged and recorded."
    )
    flicker_max_depth: float = Field(
        0.8, gt=0, le=1, description="Opt-in only: largest flicker modulation depth."
    )
    flicker_max_depth_15_25hz: float = Field(
        0.3,
        gt=0,
        le=1,
        description="Opt-in only: largest depth for 15-25 Hz (EFA: most provocative).",
    )
    flicker_max_size_deg: float = Field(
        8.0, gt=0, description="Opt-in only: largest flickering stimulus (diameter in degrees)."
    )
    flicker_max_total_deg2: float = Field(
        78.5,
        gt=0,
        description="Opt-in only: largest summed area (square degrees) of all stimuli "
        "flickering at the same time (default: the area of a 10-degree field).",
    )
    stripe_max_pairs: int = Field(
        5, ge=1, description="EFA: most light-dark stripe pairs at high contrast."
    )
    stripe_max_contrast: float = Field(
        0.5,
        gt=0,
        le=1,
        description="Michelson contrast above which a regular stripe pattern counts.",
    )
    min_depth: float = Field(
        0.1,
        ge=0,
        lt=1,
        description="A clamp that would leave less temporal depth than this blocks instead.",
    )
    abort_key: str = Field("escape", description="Key that ends a presentation at once.")

    @model_validator(mode="after")
    def _check_opt_in(self) -> SafetyConfig:
        if self.screened_participant and not (self.screened_reason or "").strip():
            raise ValueError(
                "screened_participant: true needs screened_reason (who screened the participant "
                "for photosensitive epilepsy and how)"
            )
        return self


class InSilicoConfig(ConfigModel):
    """The differentiable model from stimulus to predicted response features."""

    front_end: str = Field(
        "gabor",
        description="'gabor' (quadrature energy), 'pyramid' (steerable pyramid) or a dotted path "
        "'package.module:Class' / 'package.module.Class' of any torch.nn.Module.",
    )
    front_end_kwargs: dict[str, float | int | str | bool] = Field(
        default_factory=dict, description="Keyword arguments for a dotted-path front end."
    )
    ridge_alpha: float = Field(30.0, gt=0, description="Ridge penalty of the per-user readout.")
    image_size: int = Field(64, ge=16, le=512, description="Stimulus side in model pixels.")
    frequencies: list[float] = Field(
        [3.0, 6.0, 12.0, 24.0],
        min_length=1,
        description="Centre spatial frequencies (cycles per image) of the built-in front ends. "
        "The mis-specified model of the benchmark uses [1.5, 3.0, 6.0, 12.0] (one octave down).",
    )
    n_orient: int = Field(
        8,
        ge=1,
        le=32,
        description="Orientations (equally spaced in [0, pi)) of the built-in front ends. The "
        "mis-specified model of the benchmark uses 4 (every second orientation removed).",
    )
    readout: Literal["fitted", "shuffled", "untrained"] = Field(
        "fitted",
        description="fitted: ridge readout fitted on (stimulus, measured response) pairs; "
        "ablations: shuffled (fitted on the responses permuted across stimuli) or untrained "
        "(fixed random readout weights, never fitted).",
    )
    update: Literal["every_round", "once"] = Field(
        "every_round",
        description="every_round: refit the readout with every new measurement (closed loop); "
        "once: fit it on the calibration trials only (open loop).",
    )


class OptimizerConfig(ConfigModel):
    """How a new stimulus is found."""

    method: Literal["adam", "cmaes", "random"] = Field(
        "adam",
        description="adam: gradient ascent through the in-silico model; cmaes: CMA-ES on measured "
        "responses only; random: random search (a new calibration-like stimulus each time). "
        "cmaes and random also spend the calibration presentations on their own candidates, so "
        "every method gets the same number of presentations.",
    )
    parametrization: Literal["fourier", "pixel", "gabor"] = Field(
        "fourier", description="Stimulus parametrization."
    )
    steps: int = Field(60, ge=1, description="Adam steps per optimized stimulus.")
    lr: float = Field(0.05, gt=0, description="Adam learning rate.")
    jitter: int = Field(
        2, ge=0, description="Random shift in pixels per step (robustness to position)."
    )
    contrast: float = Field(
        0.2, gt=0, le=0.5, description="Fixed RMS contrast of the stimulus (pixel units)."
    )
    objective: Literal["maximize", "target", "decoder"] = Field(
        "maximize",
        description="maximize the measured response, hold it at optimizer.target across rounds, "
        "or drive a decoder output.",
    )
    target: list[float] | None = Field(
        None,
        description="Objective 'target': the measured response to hold, one value (uV for "
        "measure.feature ssvep/evoked).",
    )
    target_reference: Literal["absolute", "calibration"] = Field(
        "absolute",
        description="Objective 'target': absolute: target is in the measured unit (uV); "
        "calibration: target is a multiple of the median response to the calibration stimuli "
        "(the same requested level for participants who respond more or less strongly).",
    )
    target_gain: float = Field(
        0.5,
        ge=0,
        description="Objective 'target', closed loop only: integral gain. The level asked of the "
        "model is the target plus this times the sum of past tracking errors (0: refit only).",
    )
    decoder_output: int = Field(0, ge=0, description="Output index for objective 'decoder'.")
    n_gabors: int = Field(8, ge=1, description="Components of the Gabor-mixture parametrization.")
    cma_sigma: float = Field(0.5, gt=0, description="CMA-ES initial step size.")
    cma_popsize: int = Field(
        6,
        ge=2,
        description="CMA-ES population per generation: one generation is told after this many "
        "presentations.",
    )
    threads: int = Field(
        1,
        ge=1,
        description="torch CPU threads for the optimizer (1: steadiest on a busy 2-core machine).",
    )
    device: str = Field("cpu", description="torch device: cpu, cuda, auto.")

    @model_validator(mode="after")
    def _check_target(self) -> OptimizerConfig:
        if self.objective == "target" and not self.target:
            raise ValueError(
                "objective 'target' needs optimizer.target (the response vector to reach)"
            )
        return self


class MeasureConfig(ConfigModel):
    """How a response is measured from the EEG of one trial."""

    feature: Literal["ssvep", "evoked", "decoder"] = Field(
        "ssvep",
        description="ssvep: amplitude at the flicker frequency (+harmonic); evoked: 0.1-0.3 s VEP; "
        "decoder: output optimizer.decoder_output of the session's decoder on the trial's last window.",
    )
    channels: list[str] = Field(
        ["O1", "Oz", "O2", "POz"], min_length=1, description="Occipital channels."
    )
    harmonics: int = Field(2, ge=1, le=4, description="SSVEP harmonics summed.")


class PresenterConfig(ConfigModel):
    """The PsychoPy window (live mode only)."""

    size: list[int] = Field(
        [1024, 768], min_length=2, max_length=2, description="Window size in px."
    )
    fullscreen: bool = Field(False, description="Full screen window.")
    screen: int = Field(0, ge=0, description="Screen index.")
    photodiode: bool = Field(
        False, description="Draw a patch in the bottom-left corner: white while a stimulus is on."
    )
    photodiode_size: int = Field(40, ge=4, description="Photodiode patch side in px.")
    screenshots: bool = Field(
        True, description="Save the first frame of every stimulus for the report."
    )
    marker_stream: str = Field(
        "bci-markers", description="LSL marker stream name (one label per shown stimulus)."
    )
    description_stream: str = Field(
        "bci-stimuli", description="LSL stream of stimulus descriptions (JSON, one per stimulus)."
    )


class ClosedLoopConfig(ConfigModel):
    """Closed-loop stimulus optimization against a participant (real or simulated)."""

    rounds: int = Field(20, ge=1, description="Optimize -> present -> measure -> update rounds.")
    seed: int = Field(0, description="Seed of the optimizer and the random baselines.")
    mode: Literal["offline", "live"] = Field(
        "offline",
        description="offline: the simulated participant's fast simulate() API, no window; "
        "live: PsychoPy presenter + the participant on LSL.",
    )
    trial_duration: float = Field(2.0, gt=0, description="Seconds each stimulus is shown.")
    iti: float = Field(
        1.0, ge=0, description="Inter-trial interval in s; a new stimulus must be ready within it."
    )
    frequency: float = Field(
        7.5,
        gt=0,
        description="Flicker frequency (Hz) of shown images (a frame divisor of refresh_hz).",
    )
    depth: float = Field(0.8, gt=0, le=1, description="Flicker modulation depth of shown images.")
    size_deg: float = Field(
        6.0, gt=0, description="Displayed stimulus size in degrees of visual angle."
    )
    baselines: list[Literal["random", "grating"]] = Field(
        ["random", "grating"], description="Baseline stimuli shown in every round."
    )
    calibration_trials: int = Field(
        30, ge=2, description="Calibration stimuli shown first to fit the readout."
    )
    calibration_stimuli: Literal["probes", "random"] = Field(
        "probes",
        description="probes: oriented band-pass noise with random centre frequency, orientation, "
        "bandwidth and orientation spread (spans the front end's feature space); random: 1/f "
        "noise images.",
    )
    calibration_repeats: int = Field(
        10,
        ge=0,
        description="Calibration stimuli shown a second time (later, in another block): the noise "
        "ceiling of the readout's prediction accuracy.",
    )
    block_size: int = Field(
        3,
        ge=1,
        description="Calibration stimuli per block; a round is one block too. Offline, every "
        "block is a separate simulation (adaptation starts afresh, like a rest break).",
    )
    cv_folds: int = Field(
        5, ge=2, description="Folds of the readout's cross-validation on calibration stimuli."
    )
    report_dir: str = Field(
        "reports/closed_loop", description="Where the round records and plots go."
    )
    model: InSilicoConfig = Field(default_factory=InSilicoConfig)
    optimizer: OptimizerConfig = Field(default_factory=OptimizerConfig)
    measure: MeasureConfig = Field(default_factory=MeasureConfig)
    safety: SafetyConfig = Field(default_factory=SafetyConfig)
    presenter: PresenterConfig = Field(default_factory=PresenterConfig)
