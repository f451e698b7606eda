"""What every fuzzed request must give: a result or a message of its own, within the budget."""

from __future__ import annotations

from typing import Any

from core.testing.fuzz.client import GENERIC_ERROR, REQUEST_BUDGET_S, Outcome


def names_foreign_file(value: Any, uploaded: set[str]) -> bool:
    """Whether `value` holds what Gradio takes for a file but is not one of the `uploaded` files.

    Gradio looks through every payload for dicts with a string `path` and a `meta`, and refuses them
    with its generic error before any app code runs: a FileData naming a path nobody uploaded, and
    (a Gradio bug: it calls `meta.get`) any such dict whose `meta` is not a dict.
    """
    if isinstance(value, list):
        return any(names_foreign_file(item, uploaded) for item in value)
    if not isinstance(value, dict):
        return False
    if isinstance(value.get("path"), str) and "meta" in value:
        meta = value["meta"]
        if not isinstance(meta, dict):
            return True
        if meta.get("_type") == "gradio.FileData":
            return value["path"] not in uploaded
    return any(names_foreign_file(item, uploaded) for item in value.values())


def check_outcome(outcome: Outcome, what: str, foreign_file: bool = False) -> None:
    """A result, or an error with a message of its own (not Gradio's generic one), within the budget.

    A `foreign_file` (see `names_foreign_file`) must be refused, with whatever message.
    """
    assert outcome.seconds < REQUEST_BUDGET_S, f"{what}: {outcome.seconds:.1f} s"
    if foreign_file:
        assert outcome.kind == "error", f"{what}: a file nobody uploaded was accepted"
        return
    if outcome.kind == "error":
        assert outcome.message not in (GENERIC_ERROR, ""), f"{what}: an error without a message"
        message = outcome.message
        assert len(message) < 1_000 and "Traceback" not in message, f"{what}: {message[:1_000]}"
