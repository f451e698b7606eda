"""The progress callback every long-running core function takes."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeAlias

#: Called with (done, total) as work advances; total is 0 when it is not known.
ProgressCallback: TypeAlias = Callable[[int, int], None]
