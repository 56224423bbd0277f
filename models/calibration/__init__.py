"""Per-user calibration: epoching, classical baselines, foundation-model strategies, report.

Entry point: :func:`calibrate` (``bci calibrate``). Importing this package imports torch.
"""

from __future__ import annotations

from bci._scoring import itr_bits_per_min

from ._baselines import DEFAULT_BASELINES, FBCCA, TRCA, TDFeatures, make_baseline
from ._calibrate import CalibrationResult, calibrate
from ._epochs import CalibrationDataError, Trials, load_trials
from ._evaluate import make_folds
from ._features import FeatureDecoder, FeatureStrategy

__all__ = [
    "DEFAULT_BASELINES",
    "FBCCA",
    "TRCA",
    "CalibrationDataError",
    "CalibrationResult",
    "FeatureDecoder",
    "FeatureStrategy",
    "TDFeatures",
    "Trials",
    "calibrate",
    "itr_bits_per_min",
    "load_trials",
    "make_baseline",
    "make_folds",
]
