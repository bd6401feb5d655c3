"""Test-suite settings: hypothesis runs derandomized unless asked otherwise.

The property tests draw the same examples on every run, so CI is reproducible
(same seed, same numbers).  Explore new examples locally with
``HYPOTHESIS_PROFILE=explore pytest`` (random draws, more examples).
"""

from __future__ import annotations

import os

from hypothesis import settings

settings.register_profile("default", derandomize=True)
settings.register_profile("explore", derandomize=False, max_examples=500)
# mutation testing (make mutate) runs the tests once per mutant: fewer examples
settings.register_profile("mutate", derandomize=True, max_examples=12)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))
