"""The ``dltheory`` command: list, show, run and reproduce claims, and write reports.

Bad input (unknown claim id, unknown or mistyped ``--set``, an unwritable
output directory, a corrupt or foreign results store, a bad ``--profile``)
ends the command with one line on stderr and exit code 2; nothing already
stored is touched.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table

__all__ = ["app", "main", "parse_sets"]

DEFAULT_OUT = Path("dltheory-results")

app = typer.Typer(
    name="dltheory",
    help="The lab of dltheory: run the claims of the lectures and check their verdicts.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
_out = Console()
_err = Console(stderr=True)

F = TypeVar("F", bound=Callable[..., Any])


def _one_line_errors(func: F) -> F:
    """Turn ``ValueError``/``TypeError``/``OSError`` into one stderr line and exit code 2."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except (ValueError, TypeError, OSError) as exc:
            message = " ".join(str(exc).split()) or type(exc).__name__
            print(f"dltheory: error: {message}", file=sys.stderr)
            raise typer.Exit(code=2) from None

    return wrapper  # type: ignore[return-value]


def parse_sets(items: list[str] | None) -> dict[str, str]:
    """``["k=v", ...]`` to ``{"k": "v"}``; ``ValueError`` naming ``--set`` when malformed."""
    out: dict[str, str] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"--set: expected NAME=VALUE, got {item!r}")
        out[key.strip()] = value.strip()
    return out


def _claims() -> Any:
    from . import claims

    return claims


def _check_profile(profile: str) -> str:
    from .claims import PROFILES

    if profile not in PROFILES:
        raise ValueError(f"--profile: expected one of {', '.join(PROFILES)}, got {profile!r}")
    return profile


ProfileOpt = Annotated[
    str, typer.Option("--profile", "-p", help="Parameter profile: quick or full.")
]
SeedOpt = Annotated[int, typer.Option("--seed", "-s", help="Base seed of the sweep.")]
OutOpt = Annotated[Path, typer.Option("--out", "-o", help="Output directory.")]
ExecOpt = Annotated[
    str, typer.Option("--executor", "-e", help="Where units run: local (processes) or dask.")
]
AddressOpt = Annotated[
    str | None, typer.Option("--address", help="Dask scheduler address (tcp://host:port).")
]
WorkersOpt = Annotated[
    int | None, typer.Option("--workers", "-w", help="Worker processes (default 2).")
]


@app.command("list")
@_one_line_errors
def list_claims() -> None:
    """List the claims: id, title and source."""
    registry = _claims().REGISTRY
    table = Table(title=f"{len(registry)} claims")
    for col in ("id", "title", "source"):
        table.add_column(col)
    for cid in sorted(registry):
        c = registry[cid]
        table.add_row(cid, c.title, c.source)
    _out.print(table)


@app.command("show")
@_one_line_errors
def show(claim_id: Annotated[str, typer.Argument(help="Claim id (see `dltheory list`).")]) -> None:
    """Show a claim: statement, source and parameters with their quick/full defaults."""
    c = _claims().get(claim_id)
    _out.print(f"[bold]{c.title}[/bold]  ({c.id})")
    _out.print(f"[dim]source:[/dim] {c.source}")
    _out.print(f"\n{c.statement}\n")
    if c.data_note:
        _out.print(f"[dim]data:[/dim] {c.data_note}\n")
    table = Table(title="parameters (--set NAME=VALUE)")
    for col in ("name", "kind", "quick", "full", "help"):
        table.add_column(col)
    for p in c.params:
        kind = p.kind + (f" {{{', '.join(p.choices)}}}" if p.choices else "")
        table.add_row(p.name, kind, str(p.quick), str(p.full), p.help)
    _out.print(table)


def _summary_table(results: list[Any]) -> Table:
    table = Table(title="dltheory results")
    for col in ("id", "verdict", "seconds", "units run", "reused"):
        table.add_column(col)
    for r in results:
        colour = "green" if r.reproduced else "red"
        table.add_row(
            r.id,
            f"[{colour}]{r.label}[/{colour}]",
            f"{r.seconds:.1f}",
            str(r.units_run),
            str(r.units_reused),
        )
    return table


@app.command("run")
@_one_line_errors
def run(
    claim_id: Annotated[str, typer.Argument(help="Claim id (see `dltheory list`).")],
    profile: ProfileOpt = "quick",
    set_: Annotated[
        list[str] | None, typer.Option("--set", help="Override a parameter: NAME=VALUE.")
    ] = None,
    seed: SeedOpt = 0,
    out: OutOpt = DEFAULT_OUT,
    executor: ExecOpt = "local",
    address: AddressOpt = None,
    workers: WorkersOpt = None,
) -> None:
    """Run one claim, resuming from the results store in --out."""
    from .lab import ensure_writable, run_claim

    claim = _claims().get(claim_id)
    params = claim.resolve(_check_profile(profile), parse_sets(set_))
    _validate_executor(executor, address, workers)
    ensure_writable(out)
    result = run_claim(claim, params, seed, out, executor, address, workers, progress=True)
    _out.print(_summary_table([result]))
    _out.print(result.summary)
    _out.print(f"[dim]{result.summary_path}, {result.figure_path}[/dim]")


def _validate_executor(executor: str, address: str | None, workers: int | None) -> None:
    from .lab import EXECUTORS

    if executor not in EXECUTORS:
        raise ValueError(f"--executor: expected one of {', '.join(EXECUTORS)}, got {executor!r}")
    if address is not None and executor != "dask":
        raise ValueError("--address: only meaningful with --executor dask")
    if workers is not None and workers < 1:
        raise ValueError(f"--workers: expected an integer >= 1, got {workers}")


@app.command("reproduce")
@_one_line_errors
def reproduce(
    profile: ProfileOpt = "quick",
    only: Annotated[
        list[str] | None, typer.Option("--only", help="Run only this claim (repeatable).")
    ] = None,
    out: OutOpt = DEFAULT_OUT,
    executor: ExecOpt = "local",
    address: AddressOpt = None,
    workers: WorkersOpt = None,
    seed: SeedOpt = 0,
) -> None:
    """Run every claim (or the --only ones), then write report.html and REPORT.md."""
    from .lab import ensure_writable, run_claim, write_report

    claims = _claims()
    _check_profile(profile)
    ids = list(dict.fromkeys(only)) if only else sorted(claims.REGISTRY)
    selected = [claims.get(i) for i in ids]
    _validate_executor(executor, address, workers)
    ensure_writable(out)
    results = []
    for claim in selected:
        params = claim.resolve(profile)
        results.append(
            run_claim(claim, params, seed, out, executor, address, workers, progress=True)
        )
    html_path, md_path = write_report(out)
    _out.print(_summary_table(results))
    _out.print(f"[dim]{html_path}, {md_path}[/dim]")


@app.command("report")
@_one_line_errors
def report(out: Annotated[Path, typer.Argument(help="Output directory of earlier runs.")]) -> None:
    """(Re)write report.html and REPORT.md from the claim results in OUT."""
    from .lab import ensure_writable, write_report

    if not out.is_dir():
        raise ValueError(f"report: {out} is not a directory of results")
    ensure_writable(out)
    html_path, md_path = write_report(out)
    _out.print(f"{html_path}\n{md_path}")


def main() -> None:
    """Entry point of ``python -m dltheory``."""
    app(prog_name="dltheory")
