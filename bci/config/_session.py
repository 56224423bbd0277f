"""The top-level session configuration."""

from __future__ import annotations

from pydantic import Field

from ._base import ConfigModel
from ._closed_loop import ClosedLoopConfig
from ._paradigm import SessionParadigmConfig
from ._runtime import (
    BudgetConfig,
    DecoderConfig,
    OutputsConfig,
    PostprocessConfig,
    PreprocessConfig,
    QualityConfig,
    RecordingConfig,
    ScoringConfig,
    WindowConfig,
)
from ._sources import SimulatedSourceConfig, SourceConfig


class SessionConfig(ConfigModel):
    """A whole session: sources -> preprocess -> window -> decoder -> postprocess -> outputs."""

    name: str = Field(
        "default",
        pattern=r"^[A-Za-z0-9_.-]+$",
        description="Session name (MQTT topics, file names).",
    )
    duration: float | None = Field(
        None, gt=0, description="Stop after N seconds; null runs until Ctrl-C."
    )
    sources: list[SourceConfig] = Field(
        default_factory=lambda: [SimulatedSourceConfig()],
        min_length=1,
        description="Signal sources; the first one is decoded.",
    )
    preprocess: PreprocessConfig = Field(default_factory=PreprocessConfig)
    window: WindowConfig = Field(default_factory=WindowConfig)
    decoder: DecoderConfig = Field(default_factory=DecoderConfig)
    postprocess: PostprocessConfig = Field(default_factory=PostprocessConfig)
    budgets: BudgetConfig = Field(default_factory=BudgetConfig)
    realtime_priority: int | None = Field(
        10,
        ge=1,
        le=99,
        description="SCHED_FIFO priority of the hot path and of the threads receiving the "
        "decoded stream (Linux; needs root, CAP_SYS_NICE or ulimit -r, else ordinary "
        "scheduling and the log says so); null: ordinary scheduling.",
    )
    outputs: OutputsConfig = Field(default_factory=OutputsConfig)
    recording: RecordingConfig = Field(default_factory=RecordingConfig)
    paradigm: SessionParadigmConfig | None = Field(
        None,
        description="A paradigm shown while decoding, with the decoded result as feedback "
        "(selections, loop latency); null shows nothing.",
    )
    scoring: ScoringConfig = Field(default_factory=ScoringConfig)
    quality: QualityConfig = Field(default_factory=QualityConfig)
    closed_loop: ClosedLoopConfig | None = Field(
        None, description="Closed-loop stimulus optimization; null for a decode-only session."
    )
