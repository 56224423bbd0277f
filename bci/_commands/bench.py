"""``bci bench``: run every ``tools/bench_*.py`` and print Markdown tables.

Each benchmark script has ``run(quick, ...) -> list[dict]`` and ``markdown(results) -> str``
(see docs/design.md#benchmarks). The scripts live in ``tools/`` of a source checkout, not in
the installed package: ``bci bench`` says so when it runs from a wheel.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from ._common import check_duration, cli_errors

#: ``tools/`` of the source checkout this package runs from (None when installed from a wheel).
_CHECKOUT = Path(__file__).resolve().parents[2]
TOOLS = _CHECKOUT / "tools" if (_CHECKOUT / "pyproject.toml").is_file() else None


def _load(path: Path):  # noqa: ANN202 - a plain module loaded by path
    import importlib.util
    import sys

    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[path.stem] = module
    spec.loader.exec_module(module)
    return module


def bench(
    json_file: Annotated[
        Path | None, typer.Option("--json", help="Write all results to this JSON file.")
    ] = None,
    only: Annotated[
        list[str] | None,
        typer.Option(
            "--only",
            help="Benchmarks to run: runtime, recorder... (repeatable); runtime:a,b picks scenarios.",
        ),
    ] = None,
    quick: Annotated[
        bool, typer.Option("--quick", help="Short runs (smoke test, rough figures).")
    ] = False,
    duration: Annotated[
        float | None,
        typer.Option(
            "--duration",
            help="Seconds per runtime scenario and pipeline (300 for the 5-minute run).",
        ),
    ] = None,
) -> None:
    """Benchmark the runtime (ours vs mne-lsl through real LSL) and every other tools/bench_*.py."""
    from .._errors import BCIError

    with cli_errors():
        check_duration(duration)
        files = sorted(TOOLS.glob("bench_*.py")) if TOOLS is not None else []
        if not files:
            raise BCIError(
                "bci bench runs the benchmark scripts in tools/ of a source checkout, and this "
                "install has none: clone the repository, run `bash tools/install.sh`, then "
                "`.venv/bin/bci bench` there"
            )
        wanted: dict[str, list[str] | None] = {}
        for item in only or []:
            area, _, scen = item.partition(":")
            wanted[area] = scen.split(",") if scen else None
        unknown = set(wanted) - {f.stem.removeprefix("bench_") for f in files}
        if unknown:
            raise BCIError(
                f"--only {sorted(unknown)}: no such benchmark; have {[f.stem.removeprefix('bench_') for f in files]}"
            )
        results: dict[str, list[dict]] = {}
        for path in files:
            area = path.stem.removeprefix("bench_")
            if wanted and area not in wanted:
                continue
            module = _load(path)
            if not hasattr(module, "run") or not hasattr(module, "markdown"):
                # long studies (closed loop, paradigms, population, scaling) have their own CLI
                typer.echo(
                    f"{area}: a long study with its own options, not run here: "
                    f"python {path} --help",
                    err=True,
                )
                continue
            kwargs: dict = {"quick": quick}
            if area == "runtime":
                kwargs.update(duration=duration, only=wanted.get("runtime"))
            try:
                res = module.run(**kwargs)
            except BCIError:
                raise
            except Exception as exc:  # noqa: BLE001 - one broken benchmark must not hide the others
                typer.echo(f"bench {area} failed: {exc!r}", err=True)
                results[area] = [{"name": area, "error": repr(exc)}]
                continue
            results[area] = res
            typer.echo(f"\n## {area}\n")
            typer.echo(module.markdown(res))
        if json_file is not None:
            json_file.write_text(json.dumps(results, indent=2, default=str))
            typer.echo(f"\nresults: {json_file}")
