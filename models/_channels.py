"""Channel vocabulary of the foundation encoder: one learned embedding per 10-05 name.

The encoder accepts any channel set. A channel whose (normalised) name is a 10-20 /
10-10 / 10-05 position gets that position's embedding, shared by every device that
has it. Any other name (``ch3``, ``EMG5``, ``Right AUX``...) falls back to a
*generic* slot chosen by its index in the device's channel list, so an 8-pod EMG
armband gets ``GEN1..GEN8``; a per-device read-in layer (NDT-stitch style, see
:class:`bci.models.ReadIn`) learns how such a device maps onto the shared space.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

_ROWS = ("Fp", "AF", "F", "FFC", "FC", "FCC", "FT", "FTT", "C", "CCP", "CP", "CPP", "T", "TTP")
_ROWS += ("TP", "TPP", "P", "PPO", "PO", "POO", "O", "OI", "I")
_SUFFIXES = ("z",) + tuple(str(i) for i in range(1, 11)) + ("1h", "2h", "3h", "4h", "5h", "6h")
_EXTRA = ("Nz", "T3", "T4", "T5", "T6", "A1", "A2", "M1", "M2", "LPA", "RPA")
N_GENERIC = 64


def _build_vocab() -> tuple[str, ...]:
    names = [f"{r}{s}" for r in _ROWS for s in _SUFFIXES]
    names += list(_EXTRA)
    names += [f"GEN{i}" for i in range(1, N_GENERIC + 1)]
    seen: dict[str, None] = {}
    for n in names:
        seen.setdefault(n.upper(), None)
    return tuple(seen)


#: Upper-cased vocabulary; the index of a name is its embedding row. Never reorder it:
#: shipped weights depend on the order (append only).
VOCAB: tuple[str, ...] = _build_vocab()
_INDEX = {n: i for i, n in enumerate(VOCAB)}


def normalize_name(name: str) -> str:
    """Normalise a channel label for lookup: strip dots, spaces, ``EEG``/``-REF`` decorations.

    Parameters
    ----------
    name : str
        The label as the device or file spells it (``"Fc5."``, ``"EEG Cz-REF"``).

    Returns
    -------
    str
        Upper-cased bare label (``"FC5"``, ``"CZ"``).
    """
    n = name.strip().upper()
    n = re.sub(r"^(EEG|EMG)[\s_-]+", "", n)
    n = re.sub(r"[-_ ]?(REF|LE|AVG)$", "", n)
    return re.sub(r"[.\s_-]", "", n)


def channel_indices(ch_names: Sequence[str]) -> list[int]:
    """Map channel labels to embedding rows of :data:`VOCAB`.

    Parameters
    ----------
    ch_names : sequence of str
        The device's channel labels, in order.

    Returns
    -------
    list of int
        One vocabulary index per channel: the 10-05 position when the label is one,
        else the generic slot ``GEN{k}`` for the channel's 1-based position ``k``
        (wrapping after :data:`N_GENERIC`).
    """
    out = []
    for k, name in enumerate(ch_names):
        n = normalize_name(name)
        idx = _INDEX.get(n)
        if idx is None or n.startswith("GEN"):
            idx = _INDEX[f"GEN{k % N_GENERIC + 1}"]
        out.append(idx)
    return out
