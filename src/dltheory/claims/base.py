"""What a claim is: a theorem or experiment of the lectures that anyone can run and check.

A claim has an id, its source, the statement, parameters with a ``quick`` and a
``full`` profile, a sweep of independent *units* (configuration x seed) that
each measure something, a verdict computed from all units' results by a rule
fixed in the claim's code before any result is seen (in the shared vocabulary
of :mod:`dltheory.claims.evidence`: three outcomes, effects with intervals over
seeds), and a figure.

A protocol that changes after a run keeps its history: the claim's
``version`` goes up and a :class:`Revision` says what changed and why; stored
units are keyed by the version, and the report shows the earlier protocol's
recorded verdicts beside the new one.

Units are pure functions of ``(config, seed)`` returning JSON-serializable
metrics, so the lab can run them in any process (local or on a Dask cluster),
store each one as it finishes, and resume an interrupted sweep.  Adding a claim
is one module in :mod:`dltheory.claims` that defines a :class:`Claim` subclass
and registers it with :func:`register`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..validation import check_choice, check_float, check_int, check_ints, describe
from .evidence import Verdict

__all__ = ["Param", "Unit", "Verdict", "Revision", "Claim", "register", "REGISTRY", "PROFILES"]

PROFILES = ("quick", "full")


#: Kinds of parameters.
KINDS = ("int", "float", "str", "bool", "ints")
#: Longest list an ``ints`` parameter accepts, and longest ``str`` value.
MAX_ITEMS, MAX_TEXT = 64, 4096


@dataclass(frozen=True)
class Param:
    """A parameter a user may override with ``--set name=value``.

    ``quick`` and ``full`` are the profile defaults; ``kind`` is one of
    :data:`KINDS` (``ints`` is a comma-separated list of ints); ``choices``
    restricts ``str`` values; ``minimum`` and ``maximum`` bound numbers (each
    element of an ``ints``).  Every ``int`` and ``float`` parameter of a
    built-in claim has both bounds, following from what the claim can
    compute, so an infeasible value is refused before any work.  Values are
    checked with :mod:`dltheory.validation`: integers are integers, floats are
    finite.
    """

    name: str
    kind: str
    quick: Any
    full: Any
    help: str
    choices: tuple[str, ...] | None = None
    minimum: float | None = None
    maximum: float | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"Param {self.name}: kind {self.kind!r} is not one of {KINDS}")
        if self.kind in ("int", "float", "ints") and (self.minimum is None or self.maximum is None):
            raise ValueError(
                f"Param {self.name}: a numeric parameter needs both a minimum and a maximum "
                "(what the claim can compute), so infeasible values are refused before any work"
            )

    @property
    def option(self) -> str:
        return f"--set {self.name}"

    def parse(self, text: str) -> Any:
        """Parse and validate a ``--set`` value; ``ValueError`` naming the parameter otherwise."""
        if not isinstance(text, str):
            raise TypeError(f"{self.option}: expected text, got {type(text).__name__}")
        raw = text.strip()
        try:
            if self.kind == "int":
                value: Any = int(raw)
            elif self.kind == "float":
                value = float(raw)
            elif self.kind == "bool":
                if raw.lower() not in ("true", "false", "1", "0", "yes", "no"):
                    raise ValueError(raw)
                value = raw.lower() in ("true", "1", "yes")
            elif self.kind == "ints":
                items = [t for t in raw.split(",") if t.strip()]
                if not items or len(items) > MAX_ITEMS:
                    raise ValueError(raw)
                value = tuple(int(t) for t in items)
            else:
                value = text
        except ValueError:
            raise ValueError(
                f"{self.option}: expected {self.kind}, got {describe(text)} ({self.help})"
            ) from None
        return self.validate(value)

    def validate(self, value: Any) -> Any:
        """Check a value of the right kind against the bounds and choices; returns it."""
        lo = None if self.minimum is None else self.minimum
        hi = None if self.maximum is None else self.maximum
        if self.kind == "int":
            return check_int(
                value,
                self.option,
                minimum=None if lo is None else int(lo),
                maximum=None if hi is None else int(hi),
            )
        if self.kind == "ints":
            return check_ints(
                value,
                self.option,
                minimum=None if lo is None else int(lo),
                maximum=None if hi is None else int(hi),
            )
        if self.kind == "float":
            return check_float(value, self.option, minimum=lo, maximum=hi)
        if self.kind == "bool":
            if not isinstance(value, bool):
                raise TypeError(f"{self.option}: expected true or false, got {describe(value)}")
            return value
        if not isinstance(value, str) or len(value) > MAX_TEXT:
            raise ValueError(f"{self.option}: expected text of at most {MAX_TEXT} characters")
        if self.choices is not None:
            return check_choice(value, self.option, self.choices)
        return value


@dataclass(frozen=True)
class Unit:
    """One independent piece of a sweep: a configuration and a seed."""

    config: Mapping[str, Any]
    seed: int


@dataclass(frozen=True)
class Revision:
    """One change of a claim's protocol: the version it introduced, when, what and why.

    The verdicts of the version before it are in the recorded verdicts
    (:mod:`dltheory.claims.recorded`); the report shows them side by side.
    """

    version: int
    date: str
    change: str
    why: str


class Claim(ABC):
    """Base class of every claim (see the module docstring)."""

    id: str
    title: str
    source: str
    statement: str
    params: tuple[Param, ...] = ()
    #: One line saying which data stands in for a paper's data set, if any.
    data_note: str = ""
    #: The verdict rule in words (the catalogue prints it); the code is the rule.
    rule: str = ""
    #: Protocol version; stored units and recorded verdicts are keyed by it.
    version: int = 1
    #: Earlier protocols: what changed at each later version, and why.
    history: tuple[Revision, ...] = ()

    def defaults(self, profile: str) -> dict[str, Any]:
        """Parameter values of a profile (``quick`` or ``full``)."""
        if profile not in PROFILES:
            raise ValueError(f"--profile: expected one of {PROFILES}, got {profile!r}")
        return {p.name: getattr(p, profile) for p in self.params}

    def resolve(self, profile: str, overrides: Mapping[str, str] | None = None) -> dict[str, Any]:
        """Profile defaults updated with validated ``--set`` overrides (strings)."""
        values = self.defaults(profile)
        known = {p.name: p for p in self.params}
        for key, text in (overrides or {}).items():
            if key not in known:
                raise ValueError(
                    f"--set {key}: unknown parameter of claim {self.id!r}; "
                    f"known: {', '.join(sorted(known)) or 'none'}"
                )
            values[key] = known[key].parse(text)
        self.check(values)
        return values

    def check(self, params: Mapping[str, Any]) -> None:
        """Refuse parameter values that are valid one by one but infeasible together.

        Called by :meth:`resolve` before any unit is planned, so a value that
        could only fail inside a worker (a dense tensor too large, a tree that
        cannot be built) is refused with a ``ValueError`` naming ``--set``
        first.  The default checks nothing.
        """
        return None

    @abstractmethod
    def units(self, params: Mapping[str, Any], seed: int) -> list[Unit]:
        """The sweep: independent units for these parameters and base seed."""

    @abstractmethod
    def run_unit(self, config: Mapping[str, Any], seed: int) -> dict[str, Any]:
        """Measure one unit; returns JSON-serializable metrics.  Deterministic in ``seed``."""

    @abstractmethod
    def verdict(self, params: Mapping[str, Any], results: list[dict[str, Any]]) -> Verdict:
        """Decide from all units' results, by a rule fixed in the code."""

    @abstractmethod
    def figure(self, params: Mapping[str, Any], results: list[dict[str, Any]], path: str) -> None:
        """Draw the claim's figure to ``path`` (PNG) with matplotlib (Agg backend)."""


REGISTRY: dict[str, Claim] = {}


def register(cls: type[Claim]) -> type[Claim]:
    """Class decorator: add a claim to :data:`REGISTRY` under its id."""
    claim = cls()
    previous = REGISTRY.get(claim.id)
    if previous is not None:
        same = (
            type(previous).__module__ == cls.__module__
            and type(previous).__qualname__ == cls.__qualname__
        )
        if not same:
            raise ValueError(f"claim id {claim.id!r} registered twice")
        # The same class imported again (e.g. a plugin module reloaded): keep the first.
        return cls
    REGISTRY[claim.id] = claim
    return cls
