"""Run a claim: its sweep of units on local processes or a Dask cluster, stored as they finish.

:func:`run_claim` computes the claim's units, skips those already in the
results store (resume), runs the rest, and writes each result to the store the
moment it arrives, so an interrupted run loses at most the units in flight.
The verdict and the figure are then computed from the *stored* metrics (the
same JSON round trip whether a unit ran now or earlier), and a JSON summary is
written to ``out_dir/claims/<id>.json``.

Units travel to workers as ``(claim id, claim module, config, seed)``: the
worker looks the claim up in :data:`dltheory.claims.REGISTRY`, importing its
module first if needed, so claims registered by a plugin module
(``DLTHEORY_EXTRA_CLAIMS``) work on any executor.
"""

from __future__ import annotations

import contextlib
import importlib
import multiprocessing
import os
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from ..claims import Claim, Unit
from ..validation import check_int, check_seed
from .store import Store, to_json, unit_key

__all__ = [
    "EXECUTORS",
    "MAX_UNITS",
    "ClaimResult",
    "Interrupted",
    "run_claim",
    "run_unit",
    "unit_version",
    "atomic_write",
    "atomic_write_text",
    "ensure_writable",
]

EXECUTORS = ("local", "dask")


class Interrupted(KeyboardInterrupt):
    """Ctrl-C during a run; the message says what was kept."""
#: Most units one claim may plan (every parameter is bounded; this bounds their product).
MAX_UNITS = 100_000


@dataclass(frozen=True)
class ClaimResult:
    """What :func:`run_claim` returns (and what ``claims/<id>.json`` holds)."""

    id: str
    label: str
    reproduced: bool
    outcome: str
    summary: str
    numbers: dict[str, Any]
    params: dict[str, Any]
    seed: int
    seconds: float
    units_run: int
    units_reused: int
    results: list[dict[str, Any]] = field(repr=False)
    summary_path: Path
    figure_path: Path | None


def _version() -> str:
    from .. import __version__

    return __version__


def unit_version(claim: Claim) -> str:
    """The version string units of ``claim`` are keyed by: dltheory's and the protocol's."""
    return f"{_version()}+v{int(claim.version)}"


def run_unit(claim_id: str, module: str, config: Mapping[str, Any], seed: int) -> dict[str, Any]:
    """Run one unit in the current process; returns ``{"metrics": ..., "seconds": ...}``.

    This is the function shipped to worker processes: it only takes picklable
    arguments and finds the claim in the registry (importing ``module`` first
    when the claim is not registered yet).
    """
    import matplotlib

    matplotlib.use("Agg")
    from .. import claims

    if claim_id not in claims.REGISTRY:
        importlib.import_module(module)
    claim = claims.get(claim_id)
    t0 = time.perf_counter()
    try:
        metrics = claim.run_unit(config, seed)
        to_json(metrics)  # standard JSON only: a NaN or infinite metric is a failed unit
    except (ValueError, TypeError, ArithmeticError, RuntimeError, OSError) as exc:
        text = f"{type(exc).__name__}: {' '.join(str(exc).split())}"
        if isinstance(exc, ValueError) and "Out of range float values" in text:
            text = "metrics: NaN or infinite values (the measurement failed)"
        return {"error": text, "seconds": time.perf_counter() - t0}
    return {"metrics": metrics, "seconds": time.perf_counter() - t0}


@contextlib.contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    """SIGTERM (``kill``, a batch scheduler) stops a sweep like Ctrl-C: workers stopped, one line.

    Without it the parent dies at once and its worker processes keep running.
    """
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def _raise(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt("terminated")

    previous = signal.signal(signal.SIGTERM, _raise)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _quiet_worker() -> None:
    """Workers leave Ctrl-C to the parent, which stops them and says what was kept."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)


def ensure_writable(out_dir: str | os.PathLike[str]) -> Path:
    """Create ``out_dir`` if needed and check a file can be written in it.

    Raises
    ------
    OSError
        Naming ``out_dir`` when it cannot be created or written.
    """
    path = Path(out_dir)
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as exc:
        raise OSError(exc.errno, f"--out: cannot write to {path}: {exc.strerror or exc}") from None
    return path


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def atomic_write(path: Path, write: Callable[[str], None], suffix: str = "") -> None:
    """Call ``write(tmp)`` on a temporary file beside ``path``, then rename it over ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(
        dir=path.parent, prefix=f".{path.stem}.", suffix=suffix or path.suffix
    )
    os.close(fd)
    os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; the user's umask decides
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""

    def write(tmp: str) -> None:
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(text)

    atomic_write(path, write)


@contextlib.contextmanager
def _progress(enabled: bool, total: int, title: str) -> Iterator[Callable[[], None]]:
    if not enabled or total == 0:
        yield lambda: None
        return
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=Console(stderr=True), transient=False) as bar:
        task = bar.add_task(title, total=total)
        yield lambda: bar.advance(task)


def _mp_context() -> multiprocessing.context.BaseContext:
    """``forkserver`` (``spawn`` where unavailable): workers never inherit the parent's threads.

    The fork server imports :mod:`dltheory.claims` once and forks every later
    worker from that clean process, so each pool starts in milliseconds rather
    than re-importing torch in every worker.
    """
    if "forkserver" in multiprocessing.get_all_start_methods():
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(["dltheory.claims"])
        return ctx
    return multiprocessing.get_context("spawn")


def _run_local(
    jobs: list[tuple[str, Unit]], claim: Claim, workers: int, on_done: Callable[..., None]
) -> None:
    ctx = _mp_context()
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_quiet_worker)
    futures: dict[Future[dict[str, Any]], tuple[str, Unit]] = {
        pool.submit(run_unit, claim.id, type(claim).__module__, dict(u.config), u.seed): (k, u)
        for k, u in jobs
    }
    try:
        for fut in as_completed(futures):
            key, unit = futures[fut]
            on_done(unit, fut.result())
    except BaseException:
        # Ctrl-C or an error: stop the workers now, without waiting for running units
        for proc in list(getattr(pool, "_processes", {}).values()):
            proc.terminate()
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown(wait=True)


def _run_dask(
    jobs: list[tuple[str, Unit]],
    claim: Claim,
    workers: int,
    address: str | None,
    on_done: Callable[..., None],
) -> None:
    from dask.distributed import Client, LocalCluster
    from dask.distributed import as_completed as dask_as_completed

    with contextlib.ExitStack() as stack:
        if address:
            try:
                client = stack.enter_context(Client(address, timeout="10s"))
            except (OSError, TimeoutError) as exc:
                raise OSError(f"--address: cannot connect to {address}: {exc}") from None
        else:
            cluster = stack.enter_context(
                LocalCluster(
                    n_workers=workers,
                    processes=True,
                    threads_per_worker=1,
                    dashboard_address=None,
                    silence_logs=40,
                )
            )
            client = stack.enter_context(Client(cluster))
        module = type(claim).__module__
        submitted = {}
        for key, unit in jobs:
            fut = client.submit(
                run_unit,
                claim.id,
                module,
                dict(unit.config),
                unit.seed,
                key=f"{claim.id}-unit-{key}",
                pure=False,
            )
            submitted[fut.key] = (fut, unit)
        for fut in dask_as_completed([f for f, _ in submitted.values()]):
            _, unit = submitted[fut.key]
            on_done(unit, fut.result())


def _finite(value: Any) -> Any:
    """A copy with every non-finite float replaced by ``None`` (standard JSON for summaries).

    A verdict's numbers may say "unbounded" with an infinite float; stored
    *metrics* are never sanitized: a non-finite metric fails its unit instead.
    """
    if isinstance(value, float):
        return value if value == value and abs(value) != float("inf") else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def _history(claim: Claim) -> list[dict[str, Any]]:
    """The claim's earlier protocols: each revision with the recorded verdicts before it."""
    from ..claims.recorded import records_for

    records = records_for(claim.id)
    out = []
    for rev in sorted(claim.history, key=lambda r: r.version):
        before = [r for r in records if r.version == rev.version - 1]
        out.append(
            {
                "version": rev.version,
                "date": rev.date,
                "change": rev.change,
                "why": rev.why,
                "previous": [
                    {
                        "version": r.version,
                        "profile": r.profile,
                        "outcome": r.outcome,
                        "date": r.date,
                        "commit": r.commit,
                        "summary": r.summary,
                    }
                    for r in before
                ],
            }
        )
    return out


def run_claim(
    claim: Claim,
    params: Mapping[str, Any],
    seed: int,
    out_dir: str | os.PathLike[str],
    executor: str = "local",
    address: str | None = None,
    workers: int | None = None,
    progress: bool = True,
    profile: str | None = None,
    overrides: Mapping[str, str] | None = None,
) -> ClaimResult:
    """Run a claim's sweep, resuming from the store, and write its verdict, figure and summary.

    Parameters
    ----------
    claim : Claim
        A registered claim.
    params : mapping
        Resolved parameter values (see :meth:`Claim.resolve`).
    seed : int
        Base seed handed to :meth:`Claim.units`.
    out_dir : str or Path
        Output directory: ``results.sqlite``, ``figures/<id>.png``, ``claims/<id>.json``.
    executor : {"local", "dask"}
        Local processes, or a Dask cluster (``address``, or a local one).
    address : str, optional
        Scheduler address (``tcp://host:port``) for ``executor="dask"``.
    workers : int, optional
        Number of worker processes (default 2); ignored when ``address`` is given.
    progress : bool
        Show a progress bar over the units (on stderr).
    profile : str, optional
        The profile ``params`` came from (``quick`` / ``full``), recorded in the
        summary; ``None`` for hand-made parameters.
    overrides : mapping, optional
        The ``--set`` overrides applied on top of the profile (recorded; a run
        with overrides is another protocol and is not compared with the
        recorded verdicts).

    Returns
    -------
    ClaimResult
    """
    if executor not in EXECUTORS:
        raise ValueError(f"--executor: expected one of {EXECUTORS}, got {executor!r}")
    if address is not None and executor != "dask":
        raise ValueError("--address: only meaningful with --executor dask")
    n_workers = 2 if workers is None else check_int(workers, "--workers", minimum=1, maximum=1024)
    seed = check_seed(seed, "--seed")
    out = ensure_writable(out_dir)
    version = unit_version(claim)
    t0 = time.perf_counter()
    units = claim.units(params, seed)
    if len(units) > MAX_UNITS:
        raise ValueError(
            f"--set: these parameters plan {len(units):,} units of claim {claim.id!r}; at most "
            f"{MAX_UNITS:,}: lower the number of seeds, draws or configurations"
        )
    keys = [unit_key(claim.id, u.config, u.seed, version) for u in units]
    with Store(out) as store:
        todo = [(k, u) for k, u in zip(keys, units, strict=True) if store.get(k) is None]
        # Identical units (same key) run once.
        todo = list({k: (k, u) for k, u in todo}.values())
        reused = len(units) - len(todo)
        with _progress(progress, len(todo), claim.id) as advance:

            def on_done(unit: Unit, res: dict[str, Any]) -> None:
                if "error" in res:
                    store.fail(claim.id, unit.config, unit.seed, version, res["error"])
                else:
                    store.put(
                        claim.id, unit.config, unit.seed, version, res["metrics"], res["seconds"]
                    )
                advance()

            try:
                with _terminate_as_interrupt():
                    if todo and executor == "dask":
                        _run_dask(todo, claim, n_workers, address, on_done)
                    elif todo:
                        _run_local(todo, claim, n_workers, on_done)
            except KeyboardInterrupt:
                done = sum(1 for k in keys if store.get(k) is not None)
                raise Interrupted(
                    f"interrupted: {done} of {len(keys)} units of {claim.id} are stored in "
                    f"{store.path}; run the same command again to resume"
                ) from None
        results = []
        failed = []
        for k in keys:
            row = store.get(k)
            if row is None:
                failed.append(k)
            else:
                results.append(row["metrics"])
        if failed:
            reasons = {f["key"]: f["reason"] for f in store.failures(claim.id)}
            first = next((reasons[k] for k in failed if k in reasons), "no result stored")
            raise ValueError(
                f"claim {claim.id}: {len(failed)} of {len(keys)} units failed, nothing decided "
                f"(first: {first}); the {len(keys) - len(failed)} others are stored and will be "
                "reused"
            )
    verdict = claim.verdict(params, results)
    figure_path = out / "figures" / f"{claim.id}.png"
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    try:
        atomic_write(figure_path, lambda tmp: claim.figure(params, results, tmp), suffix=".png")
    finally:
        plt.close("all")
    seconds = time.perf_counter() - t0
    summary_path = out / "claims" / f"{claim.id}.json"
    plain_params = {k: list(v) if isinstance(v, tuple) else v for k, v in params.items()}
    doc = {
        "id": claim.id,
        "title": claim.title,
        "source": claim.source,
        "statement": claim.statement,
        "rule": claim.rule,
        "params": plain_params,
        "profile": profile,
        "overrides": dict(overrides or {}),
        "seed": seed,
        "verdict": verdict.label,
        "reproduced": verdict.reproduced,
        "summary": verdict.summary,
        "numbers": dict(verdict.numbers),
        "effects": [e.to_json() for e in verdict.effects],
        "decide_by": verdict.decide_by,
        "robustness": [r.to_json() for r in verdict.robustness],
        "seconds": seconds,
        "units": len(units),
        "units_run": len(todo),
        "units_reused": reused,
        "data_note": claim.data_note,
        "version": version,
        "claim_version": int(claim.version),
        "history": _history(claim),
    }
    atomic_write_text(summary_path, to_json(_finite(doc), indent=2) + "\n")
    return ClaimResult(
        id=claim.id,
        label=verdict.label,
        reproduced=verdict.reproduced,
        outcome=verdict.outcome,
        summary=verdict.summary,
        numbers=dict(verdict.numbers),
        params=plain_params,
        seed=seed,
        seconds=seconds,
        units_run=len(todo),
        units_reused=reused,
        results=results,
        summary_path=summary_path,
        figure_path=figure_path,
    )
