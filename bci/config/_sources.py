"""Where samples come from: the simulated participant, BrainFlow boards, LSL, files."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from ._base import ConfigModel


class SimulatedFaultsConfig(ConfigModel):
    """Electrode faults injected into the simulated participant's channels (for testing checks)."""

    flat: list[str] = Field(
        default_factory=list, description="Channels that read a constant (a dead amplifier input)."
    )
    railed: list[str] = Field(
        default_factory=list, description="Channels stuck at the amplifier rail (+187500 uV)."
    )
    line_noise: list[str] = Field(
        default_factory=list,
        description="Channels dominated by mains noise (a 60 uV sine at line_freq, or 50 Hz).",
    )


class SimulatedSourceConfig(ConfigModel):
    """The simulated participant (a virtual headset on LSL); see ``bci.devices.simulated``.

    ``mode: emg`` defaults to 8 channels at 1000 Hz; ``mode: eeg`` to the 16-channel
    montage at 250 Hz. Ranges: EEG 8-32 channels at 250-1000 Hz, EMG 8-16 channels at
    1000-2000 Hz.
    """

    kind: Literal["simulated"] = "simulated"
    mode: Literal["eeg", "emg"] = Field("eeg", description="EEG headset or EMG armband.")
    n_channels: int = Field(16, ge=1, le=256, description="Number of channels.")
    sfreq: float = Field(250.0, gt=0, description="Sampling rate in Hz.")
    seed: int = Field(0, description="Participant seed: same seed, same participant and samples.")
    name: str = Field("bci-sim", description="LSL stream name of the signal outlet.")
    ch_names: tuple[str, ...] | None = Field(
        None, description="Explicit EEG montage (10-10 names); overrides n_channels."
    )
    paradigm: Literal["auto", "ssvep", "p300", "n170", "gestures", "none"] = Field(
        "auto",
        description="Headless stimulus schedule published on the marker/description streams "
        "(auto: ssvep for eeg, gestures for emg; none when a presenter shows the stimuli).",
    )
    snr: float = Field(1.0, ge=0, description="Scale of stimulus-evoked responses (1 = realistic).")
    artifacts: float = Field(1.0, ge=0, description="Scale of artifact rates (0 = none).")
    line_freq: float = Field(50.0, ge=0, description="Mains frequency in Hz (0 = no line noise).")
    markers: str = Field("bci-markers", description="Marker stream the participant listens to.")
    stimuli: str = Field("bci-stimuli", description="Stimulus-description stream it listens to.")
    truth: str = Field("bci-sim-truth", description="Ground-truth stream it publishes.")
    faults: SimulatedFaultsConfig = Field(
        default_factory=SimulatedFaultsConfig,
        description="Injected electrode faults (flat, railed, mains-dominated channels).",
    )

    @model_validator(mode="before")
    @classmethod
    def _mode_defaults(cls, data: object) -> object:
        if isinstance(data, dict) and data.get("mode") == "emg":
            data = {"sfreq": 1000.0, "n_channels": 8, **data}
        return data

    @model_validator(mode="after")
    def _check_ranges(self) -> SimulatedSourceConfig:
        lo_ch, hi_ch, lo_f, hi_f = (
            (8, 32, 250.0, 1000.0) if self.mode == "eeg" else (8, 16, 1000.0, 2000.0)
        )
        n = len(self.ch_names) if self.ch_names else self.n_channels
        if not lo_ch <= n <= hi_ch:
            raise ValueError(f"mode {self.mode}: {n} channels; use {lo_ch} to {hi_ch}")
        if not lo_f <= self.sfreq <= hi_f:
            raise ValueError(
                f"mode {self.mode}: sfreq {self.sfreq} Hz; use {lo_f:g} to {hi_f:g} Hz"
            )
        return self


class BrainFlowSourceConfig(ConfigModel):
    """A BrainFlow board, by name (``synthetic``, ``cyton``, ``muse_2``...) or numeric id."""

    kind: Literal["brainflow"] = "brainflow"
    board: str | int = Field("synthetic", description="BrainFlow board name or BoardIds value.")
    params: dict[str, str] = Field(
        default_factory=dict,
        description="BrainFlowInputParams fields, e.g. serial_port, mac_address, file.",
    )
    name: str | None = Field(None, description="LSL stream name (default: the board's name).")


class LSLSourceConfig(ConfigModel):
    """An LSL stream already on the network, resolved by name, type and/or source_id."""

    kind: Literal["lsl"] = "lsl"
    name: str | None = Field(None, description="LSL stream name to resolve.")
    stype: str | None = Field(None, alias="type", description="LSL stream type to resolve.")
    source_id: str | None = Field(None, description="LSL source_id to resolve.")
    timeout: float = Field(5.0, gt=0, description="Seconds to wait for the stream to appear.")


class ReplaySourceConfig(ConfigModel):
    """A recording replayed as live LSL streams (XDF, EDF/BDF, FIF, BrainVision, CSV)."""

    kind: Literal["replay"] = "replay"
    path: str = Field(..., description="Recording to replay.")
    speed: float = Field(1.0, gt=0, description="Replay speed; 1.0 is real time.")
    loop: bool = Field(False, description="Start again at the end of the file.")
    sfreq: float | None = Field(None, gt=0, description="Sampling rate for files that lack one.")


SourceConfig = Annotated[
    SimulatedSourceConfig | BrainFlowSourceConfig | LSLSourceConfig | ReplaySourceConfig,
    Field(discriminator="kind"),
]
