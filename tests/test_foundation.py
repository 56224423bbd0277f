"""The package, the CLI and configuration validation."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bci import BCIError, ConfigError, DecoderError, DeviceError, StimulusError, StreamError
from bci._commands.main import app
from bci.config import SessionConfig, load_config, parse_config

ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner()


def test_import_bci_does_not_import_torch():
    code = "import sys, bci, bci.config, bci._commands.main; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_error_hierarchy():
    for cls in (ConfigError, DeviceError, StreamError, DecoderError, StimulusError):
        assert issubclass(cls, BCIError)


def test_help_lists_every_subcommand():
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for name in (
        "run",
        "stream",
        "record",
        "replay",
        "calibrate",
        "pretrain",
        "export",
        "bench",
        "validate",
        "devices",
        "sys-info",
    ):
        assert name in result.output


def test_sys_info_prints_versions():
    result = runner.invoke(app, ["sys-info"])
    assert result.exit_code == 0, result.output
    for key in (
        "Python",
        "numpy",
        "torch",
        "onnxruntime providers",
        "CPUExecutionProvider",
        "brainflow",
        "liblsl",
        "psychopy",
        "GPU",
        "Display",
    ):
        assert key in result.output


@pytest.mark.parametrize("path", sorted((ROOT / "configs").glob("*.yaml")), ids=lambda p: p.name)
def test_every_shipped_config_validates(path):
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 0, result.output
    load_config(path)


def test_validate_reports_every_bad_key(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "name: demo\n"
        "window:\n  length: 1.0\n  hopp: 0.1\n"  # unknown key
        "decoder:\n  threads: many\n"  # wrong type
        "sources:\n  - kind: replay\n    speed: 2\n"  # missing required key (path)
    )
    result = runner.invoke(app, ["validate", str(bad)])
    assert result.exit_code == 2
    out = result.output
    assert "window.hopp" in out and "unknown key" in out
    assert "decoder.threads" in out and "'many'" in out
    assert "sources[0].path" in out and "required" in out


def test_validate_unreadable_and_non_mapping(tmp_path):
    missing = tmp_path / "nope.yaml"
    assert runner.invoke(app, ["validate", str(missing)]).exit_code == 2
    listy = tmp_path / "list.yaml"
    listy.write_text("- 1\n- 2\n")
    result = runner.invoke(app, ["validate", str(listy)])
    assert result.exit_code == 2 and "mapping" in result.output


def test_config_is_frozen_and_has_defaults():
    cfg = parse_config({}, SessionConfig)
    assert cfg.sources[0].kind == "simulated"
    with pytest.raises(Exception):  # noqa: B017 - pydantic raises ValidationError on frozen models
        cfg.name = "other"  # type: ignore[misc]


def test_bandpass_order_is_checked():
    with pytest.raises(ConfigError) as info:
        parse_config({"preprocess": {"bandpass": [40, 1]}}, SessionConfig)
    assert info.value.problems[0][0] == "preprocess"


@pytest.mark.parametrize("schema", ["session", "calibration", "replay-mapping", "paradigm"])
def test_every_config_key_is_explained(schema):
    sys.path.insert(0, str(ROOT / "tools"))
    from config_reference import markdown, rows

    from bci.config import schema_for

    table = rows(schema_for("x.yaml", schema))
    assert len(table) > 3
    undocumented = [key for key, _, _, desc in table if not desc.strip()]
    assert not undocumented, f"keys without a description: {undocumented}"
    assert f"`{table[0][0]}`" in markdown(schema)


def test_config_reference_page_is_current():
    """docs/reference/config.md is what tools/config_reference.py generates from the schemas."""
    sys.path.insert(0, str(ROOT / "tools"))
    from config_reference import PAGE, page

    assert PAGE == ROOT / "docs" / "reference" / "config.md"
    assert PAGE.read_text() == page(), (
        "docs/reference/config.md is out of date: run .venv/bin/python tools/config_reference.py"
    )
