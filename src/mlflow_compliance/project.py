"""A project's compliance defaults: ``compliance.toml``.

Found through ``MLFLOW_COMPLIANCE_CONFIG`` (a path) or upward from the working
directory, like ``pyproject.toml``. Its ``[record]`` table is a compliance record that
every run of the project gets as tags; tags the caller sets win.

    [record]
    regulations = ["GDPR"]
    data_privacy = "enabled"

    [record.gdpr]
    personal_data = false
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path

from mlflow_compliance.record import ComplianceRecord, InvalidComplianceRecord, parse_record

CONFIG_ENV = "MLFLOW_COMPLIANCE_CONFIG"
FILE_NAME = "compliance.toml"
KNOWN_TABLES = ("record", "check")


class ProjectConfigError(ValueError):
    """A compliance.toml that cannot be used; the message names the file and field."""


@dataclass(frozen=True)
class ProjectConfig:
    path: Path
    record: ComplianceRecord
    check_rules: tuple[str, ...] | None = None  # [check] rules = ["baseline", ...]


def find_project_file(start: Path | None = None) -> Path | None:
    """The compliance.toml that applies here, or None."""
    named = os.environ.get(CONFIG_ENV)
    if named:
        path = Path(named).expanduser()
        if not path.is_file():
            raise ProjectConfigError(f"{CONFIG_ENV}: {named} is not a file")
        return path
    folder = (start or Path.cwd()).resolve()
    for candidate in (folder, *folder.parents):
        path = candidate / FILE_NAME
        if path.is_file():
            return path
    return None


_cache: dict[Path, tuple[float, ProjectConfig]] = {}


def load_project(path: Path) -> ProjectConfig:
    """Read and validate a compliance.toml; every bad field is named."""
    path = path.resolve()
    try:
        mtime = path.stat().st_mtime
    except OSError as e:
        raise ProjectConfigError(f"{path}: cannot read ({e.strerror})") from None
    cached = _cache.get(path)
    if cached and cached[0] == mtime:
        return cached[1]
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise ProjectConfigError(f"{path}: not valid TOML ({e})") from None
    unknown = sorted(set(data) - set(KNOWN_TABLES))
    if unknown:
        raise ProjectConfigError(
            f"{path}: unknown table [{unknown[0]}]; allowed: {', '.join(KNOWN_TABLES)}"
        )
    try:
        record = parse_record(data.get("record"))
    except InvalidComplianceRecord as e:
        raise ProjectConfigError(f"{path}: {e}") from None
    check = data.get("check", {})
    rules = check.get("rules") if isinstance(check, dict) else None
    if not isinstance(check, dict) or set(check) - {"rules"}:
        raise ProjectConfigError(f"{path}: [check]: allowed keys: rules")
    if rules is not None and (
        not isinstance(rules, list) or not all(isinstance(r, str) and r for r in rules)
    ):
        raise ProjectConfigError(
            f"{path}: [check] rules: a list of rule packs or rule files, e.g. "
            '["baseline", "gdpr", "ai-act"]'
        )
    if rules is not None:  # rule files are relative to the compliance.toml
        rules = [str(path.parent / r) if r.endswith(".toml") else r for r in rules]
    config = ProjectConfig(path=path, record=record,
                           check_rules=tuple(rules) if rules is not None else None)
    _cache[path] = (mtime, config)
    return config


def project_check_rules() -> tuple[str, ...] | None:
    """The rule packs ``check`` runs by default here, if compliance.toml names them."""
    path = find_project_file()
    return load_project(path).check_rules if path else None


def project_defaults() -> ComplianceRecord:
    """The record of the compliance.toml that applies here (empty if there is none)."""
    path = find_project_file()
    return load_project(path).record if path else ComplianceRecord()
