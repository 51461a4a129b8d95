"""The keyring: data keys for writing and reading artifacts, rotation and shredding.

Joins the data key store (wrapped keys in the tracking database) and the keyring
providers (which hold the key-encryption keys). Every read looks its data key's row up,
so a key shredded by any process is refused by every server worker at once; only the
unwrapping (a KMS round trip) is cached.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

from mlflow_compliance.encryption.keys.errors import ArtifactErased, KeyringError, UnknownKey
from mlflow_compliance.encryption.keys.provider import KeyProvider
from mlflow_compliance.encryption.keys.store import DataKeyStore, new_data_key_id

_CACHE_SIZE = 4096
# After the last data key moved, wait this long and look again before destroying the
# old key-encryption key: a writer that wrapped under it just before the switch has
# either committed by then or will be refused and wrap again (see DataKeyStore.insert).
ROTATION_GRACE_SECONDS = 1.0
PENDING = "@pending:"
"""A scope's key being written under before it replaces the scope's key."""
ERASED = "@erased:"
"""A scope's former key, shredded when a new key replaced it."""


def pending_scope(scope: str, key_id: str) -> str:
    return f"{scope}{PENDING}{key_id}"


@dataclass
class Rotation:
    """What ``keys rotate`` did."""

    new_kek: str
    retired: list[str] = field(default_factory=list)
    moved: int = 0


class Keyring:
    """Data keys by scope (``run:<id>``, ...) and by id, over one store and its providers."""

    def __init__(
        self,
        store: DataKeyStore,
        providers: dict[str, KeyProvider],
        provider_for_new_keys: str,
        make_provider: Callable[[str], KeyProvider] | None = None,
    ) -> None:
        self.store = store
        self.providers = providers
        self.provider_for_new_keys = provider_for_new_keys
        # Builds a provider first needed later (another process rotated to it).
        self._make_provider = make_provider
        self._unwrapped: OrderedDict[tuple[str, str], bytes] = OrderedDict()
        self._provider_of: dict[str, str] = {}
        self._lock = threading.Lock()
        self.provider(provider_for_new_keys)

    def provider(self, name: str) -> KeyProvider:
        """The provider called ``name``, built on first use if this keyring can."""
        found = self.providers.get(name)
        if found is None and self._make_provider is not None:
            found = self.providers[name] = self._make_provider(name)
        if found is None:
            raise KeyringError(f"keyring provider {name!r} is not configured")
        return found

    # --- the server's start ---------------------------------------------------------

    def ensure_current_kek(self) -> str:
        """The current key-encryption key, created at the first start."""
        current = self.store.current_kek()
        if current is not None:
            self._probe(current.id)  # fails now, not at the first upload, if it is gone
            return current.id
        provider = self.provider(self.provider_for_new_keys)
        kek_id = provider.create_key()
        self.store.make_current(kek_id, provider.name)
        return kek_id

    # --- writing and reading --------------------------------------------------------

    def key_for_writing(self, scope: str) -> tuple[str, bytes]:
        """(data key id, data key) for new files of ``scope``, created on first use."""
        for _ in range(5):
            row = self.store.by_scope(scope)
            if row is not None:
                return row.id, self.key_for_reading(row.id)
            made = self._new_key(lambda key_id: scope)
            if made is not None:
                return made
        raise KeyringError(f"could not store a data key for {scope}: the keyring kept changing")

    def pending_key(self, scope: str) -> tuple[str, bytes]:
        """A NEW data key for ``scope`` while its current one stays live: stored under
        ``<scope>@pending:<id>`` until :meth:`replace` gives it the scope. Files written
        under it name it in their header, so they are readable from the start (the
        rewrite of an erasure, GDPR Art. 17(1), before the old key is shredded)."""
        for _ in range(5):
            made = self._new_key(lambda key_id: pending_scope(scope, key_id))
            if made is not None:
                return made
        raise KeyringError(f"could not store a data key for {scope}: the keyring kept changing")

    def pending_keys(self, scopes: list[str]) -> list[tuple[str, bytes]]:
        """:meth:`pending_key` for several scopes, stored in ONE transaction (an erasure
        across many datasets: one commit, not one per dataset)."""
        for _ in range(5):
            current = self.store.current_kek()
            if current is None:
                return [self.pending_key(scope) for scope in scopes]  # says why
            provider = self._provider(current.id)
            made = [(new_data_key_id(), secrets.token_bytes(32)) for _ in scopes]
            rows = [(key_id, pending_scope(scope, key_id),
                     provider.wrap(current.id, key, key_id))
                    for scope, (key_id, key) in zip(scopes, made, strict=True)]
            if self.store.insert_all(rows, current.id):
                for key_id, key in made:
                    self._remember((key_id, current.id), key)
                return made
        raise KeyringError("could not store new data keys: the keyring kept changing")

    def replace(self, scope: str, pending_id: str, by: str) -> str | None:
        """In one transaction: the current key of ``scope`` is renamed
        ``<scope>@erased:<id>`` and shredded (its tombstone says when and by whom), and
        the pending key ``pending_id`` becomes the key of ``scope``; the shredded key's
        id (None if ``scope`` had none). Files still under the old key can never be read
        again: old copies in backups included (crypto-shredding)."""
        return self.replace_all([(scope, pending_id)], by)[0]

    def replace_all(self, swaps: list[tuple[str, str]], by: str) -> list[str | None]:
        """:meth:`replace` for several (scope, pending id), all in ONE transaction."""
        try:
            return self.store.replace(
                [(scope, pending_id, pending_scope(scope, pending_id), f"{scope}{ERASED}{{old}}")
                 for scope, pending_id in swaps], by)
        except LookupError as e:
            raise KeyringError(str(e)) from None

    def discard_pending(self, scope: str, pending_id: str) -> None:
        """Forget a pending key of ``scope`` that no published file uses."""
        self.store.delete_unused(pending_id, pending_scope(scope, pending_id))

    def _new_key(self, scope_for: Callable[[str], str]) -> tuple[str, bytes] | None:
        """A new data key stored under ``scope_for(its id)``; None if another writer or
        a rotation got in the way (the caller tries again)."""
        current = self.store.current_kek()
        if current is None:
            raise KeyringError(
                "no key-encryption key yet: start the server with `mlflow-compliance "
                "server`, which creates one"
            )
        key_id, key = new_data_key_id(), secrets.token_bytes(32)
        wrapped = self._provider(current.id).wrap(current.id, key, key_id)
        if not self.store.insert(key_id, scope_for(key_id), current.id, wrapped):
            return None
        self._remember((key_id, current.id), key)
        return key_id, key

    def key_for_reading(self, key_id: str) -> bytes:
        """The data key ``key_id``; ArtifactErased if it was shredded."""
        row = self.store.by_id(key_id)
        if row is None:
            raise UnknownKey(f"data key {key_id} is unknown to this server's keyring")
        if row.wrapped is None or row.kek_id is None:
            when = row.shredded_at.strftime("%Y-%m-%d %H:%M UTC") if row.shredded_at else "?"
            raise ArtifactErased(
                f"erased: the data key of {row.scope} was shredded on {when} by "
                f"{row.shredded_by or 'unknown'}; its artifacts can never be read again"
            )
        cached = self._unwrapped.get((key_id, row.kek_id))
        if cached is not None:
            return cached
        key = self._provider(row.kek_id).unwrap(row.kek_id, row.wrapped, key_id)
        self._remember((key_id, row.kek_id), key)
        return key

    # --- key operations -------------------------------------------------------------

    def rotate(
        self,
        provider_name: str | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> Rotation:
        """A new key-encryption key; every data key re-wrapped under it, no data touched.

        Servers keep reading and writing throughout: a data key is readable under its
        old wrap until its row moves, and under the new one after. The old keys are
        destroyed only when no data key is wrapped by them any more.
        """
        provider = self.provider(provider_name or self.provider_for_new_keys)
        known = self.store.keks()
        old = [k.id for k in known if k.state in ("current", "previous")]
        new_kek = provider.create_key()
        if new_kek in {k.id for k in known}:
            raise KeyringError(
                f"keyring provider {provider.name} gave key {new_kek}, which this keyring "
                "already has: a rotation needs a new key (unset MLFLOW_COMPLIANCE_KMS_KEY_ID, "
                "which only names the first key)"
            )
        self.store.make_current(new_kek, provider.name)
        rotation = Rotation(new_kek)
        for kek_id in old:
            rotation.moved += self._move_all(kek_id, new_kek, provider, progress)
            time.sleep(ROTATION_GRACE_SECONDS)
            rotation.moved += self._move_all(kek_id, new_kek, provider, progress)
            self._provider(kek_id).destroy_key(kek_id)
            self.store.retire(kek_id)
            rotation.retired.append(kek_id)
        return rotation

    def shred(self, scope: str, by: str) -> list[str]:
        """Destroy the data keys of ``scope`` and of the scopes nested in it."""
        scopes = self.store.scopes_under(scope)
        return self.store.shred(scopes, by)

    # --- inside ---------------------------------------------------------------------

    def _move_all(
        self,
        old: str,
        new: str,
        provider: KeyProvider,
        progress: Callable[[int], None] | None,
    ) -> int:
        moved = 0
        old_provider = self._provider(old)
        while batch := self.store.under_kek(old):
            for row in batch:
                assert row.wrapped is not None  # under_kek returns live keys only
                key = old_provider.unwrap(old, row.wrapped, row.id)
                if self.store.rewrap(row.id, old, new, provider.wrap(new, key, row.id)):
                    moved += 1
                    if progress:
                        progress(1)
        return moved

    def _probe(self, kek_id: str) -> None:
        """Wrap and unwrap a throwaway key: the key-encryption key is there and works."""
        provider, probe = self._provider(kek_id), secrets.token_bytes(32)
        if provider.unwrap(kek_id, provider.wrap(kek_id, probe, "probe"), "probe") != probe:
            raise KeyringError(f"key-encryption key {kek_id} does not give back what it wraps")

    def _provider(self, kek_id: str) -> KeyProvider:
        name = self._provider_of.get(kek_id)
        if name is None:
            self._provider_of = {k.id: k.provider for k in self.store.keks()}
            name = self._provider_of.get(kek_id)
        if name is None:
            raise UnknownKey(f"key-encryption key {kek_id} is not in this server's keyring")
        try:
            return self.provider(name)
        except KeyringError:
            raise KeyringError(
                f"key-encryption key {kek_id} is held by keyring provider {name!r}, "
                "which this server is not configured for"
            ) from None

    def _remember(self, entry: tuple[str, str], key: bytes) -> None:
        with self._lock:
            self._unwrapped[entry] = key
            self._unwrapped.move_to_end(entry)
            while len(self._unwrapped) > _CACHE_SIZE:
                self._unwrapped.popitem(last=False)
