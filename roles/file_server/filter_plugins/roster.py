"""Ansible filters for the roster: a shim, the logic lives (and is tested) in preau.roster."""

from __future__ import annotations

from typing import Any

from ansible.errors import AnsibleFilterError

try:
    from preau.errors import ValidationFailed
    from preau.roster import classes_in_state, plan_csv
except ImportError as exc:  # pragma: no cover - depends on how Ansible was started
    raise ImportError(
        "the preau package is not importable: run Ansible from the project venv (.venv/bin)"
    ) from exc


def preau_roster_plan(text: str, state: Any = None, source: str = "roster") -> dict[str, Any]:
    """`{{ csv_text | preau_roster_plan(state, 'roster.csv') }}`: accounts and changes."""
    try:
        return plan_csv(text, state or {}, source).to_dict()
    except ValidationFailed as exc:
        # One line per problem, naming the line and the column: nothing has been changed yet.
        raise AnsibleFilterError(str(exc)) from None


def preau_roster_classes(state: Any) -> list[str]:
    """`{{ state | preau_roster_classes }}`: class slugs of the accounts already imported."""
    return classes_in_state(state or {})


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {
            "preau_roster_plan": preau_roster_plan,
            "preau_roster_classes": preau_roster_classes,
        }
