"""The fuzz campaign: seeded mutations of valid files and configs, and the one rule they obey.

Every case must end in a successful read or a :class:`bci.BCIError` whose message is not
empty; any other exception is a failure, reported with its seed and case index so that it
can be replayed exactly (``mutate(data, np.random.default_rng([seed, index]))``).
"""

from __future__ import annotations

import copy
import shutil
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bci import BCIError

NASTY_TOKENS = (b"nan", b"inf", b"-", b"", b"1e400", b"-0", b"\x00", b"\xff\xfe", b",,,", b"\t")


def mutate(data: bytes, rng: np.random.Generator) -> bytes:
    """One random corruption of ``data``: truncate, flip bits, overwrite, splice, or garble."""
    n = len(data)
    kind = int(rng.integers(0, 8))
    if kind == 0 or n == 0:  # random bytes of a random length (empty included)
        return rng.bytes(int(rng.integers(0, 2048)))
    if kind == 1:  # truncated anywhere
        return data[: int(rng.integers(0, n))]
    if kind == 2:  # a few bits flipped
        buf = bytearray(data)
        for _ in range(int(rng.integers(1, 17))):
            i = int(rng.integers(0, n))
            buf[i] ^= 1 << int(rng.integers(0, 8))
        return bytes(buf)
    if kind == 3:  # a run overwritten with random, zero or 0xFF bytes
        i = int(rng.integers(0, n))
        k = int(rng.integers(1, min(64, n - i) + 1))
        fill = [rng.bytes(k), b"\x00" * k, b"\xff" * k][int(rng.integers(0, 3))]
        return data[:i] + fill + data[i + k :]
    if kind == 4:  # a region duplicated or deleted
        i, j = sorted(int(x) for x in rng.integers(0, n, size=2))
        return data[:j] + data[i:j] + data[j:] if rng.random() < 0.5 else data[:i] + data[j:]
    if kind == 5:  # the header (first 300 bytes) bit-flipped: where parsers trust numbers
        buf = bytearray(data)
        for _ in range(int(rng.integers(1, 5))):
            i = int(rng.integers(0, min(n, 300)))
            buf[i] ^= 1 << int(rng.integers(0, 8))
        return bytes(buf)
    if kind == 6:  # a numeric or text token replaced by a nasty one
        seps = [i for i, c in enumerate(data[:4096]) if c in b",\t\n= "]
        if len(seps) < 2:
            return data[: n // 2]
        a = int(rng.integers(0, len(seps) - 1))
        i, j = seps[a] + 1, seps[a + 1]
        return data[:i] + NASTY_TOKENS[int(rng.integers(0, len(NASTY_TOKENS)))] + data[j:]
    # kind 7: the tail cut and random bytes appended (a crash mid-write, then garbage)
    i = int(rng.integers(n // 2, n))
    return data[:i] + rng.bytes(int(rng.integers(1, 64)))


@dataclass
class Outcome:
    """What a campaign saw."""

    cases: int = 0
    reads: int = 0
    errors: int = 0  # BCIError with a message
    failures: list[str] = field(default_factory=list)  # anything else
    by_error: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    def add(self, label: str, fn: Callable[[], object]) -> None:
        self.cases += 1
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # library chatter about odd files is not a fault
                fn()
            self.reads += 1
        except BCIError as exc:
            if not str(exc).strip():
                self.failures.append(f"{label}: {type(exc).__name__} without a message")
            self.errors += 1
            self.by_error[type(exc).__name__] = self.by_error.get(type(exc).__name__, 0) + 1
        except Exception as exc:  # noqa: BLE001 - the point: anything else is a finding
            self.failures.append(f"{label}: {type(exc).__name__}: {str(exc)[:200]}")

    def summary(self) -> str:
        return (
            f"{self.cases} cases in {self.seconds:.1f} s: {self.reads} read, {self.errors} "
            f"BCIError {self.by_error}, {len(self.failures)} other exceptions"
        )


def reader_cases(
    originals: dict[str, list[Path]], seed: int, n: int, work: Path, budget_s: float | None = None
) -> Iterator[tuple[str, Callable[[], object]]]:
    """``n`` mutated copies of the original files, cycling through them; each read once.

    ``originals`` maps a label to the files of one recording (the first is read; for a
    BrainVision triplet one of the three is mutated, the others copied).
    """
    from bci.devices import read_recording

    labels = sorted(originals)
    blobs = {k: [f.read_bytes() for f in originals[k]] for k in labels}
    t_end = time.monotonic() + budget_s if budget_s else float("inf")
    for i in range(n):
        if time.monotonic() > t_end:
            return
        label = labels[i % len(labels)]
        rng = np.random.default_rng([seed, i])
        files = originals[label]
        target = int(rng.integers(0, len(files)))
        case_dir = work / f"c{i % 4}"
        shutil.rmtree(case_dir, ignore_errors=True)
        case_dir.mkdir(parents=True)
        paths = [case_dir / f.name for f in files]
        for k, (p, blob) in enumerate(zip(paths, blobs[label], strict=True)):
            p.write_bytes(mutate(blob, rng) if k == target else blob)
        yield f"{label} seed={seed} case={i}", lambda p=paths[0]: read_recording(p)


def config_cases(seed: int, n: int, work: Path) -> Iterator[tuple[str, Callable[[], object]]]:
    """``n`` generated configs: the shipped ones mutated key by key, and garbled YAML text.

    Every shipped config is a base (session, ``calibrate_*`` and ``replay_*`` schemas), and
    the case keeps its base's file-name prefix so that the loader picks the same schema.
    """
    import yaml

    from bci.config import load_config

    work.mkdir(parents=True, exist_ok=True)
    loader, dumper = yaml.CSafeLoader, yaml.CSafeDumper
    configs = sorted((Path(__file__).resolve().parents[2] / "configs").glob("*.yaml"))
    bases = [(p.name, yaml.load(p.read_text(), Loader=loader)) for p in configs]
    values = [None, 0, -1, -5.5, 1e308, float("nan"), float("inf"), "", "x" * 300, "auto",
              [], [1, "a"], {}, {"kind": "lsl"}, True, "1883", 2**63, [0, 0], [40.0, 1.0]]  # fmt: skip
    for i in range(n):
        rng = np.random.default_rng([seed, i])
        name, base = bases[i % len(bases)]
        path = work / f"{name.split('_')[0]}_fuzz{i % 4}.yaml" if "_" in name else work / name
        data = copy.deepcopy(base)
        if rng.random() < 0.25:  # garbled text
            path.write_bytes(mutate(yaml.dump(data, Dumper=dumper).encode(), rng))
        else:
            for _ in range(int(rng.integers(1, 4))):
                node, parent, key = data, None, None
                for _depth in range(int(rng.integers(1, 5))):
                    if isinstance(node, dict) and node:
                        parent, key = node, list(node)[int(rng.integers(0, len(node)))]
                        node = node[key]
                    elif isinstance(node, list) and node:
                        parent, key = node, int(rng.integers(0, len(node)))
                        node = node[key]
                    else:
                        break
                if parent is None:
                    data = values[int(rng.integers(0, len(values)))]
                    break
                op = rng.random()
                if op < 0.6:
                    parent[key] = copy.deepcopy(values[int(rng.integers(0, len(values)))])
                elif op < 0.8 and isinstance(parent, dict):
                    del parent[key]
                elif isinstance(parent, dict):
                    parent[f"unknown_{int(rng.integers(0, 99))}"] = 1
            path.write_text(yaml.dump(data, Dumper=dumper, allow_unicode=True))
        yield f"config {name} seed={seed} case={i}", lambda p=path: load_config(p)
