"""The results store: one SQLite file holding one row per finished unit.

Each row is keyed by :func:`unit_key`, the SHA-256 of the canonical JSON of
``(claim id, unit config, seed, dltheory version)``, so a repeated or
interrupted sweep finds the units it already ran and resumes.  Rows are only
ever added with ``INSERT OR IGNORE`` and every write is its own transaction in
WAL mode, so several processes may share one store and a killed run loses at
most the units that were in flight.

A file that is not a dltheory store (not SQLite, corrupt, or another
application's SQLite database, recognised by its header's ``application_id``
or its tables) is refused with a ``ValueError`` naming it and is never
modified: its header is read directly, it is validated through a read-only
connection before anything is written, and no ``-wal`` / ``-shm`` file is
left beside a refused file.

A unit whose run failed (an exception in the claim's code, or metrics that are
not finite) is recorded in the ``failures`` table with the reason, never as a
result; a later successful run of the same unit replaces it.  Stores of
schema 1 (no failures table, no application id) are upgraded in place.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = ["APPLICATION_ID", "STORE_NAME", "SCHEMA", "Store", "unit_key", "to_json"]

#: File name of the store inside an output directory.
STORE_NAME = "results.sqlite"
#: Version of the table layout written in the ``meta`` table.
SCHEMA = 2
#: ``PRAGMA application_id`` of a dltheory store ("dlth"), in the file header at offset 68.
APPLICATION_ID = 0x646C7468
_APP = "dltheory"
_BUSY_TIMEOUT_MS = 30_000

_CREATE = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS units (
    key TEXT PRIMARY KEY,
    claim TEXT NOT NULL,
    config TEXT NOT NULL,
    seed INTEGER NOT NULL,
    version TEXT NOT NULL,
    metrics TEXT NOT NULL,
    seconds REAL NOT NULL,
    created REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS units_claim ON units (claim);
CREATE TABLE IF NOT EXISTS failures (
    key TEXT PRIMARY KEY,
    claim TEXT NOT NULL,
    config TEXT NOT NULL,
    seed INTEGER NOT NULL,
    version TEXT NOT NULL,
    reason TEXT NOT NULL,
    created REAL NOT NULL
);
"""


def _default(obj: Any) -> Any:
    """JSON fallback for tuples inside sets, numpy scalars and arrays."""
    if hasattr(obj, "tolist"):
        return obj.tolist()
    if isinstance(obj, (set, frozenset)):
        return sorted(obj)
    raise TypeError(f"metrics: value of type {type(obj).__name__} is not JSON-serializable")


def to_json(value: Any, *, indent: int | None = None) -> str:
    """Canonical, standard JSON (sorted keys; numpy values converted).

    Raises
    ------
    TypeError
        For values JSON cannot hold.
    ValueError
        For NaN or infinite floats (not standard JSON; a metric that is not
        finite is a failed measurement, not a number to store).
    """
    return json.dumps(value, sort_keys=True, default=_default, indent=indent, allow_nan=False)


def unit_key(claim: str, config: Mapping[str, Any], seed: int, version: str) -> str:
    """SHA-256 (hex) of the canonical JSON of ``(claim, config, seed, version)``."""
    payload = {"claim": claim, "config": dict(config), "seed": int(seed), "version": version}
    return hashlib.sha256(to_json(payload).encode()).hexdigest()


def _refuse(path: Path, why: str) -> ValueError:
    return ValueError(f"store: {path} is not a dltheory results store ({why}); left untouched")


def _side_files(path: Path) -> list[Path]:
    return [path.with_name(path.name + suffix) for suffix in ("-wal", "-shm", "-journal")]


def _header_application_id(header: bytes) -> int:
    return int.from_bytes(header[68:72], "big") if len(header) >= 72 else 0


def _validate_existing(path: Path) -> bool:
    """Check an existing non-empty file is a healthy dltheory store, without writing to it.

    Returns whether the store needs the schema-1 -> 2 upgrade.  Raises
    ``ValueError`` (file untouched, no side files left) otherwise.
    """
    try:
        with path.open("rb") as fh:
            header = fh.read(100)
    except OSError as exc:
        raise ValueError(f"store: cannot read {path}: {exc.strerror or exc}") from exc
    if header[:16] != b"SQLite format 3\x00":
        raise _refuse(path, "not an SQLite file")
    app_id = _header_application_id(header)
    if app_id not in (0, APPLICATION_ID):
        raise _refuse(
            path, f"an SQLite database of another application (application_id {app_id:#x})"
        )
    existed = {p for p in _side_files(path) if p.exists()}
    # without a -wal beside it no writer is active: open immutable, which creates nothing
    mode = "ro" if any(p.name.endswith("-wal") for p in existed) else "ro&immutable=1"
    try:
        try:
            con = sqlite3.connect(f"{path.resolve().as_uri()}?mode={mode}", uri=True, timeout=30)
        except sqlite3.Error as exc:
            raise _refuse(path, f"cannot open: {exc}") from exc
        try:
            check = con.execute("PRAGMA quick_check").fetchone()
            if check is None or check[0] != "ok":
                raise _refuse(path, f"corrupt: {check[0] if check else 'no answer'}")
            tables = {
                r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")
            }
            if not tables:  # an empty SQLite file: a writer is creating the store right now
                return False
            if "meta" not in tables:
                raise _refuse(path, "an SQLite database of another application: no meta table")
            meta = dict(con.execute("SELECT name, value FROM meta").fetchall())
        except sqlite3.Error as exc:
            raise _refuse(path, f"corrupt or unreadable: {exc}") from exc
        finally:
            con.close()
        if meta.get("app") != _APP:
            raise _refuse(path, f"app marker is {meta.get('app')!r}, not {_APP!r}")
        if meta.get("schema") not in ("1", str(SCHEMA)):
            raise _refuse(
                path, f"schema {meta.get('schema')!r}; this dltheory reads 1 and {SCHEMA}"
            )
        if "units" not in tables:
            raise _refuse(path, "no units table")
        return meta.get("schema") == "1"
    except ValueError:
        for p in _side_files(path):  # leave a refused file as it was found
            if p not in existed and p.exists():
                p.unlink()
        raise


class Store:
    """An open results store (see the module docstring).

    Parameters
    ----------
    path : str or Path
        The SQLite file, or a directory in which ``results.sqlite`` is used.
        It is created when missing (its directory must exist).

    Raises
    ------
    ValueError
        If ``path`` exists but is not a dltheory store; the file is not modified.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        p = Path(path)
        if p.is_dir():
            p = p / STORE_NAME
        self.path = p
        fresh = not p.exists() or p.stat().st_size == 0
        upgrade = False if fresh else _validate_existing(p)
        try:
            self._con = sqlite3.connect(str(p), timeout=_BUSY_TIMEOUT_MS / 1000)
        except sqlite3.Error as exc:
            raise ValueError(f"store: cannot open {p}: {exc}") from exc
        try:
            self._con.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
            self._con.execute("PRAGMA journal_mode = WAL")
            self._con.execute("PRAGMA synchronous = NORMAL")
            with self._con:
                self._con.execute(f"PRAGMA application_id = {APPLICATION_ID}")
                self._con.executescript(_CREATE)
                self._con.execute(
                    "INSERT OR IGNORE INTO meta (name, value) VALUES ('app', ?), ('schema', ?)",
                    (_APP, str(SCHEMA)),
                )
                if upgrade:  # schema 1 -> 2: the failures table (created above) and the id
                    self._con.execute(
                        "UPDATE meta SET value = ? WHERE name = 'schema'", (str(SCHEMA),)
                    )
        except sqlite3.Error as exc:
            self._con.close()
            raise ValueError(f"store: cannot initialise {p}: {exc}") from exc

    # -- context manager -------------------------------------------------
    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection (idempotent)."""
        self._con.close()

    # -- reading ----------------------------------------------------------
    def get(self, key: str) -> dict[str, Any] | None:
        """The row stored under ``key`` (metrics and config decoded), or ``None``."""
        row = self._con.execute(
            "SELECT key, claim, config, seed, version, metrics, seconds, created "
            "FROM units WHERE key = ?",
            (key,),
        ).fetchone()
        return None if row is None else self._decode(row)

    def rows(self, claim: str | None = None) -> list[dict[str, Any]]:
        """All rows, or those of one claim, oldest first."""
        sql = "SELECT key, claim, config, seed, version, metrics, seconds, created FROM units"
        args: tuple[Any, ...] = ()
        if claim is not None:
            sql += " WHERE claim = ?"
            args = (claim,)
        sql += " ORDER BY created, key"
        return [self._decode(r) for r in self._con.execute(sql, args).fetchall()]

    def count(self, claim: str | None = None) -> int:
        """Number of rows, or of one claim's rows."""
        if claim is None:
            (n,) = self._con.execute("SELECT COUNT(*) FROM units").fetchone()
        else:
            (n,) = self._con.execute(
                "SELECT COUNT(*) FROM units WHERE claim = ?", (claim,)
            ).fetchone()
        return int(n)

    # -- writing ----------------------------------------------------------
    def put(
        self,
        claim: str,
        config: Mapping[str, Any],
        seed: int,
        version: str,
        metrics: Mapping[str, Any],
        seconds: float,
    ) -> str:
        """Store one unit's metrics (ignored if its key is already stored); returns the key."""
        key = unit_key(claim, config, seed, version)
        try:
            metrics_json = to_json(dict(metrics))
        except ValueError:
            raise ValueError(
                f"metrics: unit {key[:12]} of claim {claim!r} has NaN or infinite values; "
                "a failed measurement is recorded with Store.fail, never stored as a result"
            ) from None
        with self._con:
            self._con.execute("DELETE FROM failures WHERE key = ?", (key,))
            self._con.execute(
                "INSERT OR IGNORE INTO units "
                "(key, claim, config, seed, version, metrics, seconds, created) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    key,
                    claim,
                    to_json(dict(config)),
                    int(seed),
                    version,
                    metrics_json,
                    float(seconds),
                    time.time(),
                ),
            )
        return key

    def fail(
        self, claim: str, config: Mapping[str, Any], seed: int, version: str, reason: str
    ) -> str:
        """Record that a unit failed, with the reason (replacing an earlier failure)."""
        key = unit_key(claim, config, seed, version)
        with self._con:
            self._con.execute(
                "INSERT OR REPLACE INTO failures "
                "(key, claim, config, seed, version, reason, created) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (key, claim, to_json(dict(config)), int(seed), version, str(reason), time.time()),
            )
        return key

    def failures(self, claim: str | None = None) -> list[dict[str, Any]]:
        """Recorded failures (all, or one claim's), oldest first: key, claim, seed, reason."""
        sql = "SELECT key, claim, config, seed, version, reason, created FROM failures"
        args: tuple[Any, ...] = ()
        if claim is not None:
            sql += " WHERE claim = ?"
            args = (claim,)
        rows = self._con.execute(sql + " ORDER BY created, key", args).fetchall()
        return [
            {
                "key": k,
                "claim": c,
                "config": json.loads(cfg),
                "seed": sd,
                "version": v,
                "reason": r,
                "created": t,
            }
            for k, c, cfg, sd, v, r, t in rows
        ]

    @staticmethod
    def _decode(row: tuple[Any, ...]) -> dict[str, Any]:
        key, claim, config, seed, version, metrics, seconds, created = row
        return {
            "key": key,
            "claim": claim,
            "config": json.loads(config),
            "seed": seed,
            "version": version,
            "metrics": json.loads(metrics),
            "seconds": seconds,
            "created": created,
        }
