"""``python -m dltheory``: the command-line lab (see :mod:`dltheory.cli`)."""

from __future__ import annotations

__all__: list[str] = []

if __name__ == "__main__":
    from .cli import main

    main()
