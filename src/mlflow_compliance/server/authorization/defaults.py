"""What a user may do where no grant of theirs says: the default permissions.

Two settings, both ``none`` unless the administrator says otherwise (deny by default),
each one of ``none``, ``read``, ``edit``:

- ``MLFLOW_COMPLIANCE_DEFAULT_EXPERIMENT_PERMISSION``: on MLflow's Default experiment
  (id ``0``), where ``mlflow.start_run()`` without ``set_experiment`` logs. ``edit`` lets
  every user's first script run as written; everyone then reads everyone's runs there.
- ``MLFLOW_COMPLIANCE_DEFAULT_PERMISSION``: on every other experiment and registered
  model no grant covers (as ``default_permission`` in MLflow's basic-auth).

A grant always wins where it is higher; need-to-know (personal data) applies on top.
``manage`` is never a default: deleting and renaming need a grant.
"""

from __future__ import annotations

import os
from collections.abc import Container, Iterable
from dataclasses import dataclass

from mlflow_compliance.identity.store import GrantKind, IdentityStore, Level
from mlflow_compliance.settings import SettingProblem

DEFAULT_PERMISSION_ENV = "MLFLOW_COMPLIANCE_DEFAULT_PERMISSION"
DEFAULT_EXPERIMENT_PERMISSION_ENV = "MLFLOW_COMPLIANCE_DEFAULT_EXPERIMENT_PERMISSION"
DEFAULT_EXPERIMENT_ID = "0"
CHOICES = {"none": 0, "read": Level.READ, "edit": Level.EDIT}


def parse_default(name: str, value: str | None) -> int:
    """A default permission setting's level (0: none); SettingProblem names the setting."""
    text = (value or "none").strip().lower() or "none"
    if text not in CHOICES:
        raise SettingProblem(f"{name}: {text!r} is not allowed; allowed: none, read, edit")
    return int(CHOICES[text])


@dataclass(frozen=True)
class Defaults:
    everywhere: int = 0  # on what no grant covers
    default_experiment: int = 0  # on experiment 0

    @classmethod
    def from_env(cls) -> Defaults:
        return cls(
            parse_default(DEFAULT_PERMISSION_ENV, os.environ.get(DEFAULT_PERMISSION_ENV)),
            parse_default(DEFAULT_EXPERIMENT_PERMISSION_ENV,
                          os.environ.get(DEFAULT_EXPERIMENT_PERMISSION_ENV)),
        )

    def level(self, kind: str, target: str) -> int:
        if kind == GrantKind.EXPERIMENT and target == DEFAULT_EXPERIMENT_ID:
            return max(self.default_experiment, self.everywhere)
        return self.everywhere


class _Everything:
    def __contains__(self, item: object) -> bool:
        return True


class Grants:
    """The identity store's grants with the defaults applied: what policy and the search
    filters ask. Writes (ownership) go to the store itself."""

    def __init__(self, store: IdentityStore, defaults: Defaults) -> None:
        self.store = store
        self.defaults = defaults

    def level(self, user_name: str, kind: str, targets: Iterable[str]) -> dict[str, int]:
        wanted = list(targets)
        have: dict[str, int] = dict(self.store.level(user_name, kind, wanted))
        return {t: max(have.get(t, 0), self.defaults.level(kind, t)) for t in wanted}

    def readable(self, user_name: str, kind: str) -> Container[str]:
        """Every experiment id (or model name) the user may read."""
        if self.defaults.everywhere >= Level.READ:
            return _Everything()
        found = self.store.readable(user_name, kind)
        if kind == GrantKind.EXPERIMENT and self.defaults.default_experiment >= Level.READ:
            found.add(DEFAULT_EXPERIMENT_ID)
        return found
