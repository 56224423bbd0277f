"""Where samples come from: the simulated participant, BrainFlow boards, LSL, files."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from ._base import ConfigModel


class SimulatedSourceConfig(ConfigModel):
    """The simulated participant (a virtual headset on LSL); see ``devices.simulated``."""

    kind: Literal["simulated"] = "simulated"
    mode: Literal["eeg", "emg"] = Field("eeg", description="EEG headset or EMG armband.")
    n_channels: int = Field(16, ge=1, le=256, description="Number of channels.")
    sfreq: float = Field(250.0, gt=0, description="Sampling rate in Hz.")
    seed: int = Field(0, description="Participant seed: same seed, same participant and samples.")
    name: str = Field("bci-sim", description="LSL stream name of the signal outlet.")


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
