"""``MSQ_SMALL=1``: every long command of the README runs with tiny settings (the README test sets it).

Only epochs, repeats and sizes shrink; every check (C-simulation equal to Keras, the build's steps)
runs as usual. Each command that honours it says so on stderr, so a small run is never mistaken
for a real one.
"""

from __future__ import annotations

import os
import sys

SMALL_ENV = "MSQ_SMALL"


def small() -> bool:
    """Whether ``MSQ_SMALL=1`` is set."""
    return os.environ.get(SMALL_ENV, "") == "1"


def announce(what: str) -> None:
    print(f"{SMALL_ENV}=1: {what} (smoke-test settings; results are not representative)", file=sys.stderr)
