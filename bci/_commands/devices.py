"""``bci devices``: the BrainFlow boards this install supports, how to connect each, and the
LSL streams visible now."""

from __future__ import annotations

from typing import Annotated

import typer

from ._common import cli_errors

#: BrainFlow ids that are not devices (``NO_BOARD``): never listed.
_PLACEHOLDERS = {-100}

_SERIAL = "serial_port=/dev/ttyUSB0 (COM3 on Windows, /dev/cu.* on macOS)"
_BLED = "serial_port=PORT of the BLED112 dongle (optional mac_address=...)"
_BLE = "optional mac_address=... or serial_number=NAME (native Bluetooth)"
_WIFI_SHIELD = "ip_address=192.168.4.1 ip_port=FREE_PORT (WiFi shield)"

#: How to connect each kind of board: ``bci stream --board NAME --param KEY=VALUE``.
#: Exact names first, then name prefixes and suffixes (BrainFlow's SupportedBoards page).
_CONNECT_EXACT = {
    "synthetic": "nothing to set (generated signals)",
    "playback_file": "file=REC.csv master_board=ID (a BrainFlow CSV; ID: the recording board)",
    "streaming": "ip_address=225.1.1.1 ip_port=6677 master_board=ID (another BrainFlow process)",
    "cyton": "serial_port=/dev/ttyUSB0 (OpenBCI USB dongle; COM3 on Windows)",
    "cyton_daisy": "serial_port=/dev/ttyUSB0 (OpenBCI USB dongle; COM3 on Windows)",
    "ganglion": "serial_port=/dev/ttyACM0 (BLED112 dongle; optional mac_address=...)",
    "ganglion_native": _BLE,
    "galea": "nothing required (network; optional timeout=SECONDS)",
    "unicorn": "optional serial_number=UN-... (Bluetooth)",
    "pieeg": "serial_port=/dev/spidev0.0 (Raspberry Pi SPI)",
    "emotibit": "optional ip_address=BROADCAST_ADDRESS serial_number=... (WiFi)",
    "biolistener": "optional ip_address=0.0.0.0 ip_port=12345 (the board connects to bci)",
    "ntl_wifi": _WIFI_SHIELD,
    "enophone": "mac_address=XX:XX:XX:XX:XX:XX (Bluetooth)",
    "aavaa_v3": _BLE,
}
_CONNECT_PREFIX = (
    ("ganglion_wifi", _WIFI_SHIELD),
    ("cyton_wifi", _WIFI_SHIELD),
    ("cyton_daisy_wifi", _WIFI_SHIELD),
    ("muse", _BLE),
    ("brainbit", "optional serial_number=... (Bluetooth)"),
    ("brainalive", _BLE),
    ("callibri", "nothing required (Bluetooth; optional timeout=SECONDS)"),
    ("notion", "optional serial_number=DEVICE_ID (Neurosity, network)"),
    ("crown", "optional serial_number=DEVICE_ID (Neurosity, network)"),
    ("gforce", "nothing to set (its USB dongle)"),
    ("ant_neuro", "optional serial_number=... (USB amplifier)"),
    ("explore", "mac_address=XX:XX:XX:XX:XX:XX (Bluetooth)"),
    ("synchroni", "mac_address=XX:XX:XX:XX:XX:XX (Bluetooth)"),
    ("ob5000", "mac_address=XX:XX:XX:XX:XX:XX (Bluetooth)"),
    ("ob3000", "mac_address=XX:XX:XX:XX:XX:XX (Bluetooth)"),
    ("freeeeg", _SERIAL),
    ("neuropawn", _SERIAL),
    ("ironbci", _SERIAL),
    ("shimmer", _SERIAL),
)


def connection_hint(name: str) -> str:
    """The ``--param`` settings a board needs, e.g. ``serial_port=/dev/ttyUSB0``."""
    if name in _CONNECT_EXACT:
        return _CONNECT_EXACT[name]
    if name.endswith("_bled"):
        return _BLED
    for prefix, hint in _CONNECT_PREFIX:
        if name.startswith(prefix):
            return hint
    return "see BrainFlow's list of supported boards for its parameters"


def _channels(board: int, n_eeg: int) -> str:
    """``"8 EEG"``, or the board's other signal kinds when it has no EEG (``"8 EMG"``)."""
    if n_eeg:
        return f"{n_eeg} EEG"
    from brainflow.board_shim import BoardShim
    from brainflow.exit_codes import BrainFlowError

    try:
        descr = BoardShim.get_board_descr(board)
    except BrainFlowError:
        return "-"
    kinds = [
        f"{len(descr[key])} {kind}"
        for key, kind in (("emg_channels", "EMG"), ("ecg_channels", "ECG"), ("ppg_channels", "PPG"))
        if descr.get(key)
    ]
    return ", ".join(kinds) or "-"


def devices(
    timeout: Annotated[float, typer.Option(help="Seconds to listen for LSL streams.")] = 1.0,
    boards: Annotated[
        bool, typer.Option("--boards/--no-boards", help="List BrainFlow boards.")
    ] = True,
) -> None:
    """List BrainFlow boards (id, name, rate, channels, how to connect) and the LSL streams."""
    from bci.devices import list_boards, list_streams

    with cli_errors():
        if boards:
            typer.echo(
                "BrainFlow boards: stream one on LSL with "
                "`bci stream --board NAME --param KEY=VALUE ...`"
            )
            typer.echo(f"  {'id':>4}  {'name':<26} {'rate Hz':>9}  {'channels':<9} connect with")
            typer.echo(
                f"  {'-':>4}  {'simulated':<26} {'250':>9}  {'16 EEG':<9} "
                "nothing to set (bci's simulated participant; EMG too, see its config)"
            )
            for bid, name, sfreq, n_eeg in list_boards():
                if bid in _PLACEHOLDERS:
                    continue
                rate = f"{sfreq:g}" if sfreq else "as master"
                typer.echo(
                    f"  {bid:>4}  {name:<26} {rate:>9}  {_channels(bid, n_eeg):<9} "
                    f"{connection_hint(name)}"
                )
        streams = list_streams(timeout=timeout)
        typer.echo(f"LSL streams visible now ({len(streams)}):")
        for s in streams:
            rate = f"{s.sfreq:g} Hz" if s.sfreq else "irregular"
            typer.echo(
                f"  {s.name}  type={s.stype}  {s.n_channels} ch @ {rate}  {s.dtype}  "
                f"source_id={s.source_id}  channels={','.join(s.ch_names[:8])}{'...' if s.n_channels > 8 else ''}"
            )
