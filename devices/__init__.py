"""Where samples come from: LSL streams, BrainFlow boards, recordings, the simulated participant.

Everything here produces or consumes the core types of :mod:`bci` (``StreamSpec``,
``Chunk``, ``Marker``, ``Recording``).
"""

from __future__ import annotations

from ._lsl import (
    MarkerOutletLSL,
    OutletLSL,
    SourceLSL,
    info_from_spec,
    list_streams,
    resolve,
    spec_from_info,
)

__all__ = [
    "MarkerOutletLSL",
    "OutletLSL",
    "SourceLSL",
    "info_from_spec",
    "list_streams",
    "resolve",
    "spec_from_info",
]
