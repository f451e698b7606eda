"""Counting how often functions run while some code does: the seam of the "one pass per request" tests
(a drawing search looks its model up once; a build checks its options once)."""

from __future__ import annotations

import sys
import threading
from collections import Counter
from collections.abc import Callable
from typing import Any


def count_calls(run: Callable[[], Any], *functions: Callable[..., Any]) -> tuple[Counter, Any]:
    """(how many times each of `functions` was called while `run()` ran, in any thread; what `run`
    returned). Functions are told apart by their code, so a call through any alias counts."""
    codes = {function.__code__: function for function in functions}
    counts: Counter = Counter()

    def profile(frame: Any, event: str, arg: Any) -> None:
        if event == "call" and frame.f_code in codes:
            counts[codes[frame.f_code]] += 1

    sys.setprofile(profile)
    threading.setprofile(profile)
    try:
        result = run()
    finally:
        sys.setprofile(None)
        threading.setprofile(None)
    return counts, result
