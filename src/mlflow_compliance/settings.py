"""The one settings object: where a compliance server keeps its data.

Embedded default: everything under one home folder (``./.mlflow-compliance``, or
``MLFLOW_COMPLIANCE_HOME``): the SQLite database for tracking and registry, and the
artifact folder, the audit log (``audit.db``) and the audit signing key. A backend
store URI, artifacts destination or audit database given explicitly (PostgreSQL and S3
at scale) replaces the home's default; on PostgreSQL, the audit log defaults to the
tracking database.
"""

from __future__ import annotations

import fnmatch
import os
import re
from dataclasses import dataclass
from pathlib import Path

HOME_ENV = "MLFLOW_COMPLIANCE_HOME"
DEFAULT_HOME = ".mlflow-compliance"
AUDIT_DATABASE_ENV = "MLFLOW_COMPLIANCE_AUDIT_DATABASE_URL"
ACCESS_LOGGING_ENV = "MLFLOW_ACCESS_LOGGING"  # the seed's switch
RETENTION_ENV = "MLFLOW_COMPLIANCE_AUDIT_RETENTION_DAYS"
AUDIT_SYNC_ENV = "MLFLOW_COMPLIANCE_AUDIT_SYNC"  # normal | full (SQLite audit log)
ARTIFACT_ENCRYPTION_ENV = "MLFLOW_ARTIFACT_ENCRYPTION"  # the seed's other switch
KEYRING_ENV = "MLFLOW_COMPLIANCE_KEYRING"  # local | aws-kms: who holds new key-encryption keys
KEY_FILE_ENV = "MLFLOW_COMPLIANCE_KEY_FILE"
KEYRING_PROVIDERS = ("local", "aws-kms")
GATE_RULES_ENV = "MLFLOW_COMPLIANCE_GATE_RULES"  # rule packs a version must pass
PROTECTED_ALIASES_ENV = "MLFLOW_COMPLIANCE_PROTECTED_ALIASES"  # fnmatch patterns
DEFAULT_PROTECTED_ALIASES = "production,champion"
REQUIRED_RECORD_ENV = "MLFLOW_COMPLIANCE_REQUIRED_RECORD"  # read by checks.policy.Policy
MAX_RETENTION_ENV = "MLFLOW_COMPLIANCE_MAX_RETENTION"  # read by checks.policy.Policy
STRICT_RECORD_ENV = "MLFLOW_COMPLIANCE_STRICT_RECORD"  # runs/create needs the minimum record
DEMOTE_LAPSED_ENV = "MLFLOW_COMPLIANCE_DEMOTE_LAPSED"  # recheck removes lapsed gated aliases
MIN_RETENTION_DAYS = 183  # AI Act Art. 19: logs kept at least six months
TRUE_WORDS = ("true", "1", "yes", "on")
FALSE_WORDS = ("false", "0", "no", "off")


class SettingProblem(ValueError):
    """A setting has a value that is not allowed; the message names it."""


def _boolean(name: str, default: bool) -> bool:
    """A true/false setting; unset or empty is ``default``."""
    value = os.environ.get(name, "").strip().lower()
    if value == "":
        return default
    if value in TRUE_WORDS:
        return True
    if value in FALSE_WORDS:
        return False
    raise SettingProblem(f"{name}: {value!r} is not allowed; allowed: true, false")


def _flag(name: str) -> bool:
    """A switch that is off unless explicitly true."""
    return _boolean(name, default=False)


def _switch(name: str) -> bool:
    """A seed switch: on unless explicitly false."""
    return _boolean(name, default=True)


def access_logging() -> bool:
    """MLFLOW_ACCESS_LOGGING: on unless explicitly false."""
    return _switch(ACCESS_LOGGING_ENV)


INDEX_ON_LOG_ENV = "MLFLOW_COMPLIANCE_INDEX_ON_LOG"


def index_on_log() -> bool:
    """Index a logged dataset's subject ids from its rows (docs/subjects.md): on unless
    explicitly false."""
    return _switch(INDEX_ON_LOG_ENV)


def artifact_encryption() -> bool:
    """MLFLOW_ARTIFACT_ENCRYPTION: on unless explicitly false."""
    return _switch(ARTIFACT_ENCRYPTION_ENV)


def keyring_provider() -> str:
    """MLFLOW_COMPLIANCE_KEYRING: where new key-encryption keys are made (default local)."""
    value = os.environ.get(KEYRING_ENV, "local").strip().lower() or "local"
    if value not in KEYRING_PROVIDERS:
        allowed = ", ".join(KEYRING_PROVIDERS)
        raise SettingProblem(f"{KEYRING_ENV}: {value!r} is not allowed; allowed: {allowed}")
    return value


def audit_sync() -> str:
    """MLFLOW_COMPLIANCE_AUDIT_SYNC: ``normal`` (survives a killed server, the default)
    or ``full`` (an fsync per commit: survives power loss too). SQLite only."""
    value = os.environ.get(AUDIT_SYNC_ENV, "normal").strip().lower() or "normal"
    if value not in ("normal", "full"):
        raise SettingProblem(f"{AUDIT_SYNC_ENV}: {value!r} is not allowed; allowed: normal, full")
    return value


def gate_rules() -> list[str]:
    """MLFLOW_COMPLIANCE_GATE_RULES: the packs (or rule files) the promotion gate runs."""
    value = os.environ.get(GATE_RULES_ENV, "") or "baseline,gdpr,ai-act"
    return [item.strip() for item in value.split(",") if item.strip()]


ALIAS_PATTERN = re.compile(r"^[A-Za-z0-9_.*?!\[\]-]+$")


def protected_aliases() -> frozenset[str]:
    """MLFLOW_COMPLIANCE_PROTECTED_ALIASES: the aliases only a checked, signed-off version
    gets, as comma-separated ``fnmatch`` patterns compared without case (``prod*``);
    default ``production,champion``."""
    value = os.environ.get(PROTECTED_ALIASES_ENV, "").strip() or DEFAULT_PROTECTED_ALIASES
    patterns = [item.strip().lower() for item in value.split(",") if item.strip()]
    for pattern in patterns:
        if not ALIAS_PATTERN.match(pattern):
            raise SettingProblem(
                f"{PROTECTED_ALIASES_ENV}: {pattern!r} is not allowed; allowed: alias "
                "patterns of letters, digits, _ - . and the wildcards * ? [ ]")
    if not patterns:
        raise SettingProblem(f"{PROTECTED_ALIASES_ENV}: no alias pattern given")
    return frozenset(patterns)


def alias_is_protected(alias: str, patterns: frozenset[str]) -> bool:
    """Whether ``alias`` matches one of the protected patterns (case-insensitive)."""
    name = alias.lower()
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in patterns)


def strict_record() -> bool:
    """MLFLOW_COMPLIANCE_STRICT_RECORD: runs/create without the minimum record is refused
    (default false: plain MLflow clients keep working; ``check`` fails such runs)."""
    return _flag(STRICT_RECORD_ENV)


def demote_lapsed() -> bool:
    """MLFLOW_COMPLIANCE_DEMOTE_LAPSED: the gate's re-check deletes the gated aliases of a
    version whose evidence lapsed (default false: it only reports them)."""
    return _flag(DEMOTE_LAPSED_ENV)


def check_compliance_settings() -> None:
    """Every record and gate setting read once, at start: a bad value stops the server
    with one line naming the variable (SettingProblem)."""
    from mlflow_compliance.checks.policy import Policy

    strict_record()
    index_on_log()
    demote_lapsed()
    protected_aliases()
    gate_rules()
    try:
        Policy.from_env()
    except SettingProblem:
        raise
    except ValueError as e:
        text = str(e)
        named = REQUIRED_RECORD_ENV in text or MAX_RETENTION_ENV in text
        raise SettingProblem(
            text if named else f"{REQUIRED_RECORD_ENV} or {MAX_RETENTION_ENV}: {text}"
        ) from None


def retention_days(given: int | None = None) -> int:
    """The audit retention period in days: given, MLFLOW_COMPLIANCE_AUDIT_RETENTION_DAYS,
    or the minimum, 183 (six months, AI Act Art. 19)."""
    raw = given if given is not None else os.environ.get(RETENTION_ENV, MIN_RETENTION_DAYS)
    try:
        days = int(raw)
    except ValueError:
        raise SettingProblem(f"{RETENTION_ENV}: {raw!r} is not a number of days") from None
    if days < MIN_RETENTION_DAYS:
        raise SettingProblem(
            f"retention: {days} days is below the minimum of {MIN_RETENTION_DAYS} "
            "(AI Act Art. 19: at least six months)"
        )
    return days


@dataclass(frozen=True)
class Settings:
    home: Path
    backend_store_uri: str | None = None
    artifacts_destination: str | None = None
    audit_database_url: str | None = None

    @classmethod
    def from_env(
        cls, home: str | os.PathLike[str] | None = None, **overrides: str | None
    ) -> Settings:
        chosen = home or os.environ.get(HOME_ENV) or DEFAULT_HOME
        return cls(home=Path(chosen).expanduser().resolve(), **overrides)

    @property
    def database_path(self) -> Path:
        return self.home / "mlflow.db"

    @property
    def store_uri(self) -> str:
        return self.backend_store_uri or f"sqlite:///{self.database_path}"

    @property
    def audit_url(self) -> str:
        """Where the audit log lives: given, the env, the PostgreSQL store, or the home."""
        given = self.audit_database_url or os.environ.get(AUDIT_DATABASE_ENV)
        if given:
            return given
        if self.backend_store_uri and self.backend_store_uri.startswith("postgresql"):
            return self.backend_store_uri
        return f"sqlite:///{self.home / 'audit.db'}"

    @property
    def artifacts_uri(self) -> str:
        return self.artifacts_destination or str(self.home / "artifacts")

    @property
    def key_file(self) -> Path:
        """The local key file: MLFLOW_COMPLIANCE_KEY_FILE, or ``<home>/artifact-keys.json``
        (beside the artifact folder, never inside it)."""
        given = os.environ.get(KEY_FILE_ENV)
        return Path(given).expanduser().resolve() if given else self.home / "artifact-keys.json"

    def create_home(self) -> None:
        """Create the home folder, readable by its owner only."""
        self.home.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not self.artifacts_destination:
            (self.home / "artifacts").mkdir(mode=0o700, exist_ok=True)
