"""Real-time scheduling of the hot path: which threads get it, and what happens without the right."""

from __future__ import annotations

import asyncio
import json
import os
import resource
import threading
from pathlib import Path

import pytest

from bci._decoder import DecoderONNX
from bci._runtime import Engine, EngineSettings
from bci._runtime._realtime import NOT_PERMITTED, promote_thread, promoted
from bci.devices import SourceLSL

from .conftest import EEGPusher

pytestmark = pytest.mark.skipif(
    not hasattr(os, "sched_setscheduler"), reason="real-time scheduling is Linux-only"
)


def _permitted() -> bool:
    """Whether this process may use SCHED_FIFO (asked from a throwaway thread)."""
    got: list[str] = []
    t = threading.Thread(target=lambda: got.append(promote_thread(1)))
    t.start()
    t.join()
    return got[0].startswith("SCHED_FIFO")


def _fifo_threads() -> set[int]:
    """Thread ids of this process that run under SCHED_FIFO."""
    out = set()
    for tid in os.listdir("/proc/self/task"):
        try:
            if os.sched_getscheduler(int(tid)) == os.SCHED_FIFO:
                out.add(int(tid))
        except (ProcessLookupError, PermissionError):
            continue
    return out


async def _run(uid: str, tiny_onnx: Path, priority: int | None) -> dict:
    """A 2-s engine run; the hot path's scheduling seen from inside it, and the FIFO threads."""
    seen: dict = {"fifo_before": _fifo_threads()}  # other tests' liblsl threads may linger

    def on_decision(_d: dict) -> None:  # runs on the hot path
        seen.setdefault("hot_tid", threading.get_native_id())
        seen.setdefault("hot_policy", os.sched_getscheduler(0))
        seen.setdefault("fifo_threads", _fifo_threads())

    with EEGPusher(f"eeg-{uid}"):
        engine = Engine(
            SourceLSL(name=f"eeg-{uid}", timeout=5.0),
            DecoderONNX(tiny_onnx),
            EngineSettings(
                session=f"t{uid}", lsl_outputs=False, warmup=1, realtime_priority=priority
            ),
            on_decision=on_decision,
        )
        await asyncio.to_thread(engine.prepare)
        seen["fifo_after_prepare"] = _fifo_threads()
        await engine.run(duration=2.0)
        engine.close()
    seen["started"] = next(e for e in engine.recent_events if e["event"] == "started")
    return seen


async def test_hot_path_and_stream_receiver_run_real_time(uid: str, tiny_onnx: Path) -> None:
    if not _permitted():
        pytest.skip("this process may not use SCHED_FIFO (not root, no CAP_SYS_NICE, ulimit -r 0)")
    seen = await _run(uid, tiny_onnx, 10)
    assert seen["hot_policy"] == os.SCHED_FIFO
    assert seen["started"]["scheduling"] == "SCHED_FIFO 10"
    assert seen["started"]["receiving"] == "SCHED_FIFO 10"
    # liblsl's receiving thread(s), started while the inlet opened, kept the policy; the
    # thread that connected the source went back to ordinary scheduling
    receivers = seen["fifo_after_prepare"] - seen["fifo_before"]
    assert receivers, "no thread receiving the stream runs under SCHED_FIFO"
    assert threading.get_native_id() not in receivers
    assert seen["fifo_threads"] - seen["fifo_before"] == receivers | {seen["hot_tid"]}
    assert os.sched_getscheduler(0) == os.SCHED_OTHER


async def test_no_priority_leaves_ordinary_scheduling(uid: str, tiny_onnx: Path) -> None:
    seen = await _run(uid, tiny_onnx, None)
    assert seen["hot_policy"] == os.SCHED_OTHER
    assert seen["started"]["scheduling"] == "ordinary"
    assert seen["started"]["receiving"] == "ordinary"
    assert seen["fifo_threads"] <= seen["fifo_before"]  # no thread of this run is real-time


def test_without_the_right_the_thread_keeps_ordinary_scheduling() -> None:
    """In a child that lost root's rights and has ``ulimit -r 0``: a clear reason, no error."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: no exceptions may escape into pytest's copy
        try:
            os.close(r)
            if os.geteuid() == 0:
                os.setgroups([])
                os.setgid(65534)
                os.setuid(65534)  # nobody: drops CAP_SYS_NICE
            resource.setrlimit(resource.RLIMIT_RTPRIO, (0, 0))
            got = promote_thread(10)
            with promoted(10) as inside:
                policy_inside = os.sched_getscheduler(0)
            report = {"got": got, "inside": inside, "policy": policy_inside}
            os.write(w, json.dumps(report).encode())
        finally:
            os._exit(0)
    os.close(w)
    with os.fdopen(r) as f:
        report = json.loads(f.read() or "{}")
    os.waitpid(pid, 0)
    assert report["got"] == f"ordinary ({NOT_PERMITTED})"
    assert report["inside"] == report["got"]
    assert report["policy"] == os.SCHED_OTHER
