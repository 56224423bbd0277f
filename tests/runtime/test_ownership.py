"""Stream ownership: a session records its own protocol streams, never a namesake's."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pylsl
import pytest
import yaml

from bci._ownership import (
    is_owned,
    new_session_id,
    owned_source_id,
    select_protocol_streams,
    session_of,
)
from bci._types import StreamSpec

CLI = "from bci._commands.main import run; run()"
PROTOCOL = ("bci-markers", "bci-stimuli", "bci-sim-truth")


def _spec(name: str, source_id: str) -> StreamSpec:
    return StreamSpec(name=name, stype="Markers", source_id=source_id, sfreq=0.0,
                      ch_names=("m",), dtype="string")  # fmt: skip


def test_selection_keeps_only_tagged_streams() -> None:
    sid, other = new_session_id("default"), new_session_id("default")
    assert sid != other and sid.startswith("default-")
    visible = [
        _spec("bci-markers", owned_source_id("bci-markers-schedule", sid)),
        _spec("bci-markers", owned_source_id("bci-markers-schedule", other)),
        _spec("bci-markers", "lab-presenter"),
        _spec("bci-sim-truth", owned_source_id("bci-sim-truth-seed0", sid)),
        _spec("unrelated", owned_source_id("x", sid)),
    ]
    chosen = select_protocol_streams(visible, PROTOCOL, sid)
    assert [s.source_id for s in chosen.own] == [
        f"bci-markers-schedule@{sid}",
        f"bci-sim-truth-seed0@{sid}",
    ]
    assert len(chosen.foreign) == 2
    assert is_owned(f"{sid}/file.xdf", sid) and not is_owned(f"{other}/file.xdf", sid)
    assert session_of("lab-presenter") is None and session_of(f"a@{sid}") == sid


def _load(path: Path) -> list[dict]:
    import pyxdf

    streams, _ = pyxdf.load_xdf(str(path), dejitter_timestamps=False)
    return streams


@pytest.mark.timeout(240)
def test_two_default_sessions_on_one_machine_each_record_only_their_own(
    tmp_path: Path, uid: str
) -> None:
    """Two `bci run` with default names at once, plus a stranger's bci-markers outlet."""
    stranger = pylsl.StreamOutlet(
        pylsl.StreamInfo("bci-markers", "Markers", 1, 0.0, "string", f"stranger-{uid}")
    )
    procs, dirs = [], []
    for k in range(2):
        d = tmp_path / f"s{k}"
        d.mkdir()
        cfg = d / "session.yaml"
        cfg.write_text(
            yaml.safe_dump(
                {  # default name, default simulated participant, default stream names
                    "outputs": {"mqtt": {"enabled": False}, "lsl": {"enabled": False}},
                    "recording": {"directory": str(d / "rec")},
                    "decoder": {"warmup": 2},
                }
            )
        )
        dirs.append(d)
        procs.append(
            subprocess.Popen(
                [sys.executable, "-c", CLI, "run", str(cfg), "--duration", "8", "--no-live"],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
        time.sleep(1.0)
    t_end = time.monotonic() + 10
    while time.monotonic() < t_end and any(p.poll() is None for p in procs):
        stranger.push_sample(["ssvep_10.0"])
        time.sleep(0.5)
    outs = [p.communicate(timeout=180) for p in procs]
    del stranger
    for p, (_, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0, err[-3000:]
    session_ids = []
    for d in dirs:
        streams = _load(next((d / "rec").glob("*.xdf")))
        by_name: dict[str, list[str]] = {}
        for s in streams:
            by_name.setdefault(s["info"]["name"][0], []).append(s["info"]["source_id"][0])
        sim = by_name["bci-sim"]
        assert len(sim) == 1, by_name
        sid = session_of(sim[0])
        assert sid is not None and sid.startswith("default-")
        session_ids.append(sid)
        for name in PROTOCOL:  # exactly one of each, and it is this session's
            assert len(by_name.get(name, [])) == 1, (name, by_name)
            assert is_owned(by_name[name][0], sid), (name, by_name[name], sid)
        # the participant followed its own schedule: each truth onset is one of our markers
        markers = next(s for s in streams if s["info"]["name"][0] == "bci-markers")
        truth = next(s for s in streams if s["info"]["name"][0] == "bci-sim-truth")
        assert len(truth["time_stamps"]) >= 1 and len(markers["time_stamps"]) >= 1
        for t in truth["time_stamps"]:
            assert min(abs(markers["time_stamps"] - t)) < 0.05
    assert session_ids[0] != session_ids[1]


@pytest.mark.timeout(120)
def test_lsl_source_session_records_a_presenter_only_when_configured(
    tmp_path: Path, uid: str, tiny_onnx: Path
) -> None:
    from bci._session import run_session
    from bci.config import SessionConfig

    from .conftest import EEGPusher

    outlet = pylsl.StreamOutlet(
        pylsl.StreamInfo("bci-markers", "Markers", 1, 0.0, "string", f"presenter-{uid}")
    )
    results = []
    with EEGPusher(f"eeg-{uid}"):
        for extra in ([], [f"source_id='presenter-{uid}'"]):
            cfg = SessionConfig.model_validate(
                {
                    "name": f"o{uid}",
                    "sources": [{"kind": "lsl", "name": f"eeg-{uid}"}],
                    "decoder": {"warmup": 2},
                    "outputs": {"mqtt": {"enabled": False}, "lsl": {"enabled": False}},
                    "recording": {"directory": str(tmp_path / "rec"), "streams": extra},
                }
            )
            res = run_session(cfg, duration=2.0, decoder=tiny_onnx, handle_signals=False)
            results.append(_load(res.recording))
    del outlet
    source_ids = [[s["info"]["source_id"][0] for s in streams] for streams in results]
    assert f"presenter-{uid}" not in source_ids[0]  # not ours: skipped
    assert f"presenter-{uid}" in source_ids[1]  # named in recording.streams: recorded
    other = [s for s in source_ids[0] if s.startswith("bci-markers")]
    assert not other, other  # nobody else's bci-markers either
