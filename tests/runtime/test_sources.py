"""The source registry: one driver per ``sources[].kind``, used by the session wiring."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from bci import ConfigError
from bci._sources import (
    SessionSources,
    StartedSource,
    register_source,
    source_driver,
    source_kinds,
)
from bci._types import StreamSpec
from bci.devices import OutletLSL


def test_builtin_kinds_are_registered() -> None:
    assert {"simulated", "brainflow", "lsl", "replay"} <= set(source_kinds())


def test_unknown_kind_is_a_config_error_naming_the_key() -> None:
    with pytest.raises(ConfigError, match=r"sources\[\]\.kind='nope'"):
        source_driver("nope")


@dataclass
class _HeadsetConfig:
    kind: str
    name: str


class _Producer:
    def __init__(self, name: str) -> None:
        spec = StreamSpec(
            name=name, stype="EEG", source_id=name, sfreq=100.0, ch_names=("C3", "C4")
        )
        self.outlet = OutletLSL(spec)
        self.stopped = False

    def stop(self) -> None:
        self.stopped = True
        self.outlet = None


def test_a_registered_driver_feeds_the_session_inlets(uid: str) -> None:
    """A new headset driver is one callable and one registration; the session pulls it."""
    made: list[_Producer] = []

    def driver(config: _HeadsetConfig, index: int) -> StartedSource:
        made.append(_Producer(config.name))
        return StartedSource((config.name,), producer=made[-1])

    register_source(f"headset-{uid}", driver)
    sources = SessionSources()
    first, aux = sources.start([_HeadsetConfig(f"headset-{uid}", f"eeg-{uid}")])
    try:
        assert aux == []
        first.connect()
        assert first.spec.name == f"eeg-{uid}"
        assert first.spec.ch_names == ("C3", "C4")
        for _ in range(50):
            made[0].outlet.push(np.ones((2, 10), np.float32))
            chunk = first.pull(timeout=0.1)
            if chunk is not None and chunk.data.size:
                break
        assert chunk is not None and np.allclose(chunk.data, 1.0)
        first.disconnect()
    finally:
        sources.stop()
    assert made[0].stopped
