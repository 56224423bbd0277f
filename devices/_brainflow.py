"""BrainFlow boards published as LSL streams.

:class:`BoardBrainFlow` opens any BrainFlow board by name or id (synthetic, playback
file, OpenBCI Cyton/Ganglion, Muse...), and publishes one LSL stream per channel kind
(EEG, EMG, ACC, GYRO, PPG...) with labels, types, units, rate and manufacturer, plus
the board's marker row as a string marker stream. BrainFlow's sample timestamps
(Unix time) are mapped onto the LSL clock.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING

import numpy as np

from bci._errors import DeviceError
from bci._types import StreamSpec

if TYPE_CHECKING:
    from ._lsl import MarkerOutletLSL, OutletLSL

logger = logging.getLogger(__name__)

#: channel kinds in priority order (a row listed under several kinds goes to the first):
#: (BrainFlow descriptor key, LSL type, channel type, unit)
KINDS = (
    ("eeg", "EEG", "eeg", "microvolts"),
    ("emg", "EMG", "emg", "microvolts"),
    ("ecg", "ECG", "ecg", "microvolts"),
    ("eog", "EOG", "eog", "microvolts"),
    ("exg", "EXG", "eeg", "microvolts"),
    ("accel", "ACC", "accelerometer", "g"),
    ("gyro", "GYRO", "gyroscope", "dps"),
    ("magnetometer", "MAG", "magnetometer", "uT"),
    ("ppg", "PPG", "ppg", ""),
    ("eda", "EDA", "eda", "microsiemens"),
    ("temperature", "TEMP", "temperature", "celsius"),
    ("resistance", "Resistance", "impedance", "ohms"),
)


def _silence_pkg_resources() -> None:
    import warnings

    warnings.filterwarnings("ignore", message="pkg_resources is deprecated", category=UserWarning)


def board_id(board: str | int) -> int:
    """A BrainFlow board id from a name (``synthetic``, ``cyton``, ``muse_2``...) or id.

    Raises
    ------
    DeviceError
        Unknown name; the message lists the known ones.
    """
    _silence_pkg_resources()
    from brainflow.board_shim import BoardIds

    if isinstance(board, int) or (isinstance(board, str) and board.lstrip("-").isdigit()):
        value = int(board)
        if value not in {b.value for b in BoardIds}:
            raise DeviceError(f"Unknown BrainFlow board id {value}; `bci devices` lists them.")
        return value
    key = board.strip().upper().replace("-", "_").replace(" ", "_")
    for cand in (key, f"{key}_BOARD"):
        if cand in BoardIds.__members__:
            return BoardIds[cand].value
    names = ", ".join(sorted(b.name.removesuffix("_BOARD").lower() for b in BoardIds))
    raise DeviceError(f"Unknown BrainFlow board {board!r}. Known boards: {names}.")


def board_name(bid: int) -> str:
    """Short lower-case name of a board id (``synthetic``, ``cyton_daisy``...)."""
    from brainflow.board_shim import BoardIds

    return BoardIds(bid).name.removesuffix("_BOARD").lower()


def board_streams(
    bid: int, name: str | None = None, source_id: str | None = None
) -> tuple[list[tuple[StreamSpec, list[int]]], int | None, int | None, float]:
    """Split a board's rows into one stream per channel kind.

    Returns
    -------
    groups : list of (StreamSpec, rows)
    timestamp_row, marker_row : int | None
    sfreq : float
    """
    _silence_pkg_resources()
    from brainflow.board_shim import BoardShim
    from brainflow.exit_codes import BrainFlowError

    try:
        descr = BoardShim.get_board_descr(bid)
    except BrainFlowError as exc:
        raise DeviceError(
            f"BrainFlow has no description of board {bid}: {exc}", exc.exit_code
        ) from exc
    sfreq = float(descr["sampling_rate"])
    base = name or board_name(bid)
    sid = source_id or f"brainflow-{board_name(bid)}"
    manufacturer = f"BrainFlow {descr.get('name', board_name(bid))}"
    eeg_names = [n for n in str(descr.get("eeg_names", "")).split(",") if n]
    taken: set[int] = set()
    groups = []
    for key, stype, ch_type, unit in KINDS:
        rows = [r for r in descr.get(f"{key}_channels", []) if r not in taken]
        if not rows:
            continue
        taken.update(rows)
        if key == "eeg" and len(eeg_names) == len(rows):
            labels = eeg_names
        else:
            labels = [
                f"{stype}{k + 1}"
                if key in ("eeg", "emg", "ecg", "eog", "exg")
                else f"{stype}_{'XYZ'[k]}"
                if key in ("accel", "gyro", "magnetometer") and k < 3
                else f"{stype}{k + 1}"
                for k in range(len(rows))
            ]
        spec = StreamSpec(
            name=base if stype == "EEG" else f"{base}-{stype}",
            stype=stype,
            source_id=f"{sid}-{stype}",
            sfreq=sfreq,
            ch_names=tuple(labels),
            ch_types=(ch_type,) * len(rows),
            units=(unit,) * len(rows),
            dtype="float32",
            manufacturer=manufacturer,
        )
        groups.append((spec, rows))
    return groups, descr.get("timestamp_channel"), descr.get("marker_channel"), sfreq


def _input_params(params: dict[str, str] | None):  # noqa: ANN202
    from brainflow.board_shim import BrainFlowInputParams

    p = BrainFlowInputParams()
    valid = sorted(k for k in vars(p) if not k.startswith("_"))
    for key, value in (params or {}).items():
        if key not in valid:
            raise DeviceError(f"Unknown BrainFlow parameter {key!r}; valid: {', '.join(valid)}.")
        current = getattr(p, key)
        try:
            setattr(p, key, type(current)(value) if current is not None else value)
        except (TypeError, ValueError) as exc:
            raise DeviceError(f"BrainFlow parameter {key}={value!r}: {exc}") from exc
    return p


class BoardBrainFlow:
    """A BrainFlow board streaming to LSL outlets.

    Parameters
    ----------
    board : str | int
        Board name (``synthetic``, ``playback_file``, ``cyton``...) or ``BoardIds`` value.
    params : dict of str to str
        ``BrainFlowInputParams`` fields (``serial_port``, ``mac_address``, ``file``,
        ``master_board``...).
    name : str | None
        Base LSL name (default: the board's name); other kinds get ``-ACC`` etc.
    poll_interval : float
        Seconds between ``get_board_data`` calls in the publishing thread.
    """

    def __init__(
        self,
        board: str | int = "synthetic",
        params: dict[str, str] | None = None,
        name: str | None = None,
        poll_interval: float = 0.01,
    ) -> None:
        self.board_id = board_id(board)
        self.params = dict(params or {})
        self._input = _input_params(self.params)
        descr_id = self.board_id
        if self.board_id in (-3, -2):  # playback file / streaming board describe their master
            if "master_board" not in self.params:
                raise DeviceError(
                    f"Board {board_name(self.board_id)} needs --param master_board=<id> "
                    "(the board that wrote the data)."
                )
            descr_id = int(self.params["master_board"])
        self.groups, self._ts_row, self._marker_row, self.sfreq = board_streams(
            descr_id,
            name=name or board_name(descr_id),
            source_id=f"brainflow-{board_name(descr_id)}",
        )
        self.name = name or board_name(descr_id)
        self.poll_interval = float(poll_interval)
        self._shim = None
        self._outlets: list[tuple[OutletLSL, list[int]]] = []
        self._markers: MarkerOutletLSL | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self.n_samples = 0
        self.error: BaseException | None = None

    @property
    def specs(self) -> list[StreamSpec]:
        """The signal streams this board publishes."""
        return [spec for spec, _ in self.groups]

    def start(self) -> BoardBrainFlow:
        """Open the session, start the board and the publishing thread (idempotent)."""
        if self._thread is not None:
            return self
        _silence_pkg_resources()
        from brainflow.board_shim import BoardShim
        from brainflow.exit_codes import BrainFlowError

        from ._lsl import MarkerOutletLSL, OutletLSL

        BoardShim.disable_board_logger()
        shim = BoardShim(self.board_id, self._input)
        try:
            shim.prepare_session()
            if self.board_id == -3 and self.params.get("loop", "").lower() in ("1", "true"):
                shim.config_board("loopback_true")
            shim.start_stream(45000)
        except BrainFlowError as exc:
            if shim.is_prepared():
                shim.release_session()
            raise DeviceError(
                f"BrainFlow board {board_name(self.board_id)} failed to start: {exc}", exc.exit_code
            ) from exc
        self._shim = shim
        self._outlets = [(OutletLSL(spec), rows) for spec, rows in self.groups]
        if self._marker_row is not None:
            self._markers = MarkerOutletLSL(
                f"{self.name}-markers", source_id=f"brainflow-{self.name}-markers"
            )
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._run, name=f"BoardBrainFlow-{self.name}", daemon=True
        )
        self._thread.start()
        logger.info(
            "Streaming BrainFlow %s: %s",
            board_name(self.board_id),
            ", ".join(
                f"{s.name} ({s.stype}, {s.n_channels} ch @ {s.sfreq:g} Hz)" for s in self.specs
            ),
        )
        return self

    def _run(self) -> None:
        import pylsl
        from brainflow.exit_codes import BrainFlowError

        # BrainFlow stamps samples with Unix time; map it onto the LSL clock
        offset = pylsl.local_clock() - time.time()
        try:
            while not self._stop.wait(self.poll_interval):
                data = self._shim.get_board_data()
                n = data.shape[1]
                if n == 0:
                    continue
                if self._ts_row is not None:
                    ts = data[self._ts_row] + offset
                else:
                    ts = pylsl.local_clock() - (n - 1 - np.arange(n)) / self.sfreq
                for outlet, rows in self._outlets:
                    outlet.push(data[rows], ts)
                if self._markers is not None:
                    for i in np.flatnonzero(data[self._marker_row] != 0):
                        v = float(data[self._marker_row, i])
                        self._markers.push(str(int(v)) if v.is_integer() else repr(v), float(ts[i]))
                self.n_samples += n
        except BrainFlowError as exc:
            self.error = DeviceError(f"BrainFlow board stopped: {exc}", exc.exit_code)
            logger.exception("BrainFlow board %s failed", self.name)

    def insert_marker(self, value: float) -> None:
        """Insert a numeric marker into the board's marker row."""
        if self._shim is None:
            raise DeviceError("Board is not started.")
        self._shim.insert_marker(float(value))

    def stop(self) -> BoardBrainFlow:
        """Stop streaming and release the board (idempotent)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5.0)
            self._thread = None
        if self._shim is not None:
            from brainflow.exit_codes import BrainFlowError

            try:
                self._shim.stop_stream()
            except BrainFlowError as exc:
                logger.warning("stop_stream: %s (exit code %s)", exc, exc.exit_code)
            self._shim.release_session()
            self._shim = None
        self._outlets = []
        self._markers = None
        return self

    def __enter__(self) -> BoardBrainFlow:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def list_boards() -> list[tuple[int, str, float, int]]:
    """Every BrainFlow board: ``(id, name, sfreq, n_eeg)`` (sfreq 0 when not described)."""
    _silence_pkg_resources()
    from brainflow.board_shim import BoardIds, BoardShim
    from brainflow.exit_codes import BrainFlowError

    out = []
    for b in BoardIds:
        try:
            d = BoardShim.get_board_descr(b.value)
            out.append(
                (
                    b.value,
                    board_name(b.value),
                    float(d.get("sampling_rate", 0)),
                    len(d.get("eeg_channels", [])),
                )
            )
        except BrainFlowError:
            out.append((b.value, board_name(b.value), 0.0, 0))
    return out
