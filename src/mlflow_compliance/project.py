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
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from mlflow_compliance.record import (
    FIELDS,
    ComplianceRecord,
    InvalidComplianceRecord,
    Problem,
    parse_record,
)

CONFIG_ENV = "MLFLOW_COMPLIANCE_CONFIG"
FILE_NAME = "compliance.toml"
KNOWN_TABLES = ("record", "check")


class ProjectConfigError(ValueError):
    """A compliance.toml that cannot be used; the message names the file, line and field.

    ``path``, ``line`` and ``field`` locate the first problem (``line`` is 1-based, None
    when the file cannot be read); the message lists every problem as
    ``file:line: field: reason``, on one line.
    """

    def __init__(
        self,
        message: str,
        *,
        path: Path | None = None,
        line: int | None = None,
        field: str | None = None,
    ) -> None:
        super().__init__(message)
        self.path = path
        self.line = line
        self.field = field


class ProjectConfigStopsRun(BaseException):
    """A broken compliance.toml stopping ``mlflow.start_run()`` before the run exists.

    MLflow asks run context providers for tags inside ``except Exception`` and only
    logs a warning (``mlflow.tracking.context.registry.resolve_tags``, MLflow 3.17), and
    every other client plugin hook (default experiment, request headers) does the
    same, so no ``Exception`` can stop a run. This is a ``BaseException``, like
    ``KeyboardInterrupt``, raised only by the compliance run context provider and only
    when ``mlflow.tracking.fluent`` asks for a new run's (or logged model's) tags: a run
    started without the project's record would be a run without its evidence.
    ``error`` is the :class:`ProjectConfigError`; the message is its message.
    """

    def __init__(self, error: ProjectConfigError) -> None:
        super().__init__(str(error))
        self.error = error


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


_HEADER = re.compile(r"^\s*\[\[?\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
_KEY = re.compile(r"^\s*([A-Za-z0-9_\-.\"' ]+?)\s*=")


def _parts(dotted: str) -> tuple[str, ...]:
    return tuple(p.strip().strip("\"'") for p in dotted.split("."))


def _keyed_lines(text: str) -> list[tuple[int, tuple[str, ...]]]:
    """Each table header and key line of a TOML text: (1-based line, full key path)."""
    table: tuple[str, ...] = ()
    found: list[tuple[int, tuple[str, ...]]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if header := _HEADER.match(line):
            table = _parts(header.group(1))
            found.append((number, table))
        elif key := _KEY.match(line):
            found.append((number, (*table, *_parts(key.group(1)))))
    return found


def toml_keys(tag: str) -> tuple[str, ...]:
    """Where a record field's tag is written in compliance.toml, e.g.
    ``compliance.gdpr.lawful_basis`` -> ``("record", "gdpr", "lawful_basis")``."""
    field = FIELDS.get(tag)
    if field is not None:
        return ("record", *field.path)
    if tag.startswith("compliance."):
        return ("record", *tag.removeprefix("compliance.").split("."))
    return ("record", tag)


def find_line(text: str, keys: tuple[str, ...]) -> int | None:
    """The line that sets ``keys`` in a TOML text; else the line of its nearest table
    (an inline table or the ``[record.gdpr]`` header); None if neither is written."""
    best: tuple[int, int] | None = None  # (matched parts, line)
    for number, path in _keyed_lines(text):
        if path == keys:
            return number
        if keys[: len(path)] == path and (best is None or len(path) > best[0]):
            best = (len(path), number)
    return best[1] if best else None


def field_at(text: str, line: int) -> str | None:
    """The record field (tag) or TOML key written on ``line``, if any."""
    for number, path in _keyed_lines(text):
        if number == line:
            by_path = {("record", *f.path): f.tag for f in FIELDS.values()}
            return by_path.get(path, ".".join(path))
    return None


_cache: dict[Path, tuple[float, ProjectConfig]] = {}


def load_project(path: Path) -> ProjectConfig:
    """Read and validate a compliance.toml; every bad field is named with its line."""
    path = path.resolve()
    try:
        mtime = path.stat().st_mtime
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise ProjectConfigError(f"{path}: cannot read ({e.strerror})", path=path) from None
    except UnicodeDecodeError:
        raise ProjectConfigError(f"{path}: not UTF-8 text", path=path) from None
    cached = _cache.get(path)
    if cached and cached[0] == mtime:
        return cached[1]
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise toml_error(path, text, e) from None
    unknown = sorted(set(data) - set(KNOWN_TABLES))
    if unknown:
        raise _located(path, text, (unknown[0],), f"[{unknown[0]}]",
                       f"unknown table; allowed: {', '.join(KNOWN_TABLES)}")
    try:
        record = parse_record(data.get("record"))
    except InvalidComplianceRecord as e:
        raise record_error(path, text, e.problems) from None
    check = data.get("check", {})
    rules = check.get("rules") if isinstance(check, dict) else None
    if not isinstance(check, dict) or set(check) - {"rules"}:
        raise _located(path, text, ("check",), "[check]", "allowed keys: rules")
    if rules is not None and (
        not isinstance(rules, list) or not all(isinstance(r, str) and r for r in rules)
    ):
        raise _located(
            path, text, ("check", "rules"), "[check] rules",
            'a list of rule packs or rule files, e.g. ["baseline", "gdpr", "ai-act"]',
        )
    if rules is not None:  # rule files are relative to the compliance.toml
        rules = [str(path.parent / r) if r.endswith(".toml") else r for r in rules]
    config = ProjectConfig(path=path, record=record,
                           check_rules=tuple(rules) if rules is not None else None)
    _cache[path] = (mtime, config)
    return config


def _located(path: Path, text: str, keys: tuple[str, ...], field: str,
             reason: str) -> ProjectConfigError:
    line = find_line(text, keys)
    return ProjectConfigError(f"{_where(path, line)}: {field}: {reason}",
                              path=path, line=line, field=field)


def _where(path: Path, line: int | None) -> str:
    return f"{path}:{line}" if line else str(path)


def record_error(path: Path, text: str, problems: list[Problem]) -> ProjectConfigError:
    """Every problem of the ``[record]`` table, each as ``file:line: tag: reason``."""
    located = [(find_line(text, toml_keys(p.field)), p) for p in problems]
    message = "; ".join(f"{_where(path, line)}: {p}" for line, p in located)
    first_line, first = located[0]
    return ProjectConfigError(message, path=path, line=first_line, field=first.field)


def toml_error(path: Path, text: str, error: tomllib.TOMLDecodeError) -> ProjectConfigError:
    """A TOML syntax error, with its line and the field written on that line."""
    reason = str(error)
    found = re.search(r"\(at line (\d+), column \d+\)", reason)
    line = int(found.group(1)) if found else None
    field = field_at(text, line) if line else None
    reason = reason[: found.start()].strip() if found else reason
    named = f"{field}: " if field else ""
    return ProjectConfigError(f"{_where(path, line)}: {named}not valid TOML ({reason})",
                              path=path, line=line, field=field)


def project_check_rules() -> tuple[str, ...] | None:
    """The rule packs ``check`` runs by default here, if compliance.toml names them."""
    path = find_project_file()
    return load_project(path).check_rules if path else None


def project_defaults() -> ComplianceRecord:
    """The record of the compliance.toml that applies here (empty if there is none)."""
    path = find_project_file()
    return load_project(path).record if path else ComplianceRecord()
