"""Session configuration: YAML parsed once into frozen, validated pydantic models."""

from __future__ import annotations

from ._base import ConfigModel
from ._calibration import CalibrationConfig
from ._closed_loop import ClosedLoopConfig
from ._load import SCHEMA_PREFIXES, SCHEMAS, load_config, load_yaml, parse_config, schema_for
from ._runtime import (
    BudgetConfig,
    DecoderConfig,
    LSLOutputConfig,
    MQTTOutputConfig,
    OutputsConfig,
    PostprocessConfig,
    PreprocessConfig,
    QualityConfig,
    RecordingConfig,
    ScoringConfig,
    WindowConfig,
)
from ._session import SessionConfig
from ._shipped import shipped_config, shipped_configs
from ._sources import (
    BrainFlowSourceConfig,
    LSLSourceConfig,
    ReplaySourceConfig,
    SimulatedFaultsConfig,
    SimulatedSourceConfig,
    SourceConfig,
)

__all__ = [
    "SCHEMAS",
    "SCHEMA_PREFIXES",
    "schema_for",
    "BrainFlowSourceConfig",
    "BudgetConfig",
    "CalibrationConfig",
    "ClosedLoopConfig",
    "ConfigModel",
    "DecoderConfig",
    "LSLOutputConfig",
    "LSLSourceConfig",
    "MQTTOutputConfig",
    "OutputsConfig",
    "PostprocessConfig",
    "PreprocessConfig",
    "QualityConfig",
    "RecordingConfig",
    "ReplaySourceConfig",
    "ScoringConfig",
    "SessionConfig",
    "SimulatedFaultsConfig",
    "SimulatedSourceConfig",
    "SourceConfig",
    "WindowConfig",
    "load_config",
    "load_yaml",
    "parse_config",
    "shipped_config",
    "shipped_configs",
]
