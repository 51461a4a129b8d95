"""``check --gate``: the server re-checks every model version holding a gated alias or
stage Production, and says which are still admitted and which lapsed (expired
retention, failing rules, a stale sign-off), and which aliases it demoted
(MLFLOW_COMPLIANCE_DEMOTE_LAPSED on the server). Admins only.
"""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from mlflow_compliance.cli.errors import InputError
from mlflow_compliance.cli.remote import PREFIX, fetch, host_creds

RECHECK = PREFIX + "model-versions/recheck"


def recheck(uri: str) -> tuple[list[dict[str, Any]], int]:
    """The server's re-check rows and the exit code: 1 if any version lapsed, else 0.
    A server that refuses (not an admin, not a compliance server) is an InputError."""
    status, data = fetch(host_creds(uri), "POST", RECHECK, {})
    if status == 404:
        raise InputError(f"--gate: {uri} is not a compliance server (no re-check route)")
    if status != 200:
        message = data.get("message") or f"server answered HTTP {status}"
        raise InputError(f"--gate: {str(message).splitlines()[0]}")
    rows = list(data.get("versions") or [])
    return rows, 1 if any(not row.get("admitted") for row in rows) else 0


def render(rows: list[dict[str, Any]], console: Console | None = None) -> None:
    """The rows as a table: version, where it is gated, status, reasons, demoted."""
    console = console or Console()
    if not rows:
        console.print("no model version holds a gated alias or stage Production")
        return
    table = Table(title="gated model versions, re-checked now")
    for column in ("model version", "gated by", "status", "reasons", "demoted"):
        table.add_column(column, overflow="fold")
    for row in rows:
        gated = [*(f"@{a}" for a in row.get("aliases") or ()),
                 *(["stage Production"] if row.get("stage") else [])]
        lapsed = not row.get("admitted")
        table.add_row(
            f"{row['name']} v{row['version']}",
            ", ".join(gated),
            "[red]lapsed[/]" if lapsed else "[green]admitted[/]",
            "\n".join(row.get("reasons") or ()),
            ", ".join(f"@{a}" for a in row.get("demoted") or ()),
        )
    console.print(table)
