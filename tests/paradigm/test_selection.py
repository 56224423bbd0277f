"""Online selections: flash evidence, dynamic-stopping posterior, accuracy and ITR."""

from __future__ import annotations

import math

import numpy as np
import pytest

from bci.stimuli._paradigm import (
    flash_posterior,
    itr_bits_per_min,
    pair_decisions,
    selection_summary,
)


def _decision(p_target: float) -> np.ndarray:
    return np.array([1 - p_target, p_target, -1.0])


def test_decisions_pair_with_their_flash_onsets_even_out_of_order_arrival() -> None:
    onsets = [(10.0 + 0.25 * j, j % 4) for j in range(8)]
    offset = 0.796
    evidence: list = []
    first = [(o + offset, _decision(0.9 if f == 2 else 0.1)) for o, f in onsets[:3]]
    left, learnt = pair_decisions(first, onsets[:3], evidence, math.nan, 1)
    assert left == [] and learnt == pytest.approx(offset)
    # a stale decision from an earlier trial does not match; a decision before any onset waits
    rest = [(o + offset, _decision(0.9 if f == 2 else 0.1)) for o, f in onsets[3:]]
    left, _ = pair_decisions([(5.0, _decision(0.5)), *rest[::-1]], onsets, evidence, learnt, 1)
    assert [e[1] for e in sorted(evidence, key=lambda e: e[3])] == [f for _, f in onsets]
    assert left == [(5.0, left[0][1])]


def test_posterior_grows_with_repetitions_and_picks_the_attended_box() -> None:
    rng = np.random.default_rng(0)
    evidence = []
    post = []
    for rep in range(6):
        for f in rng.permutation(4):
            p = rng.uniform(0.55, 0.8) if f == 1 else rng.uniform(0.2, 0.45)
            evidence.append((0.0, int(f), p, float(rep * 4 + f)))
        post.append(flash_posterior(evidence, 4))
    assert all(int(np.argmax(q)) == 1 for q in post)
    assert post[-1][1] > post[0][1] > 0.25
    assert post[-1].sum() == pytest.approx(1.0)


def test_itr_matches_wolpaw() -> None:
    assert itr_bits_per_min(1.0, 4, 6.0) == pytest.approx(20.0)
    assert itr_bits_per_min(0.25, 4, 6.0) == 0.0
    b = 2 + 0.9 * math.log2(0.9) + 0.1 * math.log2(0.1 / 3)
    assert itr_bits_per_min(0.9, 4, 5.0) == pytest.approx(b * 12)


def test_selection_summary_scores_against_the_cued_targets() -> None:
    logs = [
        {"label": "A", "selected_index": 0, "onset": 1.0, "repetitions": 3},
        {"label": "B", "selected_index": 1, "onset": 7.0, "repetitions": 5},
        {"label": "C", "selected_index": 0, "onset": 13.0, "repetitions": 8},
        {"label": "D", "selected_index": None, "onset": 19.0},
    ]
    out = selection_summary(
        {"logs": logs, "trials": 4, "t_start": 0.0, "t_end": 24.0}, ["A", "B", "C", "D"]
    )
    assert (out["selections"], out["correct"]) == (3, 2)
    assert out["accuracy"] == pytest.approx(2 / 3)
    assert out["seconds_per_selection"] == pytest.approx(6.0)
    assert out["mean_repetitions"] == pytest.approx(16 / 3)
    assert out["itr_bits_per_min"] == pytest.approx(itr_bits_per_min(2 / 3, 4, 6.0))
