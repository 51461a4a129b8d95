"""Tokens that tie a form to the signed-in principal, against cross-site requests.

A browser attaches cached HTTP Basic credentials to any request, from any site, so a
form the server accepts must prove it came from one of our own pages: each form carries
``csrf``, an HMAC of the principal's name, the form's purpose and the day, under a key
of this server (``pages-csrf.key`` in the home, 0600, made on first use and shared by
every worker). A token is good for the day it was made and the next; another user's
token, another form's token or a made-up one is refused.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import time
from pathlib import Path

KEY_FILE = "pages-csrf.key"
DAY = 86_400


def _load_or_create(home: Path) -> bytes:
    """The home's key; made on first use. Workers start together: the key is written to
    a file of this process's own and linked into place, which fails if another worker's
    is there already, so no worker ever reads a half-written key."""
    path = home / KEY_FILE
    if not path.exists():
        own = home / f".{KEY_FILE}.{os.getpid()}.{secrets.token_hex(4)}"
        fd = os.open(own, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_bytes(32).hex())
        try:
            os.link(own, path)
        except FileExistsError:
            pass  # another worker's key is in place: use that one
        finally:
            own.unlink()
    text = path.read_text().strip()
    try:
        key = bytes.fromhex(text)
    except ValueError:
        key = b""
    if len(key) != 32:
        raise RuntimeError(f"{path}: not a key of this server (64 hex digits); delete it to "
                           "make a new one (open forms then need reloading)")
    return key


class Csrf:
    def __init__(self, key: bytes) -> None:
        self.key = key

    @classmethod
    def of_home(cls, home: Path) -> Csrf:
        return cls(_load_or_create(home))

    def _mac(self, who: str, purpose: str, day: int) -> str:
        message = f"{who}\n{purpose}\n{day}".encode()
        return hmac.new(self.key, message, hashlib.sha256).hexdigest()

    def token(self, who: str, purpose: str) -> str:
        day = int(time.time()) // DAY
        return f"{day}.{self._mac(who, purpose, day)}"

    def valid(self, who: str, purpose: str, token: str | None) -> bool:
        if not token or "." not in token:
            return False
        day_text, mac = token.split(".", 1)
        if not day_text.isdigit():
            return False
        day = int(day_text)
        if int(time.time()) // DAY - day not in (0, 1):
            return False
        return hmac.compare_digest(mac, self._mac(who, purpose, day))
