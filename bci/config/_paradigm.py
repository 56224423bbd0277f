"""Paradigms as data: what the presenter shows in a calibration or online BCI session.

One YAML file per paradigm (``configs/paradigm_<name>.yaml``): the targets (label, flicker
frequency and phase, position), the trial structure and durations, instruction and break
screens, the display checks and the streams. Adding a paradigm is adding a file; the
presenter (``bci.stimuli``) runs every ``task`` with the same timing machinery.

Tasks (``task:``):

- ``ssvep``: every target flickers at once (frame-locked to the measured refresh rate);
  each trial cues one target, then all flicker for ``timing.stimulus`` seconds.
- ``p300``: every target is a box that flashes one at a time in random order;
  ``timing.repetitions`` rounds (each target once per round) make one selection.
- ``mi``: motor imagery cues (an arrow or a word per target), fixation, rest.
- ``gestures``: EMG gesture cues (text), hold, rest.
- ``eyes``: eyes open / eyes closed rest blocks.
- ``images``: one image per trial from the cued target's folder (``images``/``<folder>``),
  e.g. faces vs houses (N170); fixation cross between images, no cue.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from ._base import ConfigModel
from ._closed_loop import PresenterConfig, SafetyConfig

ParadigmTask = Literal["ssvep", "p300", "mi", "gestures", "eyes", "images"]


class TargetConfig(ConfigModel):
    """One target (or one cued class) of a paradigm."""

    label: str = Field(
        ...,
        pattern=r"^[A-Za-z0-9_.+-]+$",
        description="Class name: the onset marker value and the decoder's class.",
    )
    frequency: float | None = Field(
        None, gt=0, description="SSVEP: flicker frequency in Hz (below half the refresh rate)."
    )
    phase: float = Field(0.0, description="SSVEP: flicker phase in radians at trial onset.")
    position_deg: tuple[float, float] | None = Field(
        None,
        description="Centre (x, y) in degrees of visual angle from the screen centre; "
        "null places the targets evenly on a circle of layout_radius_deg.",
    )
    text: str | None = Field(
        None, description="Cue text (MI arrow, gesture name); null shows the label."
    )
    gesture: int | None = Field(
        None, ge=0, description="Gestures: the armband gesture index this cue asks for."
    )
    folder: str | None = Field(
        None,
        pattern=r"^[^/\\]+$",
        description="Images: subfolder of the paradigm's images folder holding this "
        "target's pictures; null takes the label.",
    )


class TimingConfig(ConfigModel):
    """Durations of one trial, in seconds."""

    cue: float = Field(1.0, ge=0, description="Cue shown before the stimulus (target marked).")
    stimulus: float = Field(
        4.0, gt=0, description="Flicker / imagery / gesture hold duration (ssvep, mi, gestures)."
    )
    rest: float = Field(1.0, ge=0, description="Blank or fixation after each trial.")
    jitter: float = Field(
        0.0, ge=0, description="Uniform +- jitter added to every rest (ISI jitter)."
    )
    flash: float = Field(0.1, gt=0, description="P300: how long one flash lasts.")
    soa: float = Field(
        0.25, gt=0, description="P300: stimulus onset asynchrony between two flashes."
    )
    repetitions: int = Field(
        8, ge=1, le=50, description="P300: rounds per selection (each target flashes once)."
    )
    feedback: float = Field(
        1.0, ge=0, description="How long the decoded result stays on screen (online runs)."
    )


class SelectionConfig(ConfigModel):
    """How online decisions become one selection per trial (runs with feedback)."""

    threshold: float = Field(
        0.95,
        gt=0,
        le=1,
        description="P300: stop flashing once one target's posterior reaches this.",
    )
    min_repetitions: int = Field(
        2, ge=1, description="P300: rounds always shown before dynamic stopping may stop."
    )
    ssvep_after: float = Field(
        2.5,
        ge=0,
        description="SSVEP: decisions whose window ends this long after onset may select "
        "(the first that passed threshold and dwell ends the trial); else, at the trial's "
        "end, the class with the highest mean probability over them.",
    )


class DisplayCheckConfig(ConfigModel):
    """How the presenter checks the display before it shows anything."""

    refresh_hz: float = Field(
        60.0, gt=0, description="Expected refresh rate in Hz; the presenter measures the real one."
    )
    tolerance: float = Field(
        0.01,
        gt=0,
        lt=0.5,
        description="Largest relative difference between measured and expected refresh.",
    )
    allow_mismatch: bool = Field(
        False,
        description="Run anyway (warning) when the measured refresh is off by more than "
        "tolerance; flicker is then computed from the measured rate.",
    )
    measure_frames: int = Field(
        120, ge=20, le=2000, description="Flips timed at start to measure the refresh rate."
    )


class ParadigmConfig(ConfigModel):
    """A stimulus paradigm: targets, trial structure, screens, display checks, streams."""

    name: str = Field(
        ..., pattern=r"^[a-z0-9_-]+$", description="Paradigm name (file names, report)."
    )
    task: ParadigmTask = Field(
        ..., description="ssvep | p300 | mi | gestures | eyes | images: how a trial is drawn."
    )
    targets: list[TargetConfig] = Field(
        ..., min_length=2, description="Targets or cued classes, in the decoder's class order."
    )
    trials: int = Field(
        40, ge=1, description="Cued trials (selections for ssvep and p300) in one run."
    )
    seed: int = Field(0, description="Seed of the trial order, flash order and jitter.")
    timing: TimingConfig = Field(default_factory=TimingConfig)
    size_deg: float = Field(
        3.0,
        gt=0,
        description="Target size in degrees: side of the box, text height, or the longer "
        "side of an image (aspect ratio kept).",
    )
    images: str | None = Field(
        None,
        description="Images: folder with one subfolder of pictures (png, jpg, bmp, gif, "
        "tif) per target (the target's folder, or its label); relative paths are from the "
        "working directory. bci calibrate --live --images FOLDER sets it.",
    )
    layout_radius_deg: float = Field(
        6.0, ge=0, description="Radius of the circle targets sit on when position_deg is null."
    )
    depth: float = Field(
        0.8,
        gt=0,
        le=1,
        description="SSVEP: flicker modulation depth (the safety limiter may lower it).",
    )
    instructions: str = Field(
        "Look at the marked target. Press space to start.",
        description="Instruction screen shown before the first trial.",
    )
    instruction_seconds: float = Field(
        3.0,
        ge=0,
        description="Instruction/break screens last this long, or until continue_key.",
    )
    break_every: int = Field(0, ge=0, description="A break screen every N trials (0: none).")
    break_text: str = Field(
        "Short break. Press space to continue.", description="Text of the break screen."
    )
    continue_key: str = Field("space", description="Key that ends an instruction or break.")
    pause_key: str = Field("p", description="Key that pauses and resumes between trials.")
    calibration: str | None = Field(
        None,
        description="Calibration config (configs/calibrate_<name>.yaml or a path) that "
        "bci calibrate --live trains with after recording this paradigm.",
    )
    frame_stream: str = Field(
        "bci-frames",
        description="LSL stream of the per-flip frame log (flip time, each target's luminance).",
    )
    selection: SelectionConfig = Field(default_factory=SelectionConfig)
    display: DisplayCheckConfig = Field(default_factory=DisplayCheckConfig)
    window: PresenterConfig = Field(default_factory=PresenterConfig)
    safety: SafetyConfig = Field(default_factory=SafetyConfig)

    @model_validator(mode="after")
    def _check(self) -> ParadigmConfig:
        labels = [t.label for t in self.targets]
        if len(set(labels)) != len(labels):
            raise ValueError(f"targets: labels must be unique, got {labels}")
        if self.task == "ssvep":
            missing = [t.label for t in self.targets if t.frequency is None]
            if missing:
                raise ValueError(f"ssvep: targets {missing} need a frequency (Hz)")
            nyq = self.display.refresh_hz / 2
            fast = [t.label for t in self.targets if t.frequency and t.frequency >= nyq]
            if fast:
                raise ValueError(
                    f"ssvep: targets {fast} flicker at or above half the refresh rate "
                    f"({nyq:g} Hz); lower their frequency"
                )
        if self.task == "gestures":
            missing = [t.label for t in self.targets if t.gesture is None]
            if missing:
                raise ValueError(f"gestures: targets {missing} need a gesture index")
        if self.task == "images":
            folders = [t.folder or t.label for t in self.targets]
            if len(set(folders)) != len(folders):
                raise ValueError(f"images: target folders must differ, got {folders}")
        if self.task == "p300" and self.timing.flash >= self.timing.soa:
            raise ValueError("p300: timing.flash must be shorter than timing.soa")
        return self

    @property
    def labels(self) -> list[str]:
        """Target labels in order."""
        return [t.label for t in self.targets]


class SessionParadigmConfig(ConfigModel):
    """A paradigm shown during a decoding session, with the decoded result as feedback."""

    name: str = Field(
        ..., description="Shipped paradigm (ssvep, p300, mi, gestures, eyes, n170) or a YAML path."
    )
    trials: int | None = Field(
        None, ge=1, description="Cued trials (selections); null takes the paradigm's."
    )
    screened_reason: str | None = Field(
        None,
        description="SSVEP opt-in for this session: who screened the participant for "
        "photosensitive epilepsy and how.",
    )
    images: str | None = Field(
        None,
        description="Images paradigms (n170): picture folder with one subfolder per target; "
        "null takes the paradigm's 'images'.",
    )
    pace_hz: float | None = Field(
        None,
        gt=0,
        description="Pace flips by the clock at this rate whatever the display (emulates a "
        "display of that rate; for testing the refresh check).",
    )
