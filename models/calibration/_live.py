"""Calibration data without a headset: the simulated participant runs the paradigm, we record it.

``bci calibrate --live`` uses this when no presenter/headset is wired in: the headless
paradigm schedule (docs/design.md#simulated) drives ``bci.devices.simulated.simulate`` (virtual time, so a
2-minute paradigm takes seconds), the result is written to XDF with ``bci._recorder.RecorderXDF``
exactly as a live session would be, and that file is calibrated like any other recording.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

logger = logging.getLogger(__name__)


def record_simulated(
    paradigm: str, path: str | Path, *, duration: float = 120.0, seed: int = 0
) -> Path:
    """Run ``paradigm`` headless against the simulated participant and record it to XDF.

    Parameters
    ----------
    paradigm : str
        The simulated participant's paradigm (``ssvep``, ``p300``, ``n170``, ``gestures``).
    path : path-like
        Output ``.xdf`` file.
    duration : float
        Seconds of paradigm.
    seed : int
        Participant seed.

    Returns
    -------
    Path
        The recording.
    """
    from bci import StreamSpec
    from bci._recorder import RecorderXDF
    from bci.config import SimulatedSourceConfig
    from bci.devices.simulated import simulate

    mode = "emg" if paradigm == "gestures" else "eeg"
    rec, _truth = simulate(SimulatedSourceConfig(paradigm=paradigm, mode=mode, seed=seed), duration)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    rx = RecorderXDF(path)
    try:
        for sig in rec.signals:
            sid = rx.add_stream(sig.spec)
            rx.write(sid, sig.data, sig.timestamps)
        if rec.markers:
            spec = StreamSpec(
                "bci-markers", "Markers", "bci-markers-sim", 0.0, ("marker",), dtype="string"
            )
            mid = rx.add_stream(spec)
            rx.write(
                mid, [m.value for m in rec.markers], np.array([m.timestamp for m in rec.markers])
            )
    finally:
        rx.close()
    logger.info(
        "recorded %.0f s of simulated %s (%d markers) to %s",
        duration,
        paradigm,
        len(rec.markers),
        path,
    )
    return path
