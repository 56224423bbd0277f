"""Fixtures for the stream tests."""

from __future__ import annotations

import pytest

from bci import StreamSpec


@pytest.fixture
def counter_spec(uid: str) -> StreamSpec:
    """A 4-channel 250 Hz stream whose first channel is a sample counter."""
    return StreamSpec(
        name=f"test-counter-{uid}",
        stype="EEG",
        source_id=f"src-{uid}",
        sfreq=250.0,
        ch_names=("counter", "C3", "Cz", "C4"),
        ch_types=("misc", "eeg", "eeg", "eeg"),
        units=("", "microvolts", "microvolts", "microvolts"),
        manufacturer="bci-runtime tests",
    )
