"""RecorderXDF: XDF written by us, read back by pyxdf and MNE; crash safety under kill -9."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pylsl
import pytest
import pyxdf
from streams_helpers import wait_until

from bci import RecordingError, StreamSpec
from bci._recorder import RecorderXDF


def _specs(uid):
    eeg = StreamSpec(
        name=f"eeg-{uid}",
        stype="EEG",
        source_id=f"eeg-{uid}",
        sfreq=250.0,
        ch_names=("Fp1", "Fp2", "Cz"),
        ch_types=("eeg", "eeg", "eeg"),
        units=("microvolts",) * 3,
        manufacturer="Test & Co <lab>",
    )
    counter = StreamSpec(f"cnt-{uid}", "Misc", f"cnt-{uid}", 1000.0, ("n",), dtype="int32")
    mk = StreamSpec(f"mk-{uid}", "Markers", f"mk-{uid}", 0.0, ("marker",), dtype="string")
    return eeg, counter, mk


def test_roundtrip_pyxdf_and_mne(tmp_path, uid):
    eeg, counter, mk = _specs(uid)
    path = tmp_path / "rec.xdf"
    rng = np.random.default_rng(0)
    data = rng.standard_normal((3, 1000)).astype(np.float32) * 50
    ts = 100.0 + np.arange(1000) / 250.0
    with RecorderXDF(path) as rec:
        ids = [rec.add_stream(s) for s in (eeg, counter, mk)]
        for k in range(0, 1000, 97):  # uneven chunks
            rec.write(ids[0], data[:, k : k + 97], ts[k : k + 97])
        rec.write(ids[1], np.arange(4000, dtype=np.int32)[None], 100.0 + np.arange(4000) / 1000.0)
        rec.write(ids[2], ["ssvep_12.0", "rest", "é<&>"], [101.0, 102.5, 103.25])
        rec.clock_offset(ids[0], 100.0, 0.0)
        rec.clock_offset(ids[0], 105.0, 0.0)
    rec.close()  # idempotent
    streams, header = pyxdf.load_xdf(str(path), synchronize_clocks=False, dejitter_timestamps=False)
    assert header["info"]["version"] == ["1.0"]
    by = {s["info"]["name"][0]: s for s in streams}
    s = by[eeg.name]
    np.testing.assert_array_equal(s["time_series"].T, data)
    np.testing.assert_array_equal(s["time_stamps"], ts)
    chans = s["info"]["desc"][0]["channels"][0]["channel"]
    assert [c["label"][0] for c in chans] == ["Fp1", "Fp2", "Cz"]
    assert [c["unit"][0] for c in chans] == ["microvolts"] * 3
    assert s["info"]["desc"][0]["manufacturer"] == ["Test & Co <lab>"]
    assert s["footer"]["info"]["sample_count"] == ["1000"]
    assert len(s["clock_times"]) == 2
    c = by[counter.name]
    assert c["time_series"].dtype == np.int32
    np.testing.assert_array_equal(c["time_series"][:, 0], np.arange(4000))
    m = by[mk.name]
    assert [v[0] for v in m["time_series"]] == ["ssvep_12.0", "rest", "é<&>"]
    np.testing.assert_array_equal(m["time_stamps"], [101.0, 102.5, 103.25])
    # default load (clock sync + dejitter) works as well
    pyxdf.load_xdf(str(path))
    # MNE: pyxdf + RawArray (MNE core has no XDF reader)
    import mne

    info = mne.create_info(["Fp1", "Fp2", "Cz"], 250.0, "eeg")
    raw = mne.io.RawArray(s["time_series"].T * 1e-6, info, verbose=False)
    ann = mne.Annotations(
        m["time_stamps"] - s["time_stamps"][0], 0.0, [v[0] for v in m["time_series"]]
    )
    raw.set_annotations(ann)
    assert raw.n_times == 1000 and len(raw.annotations) == 3


def test_errors(tmp_path, uid):
    eeg, _, _ = _specs(uid)
    rec = RecorderXDF(tmp_path / "e.xdf")
    sid = rec.add_stream(eeg)
    with pytest.raises(RecordingError, match="does not match"):
        rec.write(sid, np.zeros((3, 5)), np.zeros(4))
    rec.close()
    with pytest.raises(RecordingError, match="closed"):
        rec.write(sid, np.zeros((3, 5)), np.zeros(5))
    with pytest.raises(RecordingError, match="flush_interval"):
        RecorderXDF(tmp_path / "f.xdf", flush_interval=5.0)


_CHILD = textwrap.dedent(
    """
    import sys, time, numpy as np, pylsl
    from bci import StreamSpec
    from bci._recorder import RecorderXDF
    rec = RecorderXDF(sys.argv[1], flush_interval=0.5)
    sid = rec.add_stream(StreamSpec("counter", "Misc", "c", 500.0, ("n", "x")))
    mk = rec.add_stream(StreamSpec("mk", "Markers", "m", 0.0, ("marker",), dtype="string"))
    t0 = pylsl.local_clock(); sent = 0
    print(t0, flush=True)
    while True:
        n = int((pylsl.local_clock() - t0) * 500) - sent
        if n > 0:
            k = np.arange(sent, sent + n)
            rec.write(sid, np.vstack([k, np.sin(k)]).astype(np.float32), t0 + k / 500)
            if sent // 500 != (sent + n) // 500:
                rec.write(mk, [f"second_{(sent + n) // 500}"], [t0 + (sent + n) / 500])
            sent += n
        time.sleep(0.002)
    """
)


def test_kill9_leaves_loadable_file(tmp_path):
    path = tmp_path / "crash.xdf"
    proc = subprocess.Popen(
        [sys.executable, "-c", _CHILD, str(path)], stdout=subprocess.PIPE, text=True
    )
    try:
        t0 = float(proc.stdout.readline())
        assert wait_until(lambda: path.stat().st_size > 60_000, 20.0), "recorder wrote nothing"
        wait_until(lambda: pylsl.local_clock() - t0 > 3.0, 10.0)
        t_kill = pylsl.local_clock()
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
    finally:
        proc.kill()
    streams, _ = pyxdf.load_xdf(str(path), synchronize_clocks=False, dejitter_timestamps=False)
    s = next(s for s in streams if s["info"]["name"][0] == "counter")
    n = s["time_series"][:, 0]
    np.testing.assert_array_equal(n, np.arange(n.size))  # complete chunks, nothing missing inside
    missing = t_kill - s["time_stamps"][-1]
    logging.getLogger(__name__).warning("kill -9: %.3f s lost", missing)
    assert missing < 1.2, f"{missing:.3f} s lost at kill -9"
    mk = next(s for s in streams if s["info"]["name"][0] == "mk")
    assert mk["time_series"][0] == ["second_1"]
