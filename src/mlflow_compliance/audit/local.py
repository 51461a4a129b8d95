"""Entries for what happens outside HTTP: the CLI reading the log, the server starting.

Their principal is the operating-system account (``local:<name>``), their method
``local``, their route the command, and their status the command's exit code.
"""

from __future__ import annotations

import getpass
import os
import socket
import sys
import uuid
from typing import Any

from mlflow_compliance.audit.entry import Entry, clean, now_us


def _account() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return str(os.getuid())


def local_entry(action: str, resources: dict[str, Any], status: int) -> Entry:
    command = " ".join(["mlflow-compliance", *sys.argv[1:3]]) if sys.argv else action
    return Entry(
        time_us=now_us(),
        request_id=uuid.uuid4().hex,
        principal=clean(f"local:{_account()}", 255),
        auth_method="local",
        client=clean(socket.gethostname(), 255),
        method="CLI",
        route=clean(command),
        action=action,
        resources=Entry.resources_json(resources),
        status=status,
        bytes_in=0,
        bytes_out=0,
        duration_us=0,
    )
