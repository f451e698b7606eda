"""Model-slot overrides: the Hub id or local folder a slot loads instead of its default, set by the
`SIGLIP_PROJECTS_MODEL_<SLOT>` environment variables or by `python app.py --model SLOT=VALUE`."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from core.errors import InvalidInputError, UnknownModelError
from core.limits import quote
from core.registry import MODEL_ENV_PREFIX, all_slots, env_var


def overrides_from_env(environ: Mapping[str, str]) -> dict[str, str]:
    """{slot: Hub id or folder} set by the `SIGLIP_PROJECTS_MODEL_<SLOT>` variables of `environ`.

    Raises:
        UnknownModelError: a variable names no model slot.
    """
    slots_by_env = {env_var(slot): slot for slot in all_slots()}
    overrides = {}
    for name, value in environ.items():
        if name.startswith(MODEL_ENV_PREFIX) and value:
            if name not in slots_by_env:
                raise UnknownModelError(
                    f"{name} names no model slot. Known variables: {', '.join(slots_by_env)}."
                )
            overrides[slots_by_env[name]] = value
    return overrides


def assign_overrides(overrides: Mapping[str, str], assignments: Iterable[str]) -> dict[str, str]:
    """`overrides` with the `SLOT=VALUE` strings of `assignments` (from `--model`) applied on top.

    Raises:
        InvalidInputError: an assignment without `=`.
        UnknownModelError: an unknown slot.
    """
    result = dict(overrides)
    slots = all_slots()
    for assignment in assignments:
        slot, sep, value = assignment.partition("=")
        slot = slot.strip()
        if not sep or not value.strip():
            raise InvalidInputError(
                f"--model expects SLOT=VALUE (for example siglip=/path/to/folder), got {quote(assignment)}."
            )
        if slot not in slots:
            raise UnknownModelError(f"Unknown model slot {quote(slot)}. Known slots: {', '.join(slots)}.")
        result[slot] = value.strip()
    return result
