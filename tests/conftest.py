"""Test-suite settings: hypothesis runs derandomized unless asked otherwise.

The property tests draw the same examples on every run, so CI is reproducible
(same seed, same numbers).  Explore new examples locally with
``HYPOTHESIS_PROFILE=explore pytest`` (random draws, more examples).
"""

from __future__ import annotations

import os

import pytest
from hypothesis import settings

settings.register_profile("default", derandomize=True)
settings.register_profile("explore", derandomize=False, max_examples=500)
# mutation testing (make mutate) runs the tests once per mutant: fewer examples
settings.register_profile("mutate", derandomize=True, max_examples=12)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under mutmut (``MUTANT_UNDER_TEST`` set) skip the child-process tests.

    Their children start a fresh interpreter under mutmut's instrumentation (or
    import the installed package, not the mutant), so they are slow there and
    race against their own timeouts; the in-process tests pin the same code.
    """
    if not os.environ.get("MUTANT_UNDER_TEST"):
        return
    skip = pytest.mark.skip(reason="child processes under mutation testing")
    for item in items:
        if "subprocess" in item.keywords:
            item.add_marker(skip)
