"""``bci export``: turn a trained decoder checkpoint into a verified decoder ONNX file."""
# ruff: noqa: B008  (typer declares options as argument defaults)

from __future__ import annotations

from pathlib import Path

import typer

from ._common import cli_errors


def export(
    checkpoint: Path = typer.Argument(
        ..., help="Decoder checkpoint written by bci.models.save_classifier (.pt)."
    ),
    out: Path = typer.Option(..., "-o", "--out", help="Output .onnx file."),
) -> None:
    """Export a decoder checkpoint to ONNX with metadata; fails unless onnxruntime equals torch (1e-4, batch 1 and 8)."""
    with cli_errors():
        from bci.models import export_onnx, load_classifier

        model, metadata = load_classifier(checkpoint)
        path = export_onnx(model, out, metadata)
        typer.echo(f"wrote {path} (onnxruntime == torch within 1e-4 at batch 1 and 8)")
