"""Where samples come from: LSL streams, BrainFlow boards, recordings, the simulated participant.

Everything here produces or consumes the core types of :mod:`bci` (``StreamSpec``,
``Chunk``, ``Marker``, ``Recording``).
"""

from __future__ import annotations

from . import simulated  # the simulated participant (bci.devices.simulated)
from ._bids import BIDSExport, write_bids
from ._brainflow import BoardBrainFlow, board_id, list_boards
from ._lsl import (
    MarkerOutletLSL,
    OutletLSL,
    SourceLSL,
    info_from_spec,
    list_streams,
    resolve,
    spec_from_info,
)
from ._readers import read_recording
from ._readers_mapping import CSVMapping, load_mapping
from ._record import RecordLSL, find_streams
from ._replay import ReplayLSL
from ._writers import write_recording

__all__ = [
    "simulated",
    "BIDSExport",
    "write_bids",
    "BoardBrainFlow",
    "CSVMapping",
    "board_id",
    "list_boards",
    "load_mapping",
    "read_recording",
    "write_recording",
    "RecordLSL",
    "ReplayLSL",
    "find_streams",
    "MarkerOutletLSL",
    "OutletLSL",
    "SourceLSL",
    "info_from_spec",
    "list_streams",
    "resolve",
    "spec_from_info",
]
