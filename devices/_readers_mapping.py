"""Column layout of text recordings (CSV/TXT), as a small validated config.

A layout says which column holds time, which hold channels, which hold markers or
per-sample labels. Presets cover the layouts of common public data sets
(eeg-notebooks Muse CSV, Myo txt, BrainFlow CSV); ``configs/replay_*.yaml`` are
examples that a user copies for their own files.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError

from bci._errors import ConfigError
from bci.config._base import ConfigModel

Column = str | int


class CSVMapping(ConfigModel):
    """How to turn a delimited text file into one signal stream plus markers."""

    layout: Literal["auto", "muse", "myo", "brainflow", "columns"] = Field(
        "auto", description="Preset; 'columns' uses the fields below as given, 'auto' sniffs."
    )
    delimiter: str | None = Field(None, description="Column separator; None sniffs ',', tab, ';'.")
    header: bool | None = Field(None, description="First line holds column names; None sniffs.")
    time_column: Column | None = Field(
        None, description="Column of timestamps in seconds; None makes them index / sfreq."
    )
    time_scale: float = Field(
        1.0, gt=0, description="Multiply the time column by this (ms: 0.001)."
    )
    channels: list[Column] | None = Field(
        None, description="Signal columns (names or 0-based indices); None: every other column."
    )
    ch_names: list[str] | None = Field(None, description="Labels for the signal columns.")
    ch_type: str = Field("eeg", description="Channel type of the signal columns (eeg, emg...).")
    stype: str = Field("EEG", description="LSL stream type of the signal.")
    unit: str = Field("microvolts", description="Unit of the signal columns.")
    marker_columns: list[Column] = Field(
        default_factory=list, description="Event columns: a non-zero value marks an onset."
    )
    label_column: Column | None = Field(
        None, description="Per-sample label column: every change of label becomes a marker."
    )
    sfreq: float | None = Field(None, gt=0, description="Sampling rate; None infers it from time.")
    name: str | None = Field(None, description="Stream name (default: the file name).")
    board: str | int | None = Field(
        None, description="BrainFlow board (name or id) for BrainFlow CSV files."
    )


PRESETS: dict[str, dict] = {
    "muse": {
        "layout": "muse",
        "delimiter": ",",
        "header": True,
        "time_column": "timestamps",
        "channels": ["TP9", "AF7", "AF8", "TP10", "Right AUX"],
        "marker_columns": ["Marker0", "Marker"],
        "stype": "EEG",
        "ch_type": "eeg",
        "unit": "microvolts",
        "name": "Muse",
    },
    "myo": {
        "layout": "myo",
        "delimiter": ",",
        "header": False,
        "channels": [0, 1, 2, 3, 4, 5, 6, 7],
        "ch_names": [f"emg{k}" for k in range(1, 9)],
        "label_column": 8,
        "sfreq": 200.0,
        "stype": "EMG",
        "ch_type": "emg",
        "unit": "",
        "name": "Myo",
    },
    "brainflow": {"layout": "brainflow", "delimiter": "\t", "header": False},
}


def load_mapping(mapping: CSVMapping | dict | str | os.PathLike | None) -> CSVMapping | None:
    """A :class:`CSVMapping` from a model, a dict, a YAML file or a preset name."""
    if mapping is None or isinstance(mapping, CSVMapping):
        return mapping
    if isinstance(mapping, str) and mapping in PRESETS:
        return CSVMapping(**PRESETS[mapping])
    if isinstance(mapping, str | os.PathLike):
        import yaml

        p = Path(mapping)
        try:
            data = yaml.safe_load(p.read_text())
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigError(f"{p}: cannot read the CSV mapping ({exc}).") from exc
        mapping = data.get("mapping", data) if isinstance(data, dict) else data
    if not isinstance(mapping, dict):
        raise ConfigError(f"A CSV mapping must be a mapping of keys, got {type(mapping).__name__}.")
    preset = PRESETS.get(str(mapping.get("layout", "")), {})
    try:
        return CSVMapping(**{**preset, **mapping})
    except ValidationError as exc:
        problems = [(".".join(map(str, e["loc"])), e.get("input"), e["msg"]) for e in exc.errors()]
        raise ConfigError(f"Invalid CSV mapping: {exc}", problems) from exc
