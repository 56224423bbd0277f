"""Shared set-up of the stimulus tests: a live closed-loop session on the simulated participant."""

from __future__ import annotations

import pytest

from bci.config import SessionConfig

OPT_IN = {"screened_participant": True, "screened_reason": "simulated participant (no human)"}


@pytest.fixture
def live_loop_config(tmp_path, uid):
    """Build a small live closed-loop session on this test's own LSL streams.

    Keys given to the factory replace those of ``closed_loop`` (one round, two calibration
    trials of 1 s, 32-pixel images, a 400 x 300 window).
    """

    def make(**closed_loop) -> SessionConfig:
        presenter = {
            "size": [400, 300],
            "marker_stream": f"bci-markers-{uid}",
            "description_stream": f"bci-stimuli-{uid}",
            **closed_loop.pop("presenter", {}),
        }
        loop = {
            "mode": "live",
            "rounds": 1,
            "calibration_trials": 2,
            "trial_duration": 1.0,
            "report_dir": str(tmp_path),
            "safety": OPT_IN,
            "model": {"image_size": 32},
            "presenter": presenter,
            **closed_loop,
        }
        source = {
            "kind": "simulated",
            "seed": 1,
            "paradigm": "none",
            "name": f"bci-sim-{uid}",
            "truth": f"bci-sim-truth-{uid}",
        }
        return SessionConfig(name="cllive", sources=[source], closed_loop=loop)

    return make
