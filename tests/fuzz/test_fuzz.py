"""Fuzzing every reader and the config loader: a read or a BCIError with a message, nothing else.

The default suite runs 2,500 seeded cases (1,600 mutated recordings, 200 of each of the eight
formats the tests write, and 900 mutated or garbled configs) in well under a minute; the
slow test runs 100,000 cases on the real recordings beside the checkout.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np
import pytest

from ._campaign import Outcome, config_cases, mutate, reader_cases
from ._files import WRITERS

logger = logging.getLogger(__name__)

SEED = 20261130  # the default suite's seed (docs/reliability.md)
SLOW_SEED = 1
SLOW_CASES = 100_000


@pytest.fixture(scope="module")
def originals(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[Path]]:
    """One small valid recording per format (seeded), written by the tests."""
    from bci.devices import read_recording

    base = tmp_path_factory.mktemp("fuzz-originals")
    out = {}
    for name, write in WRITERS.items():
        (base / name).mkdir()
        out[name] = write(base / name / "rec", np.random.default_rng(0))
        rec = read_recording(out[name][0])  # the originals themselves read cleanly
        assert rec.signals and all(s.data.size for s in rec.signals), name
        assert sum(f.stat().st_size for f in out[name]) < 20_000, name  # KB-sized
    return out


def _run(cases, outcome: Outcome) -> Outcome:  # noqa: ANN001
    t0 = time.perf_counter()
    for label, fn in cases:
        outcome.add(label, fn)
        if outcome.cases % 5_000 == 0:  # progress of the long campaign
            logger.info(
                "%d cases, %d other exceptions so far", outcome.cases, len(outcome.failures)
            )
    outcome.seconds += time.perf_counter() - t0
    return outcome


def test_mutations_are_seeded_and_varied() -> None:
    data = bytes(range(256)) * 8
    a = [mutate(data, np.random.default_rng([SEED, i])) for i in range(50)]
    b = [mutate(data, np.random.default_rng([SEED, i])) for i in range(50)]
    assert a == b  # a failing case can be replayed from its seed and index
    assert len({len(x) for x in a}) > 20 and sum(x != data for x in a) >= 48


def test_the_harness_flags_a_non_bcierror() -> None:
    from bci import RecordingError

    out = Outcome()
    out.add("ok", lambda: None)
    out.add("clean", lambda: (_ for _ in ()).throw(RecordingError("x.xdf: truncated")))
    out.add("bad", lambda: {}["missing"])
    out.add("mute", lambda: (_ for _ in ()).throw(RecordingError("")))
    assert (out.reads, out.errors) == (1, 2)
    assert [f.split(":")[0] for f in out.failures] == ["bad", "mute"]


def test_readers_survive_1600_mutated_recordings(
    originals: dict[str, list[Path]], tmp_path: Path
) -> None:
    out = _run(reader_cases(originals, SEED, 1600, tmp_path), Outcome())
    logger.info("%s", out.summary())
    assert out.cases == 1600
    assert not out.failures, "\n".join(out.failures[:20])
    assert out.reads > 100 and out.errors > 500  # both outcomes occur: the mutations bite


def test_config_loader_survives_900_generated_configs(tmp_path: Path) -> None:
    out = _run(config_cases(SEED, 900, tmp_path), Outcome())
    logger.info("%s", out.summary())
    assert out.cases == 900
    assert not out.failures, "\n".join(out.failures[:20])
    assert out.reads > 50 and out.errors > 500


def _real_originals(shared_data: Path, work: Path, head: int = 32_000) -> dict[str, list[Path]]:
    """Every real recording, each cut to its first ``head`` bytes (a truncated file is one of
    the cases anyway) so that 100,000 reads fit in the time budget."""
    out = {}
    suffixes = {".xdf", ".edf", ".bdf", ".csv", ".txt", ".fif", ".vhdr"}
    files = sorted(p for p in shared_data.rglob("*") if p.suffix.lower() in suffixes)
    for k, p in enumerate(files):
        if p.name.lower() in ("license.txt", "readme.txt") or "LICENSE" in p.name:
            continue
        d = work / f"r{k}"
        d.mkdir(parents=True)
        with open(p, "rb") as f:
            (d / p.name).write_bytes(f.read(head))
        out[f"{p.parent.name}/{p.name}"] = [d / p.name]
    return out


@pytest.mark.slow
@pytest.mark.timeout(3 * 3600)
def test_readers_and_config_survive_100k_cases_on_real_files(
    shared_data: Path, originals: dict[str, list[Path]], tmp_path: Path
) -> None:
    """100,000 cases (real recordings, the generated ones, and configs), one time budget."""
    budget = 2 * 3600.0
    real = _real_originals(shared_data, tmp_path / "real")
    assert len(real) > 50
    n_config = 10_000
    n_files = SLOW_CASES - n_config
    t_end = time.monotonic() + budget
    out = _run(
        reader_cases({**real, **originals}, SLOW_SEED, n_files, tmp_path / "w", budget), Outcome()
    )
    out = _run(config_cases(SLOW_SEED, n_config, tmp_path / "c"), out)
    logger.info("%s", out.summary())
    assert time.monotonic() < t_end, f"time budget of {budget:g} s exceeded: {out.summary()}"
    assert out.cases == SLOW_CASES, out.summary()
    assert not out.failures, "\n".join(out.failures[:20])
