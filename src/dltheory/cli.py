"""The ``dltheory`` command: list, show, run and reproduce claims, write reports, check verdicts.

Bad input (unknown claim id, unknown or mistyped ``--set``, an unwritable
output directory, a corrupt or foreign results store, a bad ``--profile``)
ends the command with one line on stderr and exit code 2; nothing already
stored is touched.  ``run`` and ``reproduce`` exit 0 whatever the outcomes,
unless ``--strict``: then 1 when a claim is ``not reproduced``.  ``verdicts``
exits 1 when a result contradicts a recorded full-profile verdict.
"""

from __future__ import annotations

import functools
import statistics
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from typer.core import TyperGroup

__all__ = ["app", "main", "parse_sets"]

DEFAULT_OUT = "dltheory-results"


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


class _OneLineErrors(TyperGroup):
    """The command group: usage errors (a bad option value, a missing argument, an unknown
    option) end in the project's one line on stderr and exit code 2, not a usage panel."""

    def main(  # type: ignore[override]
        self,
        args: Any = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **kwargs: Any,
    ) -> Any:
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, False, **kwargs)
        from typer._click import exceptions as cx  # the click that typer vendors

        try:
            rv = super().main(args, prog_name, complete_var, False, **kwargs)
        except cx.ClickException as exc:
            message = _one_line(exc.format_message())
            if message:  # (no arguments at all: the help was shown instead)
                print(f"dltheory: error: {message}", file=sys.stderr)
            sys.exit(exc.exit_code)
        except (typer.Abort, KeyboardInterrupt):
            print("dltheory: interrupted", file=sys.stderr)
            sys.exit(130)
        sys.exit(rv if isinstance(rv, int) else 0)


app = typer.Typer(
    name="dltheory",
    help="The lab of dltheory: run the claims of the lectures and check their verdicts.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    cls=_OneLineErrors,
)
_out = Console()
_err = Console(stderr=True)

F = TypeVar("F", bound=Callable[..., Any])


def _one_line_errors(func: F) -> F:
    """``ValueError``/``TypeError``/``OSError`` -> one stderr line, exit 2; Ctrl-C -> one line
    saying what was kept, exit 130."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except (ValueError, TypeError, OSError) as exc:
            message = _one_line(str(exc)) or type(exc).__name__
            print(f"dltheory: error: {message}", file=sys.stderr)
            raise typer.Exit(code=2) from None
        except KeyboardInterrupt as exc:
            print(f"dltheory: {_one_line(str(exc)) or 'interrupted'}", file=sys.stderr)
            raise typer.Exit(code=130) from None

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
OutOpt = Annotated[str, typer.Option("--out", "-o", help="Output directory.")]
DirArg = Annotated[str, typer.Argument(help="Output directory of earlier runs.")]


def _directory(text: str, name: str = "--out") -> Path:
    """A directory argument: not empty (``--out ""`` would mean the current directory)."""
    if not text.strip():
        raise ValueError(f"{name}: expected a directory, got an empty string; name one")
    return Path(text)


ExecOpt = Annotated[
    str, typer.Option("--executor", "-e", help="Where units run: local (processes) or dask.")
]
AddressOpt = Annotated[
    str | None, typer.Option("--address", help="Dask scheduler address (tcp://host:port).")
]
WorkersOpt = Annotated[
    int | None, typer.Option("--workers", "-w", help="Worker processes (default 2).")
]


StrictOpt = Annotated[
    bool,
    typer.Option(
        "--strict", help="Exit with code 1 when a claim is 'not reproduced' (for CI use)."
    ),
]

_COLOUR = {"reproduced": "green", "not reproduced": "red", "inconclusive": "yellow"}


@app.command("list")
@_one_line_errors
def list_claims(
    markdown: Annotated[
        bool,
        typer.Option(
            "--markdown", help="Print the catalogue of built-in claims (docs/claims.md) instead."
        ),
    ] = False,
) -> None:
    """List the claims: id, title and source (or, with --markdown, the full catalogue)."""
    if markdown:
        from .claims.catalogue import catalogue_markdown

        sys.stdout.write(catalogue_markdown())
        return
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
def show(
    claim_id: Annotated[str, typer.Argument(help="Claim id (see `dltheory list`).")],
    out: Annotated[
        str | None,
        typer.Option(
            "--out", "-o", help="Results directory: print measured unit times and projections."
        ),
    ] = None,
    profile: ProfileOpt = "full",
    workers: WorkersOpt = None,
) -> None:
    """Show a claim: statement, source and parameters with their quick/full defaults.

    With ``--out DIR``: the units of this claim stored there (count, seconds),
    and, for claims that can project, the measured cost per unit kind and the
    projected wall time of ``--profile`` on 1, 2 and ``--workers`` workers.
    """
    c = _claims().get(claim_id)
    from .validation import check_int

    k = 2 if workers is None else check_int(workers, "--workers", minimum=1, maximum=1024)
    directory = None if out is None else _directory(out)
    if directory is not None:
        from .lab.store import STORE_NAME

        if not (directory / STORE_NAME).is_file():
            raise ValueError(
                f"--out: no results store in {str(directory)!r}; run the claim there first"
            )
    _out.print(f"[bold]{c.title}[/bold]  ({c.id})")
    _out.print(f"[dim]source:[/dim] {c.source}")
    _out.print(f"\n{escape(c.statement)}\n")
    if c.rule:
        _out.print(f"[dim]rule (protocol v{c.version}):[/dim] {escape(c.rule)}\n")
    if c.data_note:
        _out.print(f"[dim]data:[/dim] {escape(c.data_note)}\n")
    table = Table(title="parameters (--set NAME=VALUE)")
    for col in ("name", "kind", "quick", "full", "help"):
        table.add_column(col)
    for p in c.params:
        kind = p.kind + (f" {{{', '.join(p.choices)}}}" if p.choices else "")
        table.add_row(p.name, kind, str(p.quick), str(p.full), p.help)
    _out.print(table)
    if directory is not None:
        _show_measured(c, directory, profile, k)


def _show_measured(claim: Any, directory: Path, profile: str, workers: int) -> None:
    """Stored units of ``claim`` in ``directory`` (read only) and the claim's projection."""
    from .lab.runner import unit_version
    from .lab.store import STORE_NAME, Store

    if not (directory / STORE_NAME).is_file():
        raise ValueError(
            f"--out: no results store in {str(directory)!r}; run the claim there first"
        )
    with Store(directory) as store:
        rows = [r for r in store.rows(claim.id) if r["version"] == unit_version(claim)]
    secs = [float(r["seconds"]) for r in rows if r.get("seconds") is not None]
    if not rows:
        _out.print(f"\nno stored units of {claim.id} (protocol v{claim.version}) in {directory}")
        return
    total = sum(secs)
    _out.print(
        f"\n{len(rows)} stored units of {claim.id} (protocol v{claim.version}): "
        f"{total:.1f} s in all, median {statistics.median(secs) if secs else 0:.2f} s per unit"
    )
    project = getattr(claim, "projection", None)
    if callable(project):
        params = claim.defaults(profile)
        for line in project(params, [r["metrics"] for r in rows], workers):
            _out.print(f"  {escape(line)}")


def _summary_table(results: list[Any]) -> Table:
    table = Table(title="dltheory results")
    for col in ("id", "verdict", "seconds", "units run", "reused"):
        table.add_column(col, overflow="fold")
    for r in results:
        colour = _COLOUR.get(r.outcome, "red")
        table.add_row(
            r.id,
            f"[{colour}]{r.label}[/{colour}]",
            f"{r.seconds:.1f}",
            str(r.units_run),
            str(r.units_reused),
        )
    return table


def _explain(results: list[Any]) -> None:
    """One line per claim: its outcome and why."""
    for r in results:
        colour = _COLOUR.get(r.outcome, "red")
        _out.print(
            f"[bold]{r.id}[/bold] [{colour}]{r.label}[/{colour}]: {escape(r.summary)}",
            soft_wrap=True,
        )


def _strict_exit(strict: bool, results: list[Any]) -> None:
    failed = [r.id for r in results if r.outcome == "not reproduced"]
    if strict and failed:
        print(f"dltheory: not reproduced: {', '.join(failed)}", file=sys.stderr)
        raise typer.Exit(code=1)


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
    strict: StrictOpt = False,
) -> None:
    """Run one claim, resuming from the results store in --out."""
    from .lab import ensure_writable, run_claim

    claim = _claims().get(claim_id)
    overrides = parse_sets(set_)
    params = claim.resolve(_check_profile(profile), overrides)
    _validate_executor(executor, address, workers, seed)
    target = ensure_writable(_directory(out))
    result = run_claim(
        claim,
        params,
        seed,
        target,
        executor,
        address,
        workers,
        progress=True,
        profile=profile,
        overrides=overrides,
    )
    _out.print(_summary_table([result]))
    _explain([result])
    _out.print(f"[dim]{result.summary_path}, {result.figure_path}[/dim]")
    _strict_exit(strict, [result])


def _validate_executor(
    executor: str, address: str | None, workers: int | None, seed: int = 0
) -> None:
    from .lab import EXECUTORS
    from .validation import check_int, check_seed

    check_seed(seed, "--seed")
    if executor not in EXECUTORS:
        raise ValueError(f"--executor: expected one of {', '.join(EXECUTORS)}, got {executor!r}")
    if address is not None and executor != "dask":
        raise ValueError("--address: only meaningful with --executor dask")
    if workers is not None:
        check_int(workers, "--workers", minimum=1, maximum=1024)


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
    strict: StrictOpt = False,
) -> None:
    """Run every claim (or the --only ones), then write report.html and REPORT.md."""
    from .lab import ensure_writable, run_claim, write_report

    claims = _claims()
    _check_profile(profile)
    ids = list(dict.fromkeys(only)) if only else sorted(claims.REGISTRY)
    selected = [claims.get(i) for i in ids]
    _validate_executor(executor, address, workers, seed)
    target = ensure_writable(_directory(out))
    results = []
    for claim in selected:
        params = claim.resolve(profile)
        results.append(
            run_claim(
                claim,
                params,
                seed,
                target,
                executor,
                address,
                workers,
                progress=True,
                profile=profile,
            )
        )
    html_path, md_path = write_report(target)
    _out.print(_summary_table(results))
    _explain(results)
    _out.print(f"[dim]{html_path}, {md_path}[/dim]")
    _strict_exit(strict, results)


@app.command("report")
@_one_line_errors
def report(directory: DirArg) -> None:
    """(Re)write report.html and REPORT.md from the claim results in DIRECTORY."""
    from .lab import ensure_writable, write_report

    out = _directory(directory, "report")
    if not out.is_dir():
        raise ValueError(f"report: {out} is not a directory of results")
    ensure_writable(out)
    html_path, md_path = write_report(out)
    _out.print(f"{html_path}\n{md_path}")


@app.command("verdicts")
@_one_line_errors
def verdicts(
    directory: DirArg,
    record: Annotated[
        bool,
        typer.Option(
            "--record",
            help="Write DIRECTORY's full-profile verdicts into the recorded ones (maintainers).",
        ),
    ] = False,
) -> None:
    """Check DIRECTORY's verdicts against the recorded full ones (exit 1 on a contradiction).

    A quick profile may be inconclusive where full decides; it must never give
    the opposite decisive outcome.  With --record, DIRECTORY's full-profile
    results are written into the package's recorded verdicts instead.
    """
    from .claims import recorded

    out = _directory(directory, "verdicts")
    from .lab.report import load_summaries

    if not out.is_dir():
        raise ValueError(f"verdicts: {out} is not a directory of results")
    docs = load_summaries(out)
    if record:
        added = recorded.record_results(docs)
        for r in added:
            _out.print(
                f"recorded {r.claim} v{r.version} full: {r.outcome} ({r.commit[:10]}), "
                f"resting on {r.rests_on}"
            )
        _out.print(f"[dim]{recorded.RECORDED_PATH}[/dim]")
        return
    checks = recorded.check(docs)
    table = Table(title=f"verdicts in {out} against the recorded full profile")
    table.add_column("id", overflow="fold")
    for col in ("protocol", "profile", "outcome", "recorded full", "status"):
        table.add_column(col, overflow="fold")
    style = {"agrees": "green", "weaker": "yellow", "contradicts": "red"}
    for c in checks:
        st = style.get(c.status, "dim")
        table.add_row(
            c.claim,
            f"v{c.version}",
            c.profile,
            c.outcome,
            c.recorded or "-",
            f"[{st}]{c.status}[/{st}]",
        )
    _out.print(table)
    bad = [c for c in checks if c.status == "contradicts"]
    if bad:
        for c in bad:
            print(
                f"dltheory: {c.claim}: {c.profile} says {c.outcome!r}, recorded full says "
                f"{c.recorded!r} ({c.detail})",
                file=sys.stderr,
            )
        raise typer.Exit(code=1)


def main() -> None:
    """Entry point of ``python -m dltheory``."""
    app(prog_name="dltheory")
