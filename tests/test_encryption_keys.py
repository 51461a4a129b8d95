"""Envelope keys: the local key file, data-key scopes, the data key store and the keyring.

The store and keyring tests run on a real SQLite file and on the real PostgreSQL; the
"other process" of a test is a second Keyring over the same database and key file.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import stat
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from mlflow_compliance.encryption.keys import keyring as keyring_module
from mlflow_compliance.encryption.keys.errors import (
    ArtifactErased,
    KeyFileMissing,
    KeyringError,
    UnknownKey,
    WrongKey,
)
from mlflow_compliance.encryption.keys.keyring import Keyring
from mlflow_compliance.encryption.keys.local import LocalKeyFile
from mlflow_compliance.encryption.keys.store import DataKeyStore, data_keys, new_data_key_id
from mlflow_compliance.encryption.scope import scope_of

DATA_KEY = bytes(range(100, 132))


def key_material(key: bytes) -> list[str]:
    """Every way a key could show up in a message."""
    return [
        base64.b64encode(key).decode(),
        base64.urlsafe_b64encode(key).decode(),
        key.hex(),
        key.hex().upper(),
        repr(key),
    ]


def keks_in(path: Path) -> dict[str, bytes]:
    """The key-encryption keys in a key file, read straight from its JSON."""
    return {k: base64.b64decode(v) for k, v in json.loads(path.read_text())["keys"].items()}


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# --- the local key file ----------------------------------------------------------------


@pytest.fixture
def key_path(tmp_path: Path) -> Path:
    return tmp_path / "home" / "artifact-keys.json"


@pytest.fixture
def key_file(key_path: Path) -> LocalKeyFile:
    return LocalKeyFile(key_path)


def test_key_file_and_its_lock_are_owner_only_even_with_a_permissive_umask(
    key_path: Path,
) -> None:
    previous = os.umask(0)
    try:
        kek = LocalKeyFile(key_path).create_key()
    finally:
        os.umask(previous)
    assert mode(key_path) == 0o600
    assert mode(key_path.with_name(key_path.name + ".lock")) == 0o600
    assert mode(key_path.parent) == 0o700
    assert kek.startswith("local-")
    assert list(keks_in(key_path)) == [kek]
    assert len(keks_in(key_path)[kek]) == 32


def test_rewritten_key_file_stays_owner_only(key_file: LocalKeyFile, key_path: Path) -> None:
    first = key_file.create_key()
    second = key_file.create_key()
    key_file.destroy_key(first)
    assert mode(key_path) == 0o600
    assert key_file.key_ids() == [second]
    # no temporary file is left beside it
    assert sorted(p.name for p in key_path.parent.iterdir()) == [
        key_path.name,
        key_path.name + ".lock",
    ]


def test_wrap_unwrap_round_trip(key_file: LocalKeyFile) -> None:
    kek = key_file.create_key()
    wrapped = key_file.wrap(kek, DATA_KEY, "key-1")
    assert DATA_KEY not in wrapped
    assert key_file.unwrap(kek, wrapped, "key-1") == DATA_KEY
    # a fresh nonce every time
    assert key_file.wrap(kek, DATA_KEY, "key-1") != wrapped


def test_unwrap_with_another_context_is_wrong_key(key_file: LocalKeyFile) -> None:
    kek = key_file.create_key()
    wrapped = key_file.wrap(kek, DATA_KEY, "key-1")
    with pytest.raises(WrongKey, match="data key key-2 does not open"):
        key_file.unwrap(kek, wrapped, "key-2")


@pytest.mark.parametrize("position", [0, 11, 12, 20, -1], ids=lambda p: f"byte{p}")
def test_flipped_byte_is_wrong_key(key_file: LocalKeyFile, position: int) -> None:
    kek = key_file.create_key()
    wrapped = bytearray(key_file.wrap(kek, DATA_KEY, "key-1"))
    wrapped[position] ^= 0x01
    with pytest.raises(WrongKey):
        key_file.unwrap(kek, bytes(wrapped), "key-1")


@pytest.mark.parametrize("wrapped", [b"", b"\x00" * 12, b"\x00" * 27])
def test_truncated_wrapped_key_is_wrong_key(key_file: LocalKeyFile, wrapped: bytes) -> None:
    kek = key_file.create_key()
    with pytest.raises(WrongKey):
        key_file.unwrap(kek, wrapped, "key-1")


def test_wrapped_under_another_kek_is_wrong_key(key_file: LocalKeyFile) -> None:
    one, other = key_file.create_key(), key_file.create_key()
    with pytest.raises(WrongKey):
        key_file.unwrap(other, key_file.wrap(one, DATA_KEY, "key-1"), "key-1")


def test_unknown_kek_id(key_file: LocalKeyFile, key_path: Path) -> None:
    key_file.create_key()
    with pytest.raises(UnknownKey, match="local-0000") as raised:
        key_file.wrap("local-0000", DATA_KEY, "key-1")
    assert str(key_path) in str(raised.value)


def test_missing_key_file(key_path: Path) -> None:
    with pytest.raises(KeyFileMissing) as raised:
        LocalKeyFile(key_path).unwrap("local-0000", b"\x00" * 60, "key-1")
    message = str(raised.value)
    assert str(key_path) in message
    assert "missing" in message
    assert "\n" not in message
    with pytest.raises(KeyFileMissing):
        LocalKeyFile(key_path).key_ids()


def test_key_file_deleted_after_use(key_file: LocalKeyFile, key_path: Path) -> None:
    kek = key_file.create_key()
    key_path.unlink()
    # a fresh reader (another process) cannot open anything
    with pytest.raises(KeyFileMissing, match="is missing"):
        LocalKeyFile(key_path).wrap(kek, DATA_KEY, "key-1")


def damaged(document: dict[str, Any], kek: str, damage: str) -> str:
    """The text of a key file after ``damage``, from its sound JSON ``document``."""
    keys = document["keys"]
    changed = {
        "other-format": {**document, "format": "something else"},
        "no-format": {"keys": keys},
        "no-keys": {"format": document["format"]},
        "keys-a-list": {**document, "keys": [keys[kek]]},
        "keys-null": {**document, "keys": None},
        "key-not-base64": {**document, "keys": {**keys, "local-bad": "@@@@"}},
        "key-16-bytes": {**document, "keys": {**keys, "local-bad": "A" * 24}},
        "key-a-number": {**document, "keys": {**keys, "local-bad": 5}},
        "key-a-list": {**document, "keys": {**keys, "local-bad": ["A" * 44]}},
        "top-level-list": [document],
    }
    if damage in changed:
        return json.dumps(changed[damage])
    return {
        "empty": "",
        "not-json": json.dumps(document)[:-5],
        "not-utf8": "\udcff",  # the byte 0xff, written with surrogateescape
    }[damage]


DAMAGES = [
    "empty",
    "not-json",
    "not-utf8",
    "top-level-list",
    "other-format",
    "no-format",
    "no-keys",
    "keys-a-list",
    "keys-null",
    "key-not-base64",
    "key-16-bytes",
    "key-a-number",
    "key-a-list",
]


@pytest.mark.parametrize("damage", DAMAGES)
def test_damaged_key_file_is_key_file_missing(
    key_file: LocalKeyFile, key_path: Path, damage: str
) -> None:
    kek = key_file.create_key()
    secret = keks_in(key_path)[kek]
    text = damaged(json.loads(key_path.read_text()), kek, damage)
    key_path.write_bytes(text.encode("utf-8", "surrogateescape"))
    with pytest.raises(KeyFileMissing) as raised:
        LocalKeyFile(key_path).wrap(kek, DATA_KEY, "key-1")
    message = str(raised.value)
    assert str(key_path) in message
    assert "\n" not in message
    for shown in key_material(secret):
        assert shown not in message


def test_destroy_key(key_file: LocalKeyFile, key_path: Path) -> None:
    kek, kept = key_file.create_key(), key_file.create_key()
    wrapped = key_file.wrap(kek, DATA_KEY, "key-1")
    key_file.destroy_key(kek)
    assert kek not in keks_in(key_path)
    assert key_file.key_ids() == [kept]
    with pytest.raises(UnknownKey):
        key_file.unwrap(kek, wrapped, "key-1")
    with pytest.raises(UnknownKey):
        LocalKeyFile(key_path).unwrap(kek, wrapped, "key-1")
    key_file.destroy_key(kek)  # destroying twice is harmless
    assert key_file.key_ids() == [kept]


def test_second_instance_sees_a_key_created_by_the_first(key_path: Path) -> None:
    first, second = LocalKeyFile(key_path), LocalKeyFile(key_path)
    old = first.create_key()
    second.unwrap(old, first.wrap(old, DATA_KEY, "key-1"), "key-1")  # second has loaded
    new = first.create_key()  # e.g. a rotation by the CLI
    assert second.unwrap(new, first.wrap(new, DATA_KEY, "key-2"), "key-2") == DATA_KEY
    assert first.unwrap(new, second.wrap(new, DATA_KEY, "key-3"), "key-3") == DATA_KEY


def test_instances_creating_keys_keep_each_others(key_path: Path) -> None:
    """Read-modify-write under the file lock: no instance loses another's key."""
    files = [LocalKeyFile(key_path) for _ in range(4)]
    with ThreadPoolExecutor(len(files)) as pool:
        created = list(pool.map(lambda f: [f.create_key() for _ in range(5)], files))
    assert sorted(LocalKeyFile(key_path).key_ids()) == sorted(k for ks in created for k in ks)


def test_messages_never_contain_key_material(key_file: LocalKeyFile, key_path: Path) -> None:
    kek = key_file.create_key()
    wrapped = key_file.wrap(kek, DATA_KEY, "key-1")
    messages = []
    for attempt in (
        lambda: key_file.unwrap(kek, wrapped, "key-2"),
        lambda: key_file.unwrap(kek, wrapped[:-1] + bytes([wrapped[-1] ^ 1]), "key-1"),
        lambda: key_file.unwrap("local-0000", wrapped, "key-1"),
        lambda: key_file.wrap("local-0000", DATA_KEY, "key-1"),
        lambda: LocalKeyFile(key_path.with_name("gone.json")).wrap(kek, DATA_KEY, "key-1"),
    ):
        with pytest.raises(KeyringError) as raised:
            attempt()
        messages.append(str(raised.value))
    secrets_shown = key_material(DATA_KEY) + key_material(keks_in(key_path)[kek])
    for message in messages:
        assert "\n" not in message
        for shown in secrets_shown:
            assert shown not in message, message


# --- scopes ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "scope"),
    [
        ("1/abc123/artifacts/model.pkl", "run:abc123"),
        ("1/abc123/artifacts/plots/sub/loss.png", "run:abc123"),
        ("1/abc123/artifacts", "run:abc123"),
        ("./1/abc123/artifacts/x.txt", "run:abc123"),
        ("1/abc123/artifacts/datasets/train/part-0.parquet", "run:abc123/dataset:train"),
        ("1/abc123/artifacts/datasets/train/nested/deeper/x", "run:abc123/dataset:train"),
        ("1/abc123/artifacts/datasets/loose.csv", "run:abc123"),
        ("1/abc123/artifacts/other/datasets/train/x", "run:abc123"),
        ("1/models/m-0f3a/artifacts/MLmodel", "model:m-0f3a"),
        ("1/models/m-0f3a/artifacts/data/model.pkl", "model:m-0f3a"),
        ("1/models/m-0f3a/artifacts/datasets/train/x", "model:m-0f3a"),
        ("other/folder/file.txt", "path:other/folder"),
        ("1/abc123/not-artifacts/x", "path:1/abc123/not-artifacts"),
        ("file.txt", "path:"),
    ],
)
def test_scope_of(path: str, scope: str) -> None:
    assert scope_of(path) == scope


# --- the data key store and the keyring, on each backend ----------------------------------


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'mlflow.db'}"
    url: str = request.getfixturevalue("pg_database")
    return url


@pytest.fixture
def open_keyring(database_url: str, key_path: Path) -> Iterator[Callable[[], Keyring]]:
    """Opens a keyring over the test's database and key file, as another process would:
    its own engine, its own key file reader, nothing cached."""
    opened: list[Keyring] = []

    def open_one() -> Keyring:
        store = DataKeyStore.connect(database_url)
        ring = Keyring(store, {"local": LocalKeyFile(key_path)}, "local")
        opened.append(ring)
        return ring

    yield open_one
    for ring in opened:
        ring.store.close()


@pytest.fixture
def keyring(open_keyring: Callable[[], Keyring]) -> Keyring:
    """A keyring whose server has started: it has a current key-encryption key."""
    ring = open_keyring()
    ring.ensure_current_kek()
    return ring


@pytest.fixture
def no_grace(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(keyring_module, "ROTATION_GRACE_SECONDS", 0)


def rows(ring: Keyring) -> list[Any]:
    with ring.store.engine.connect() as c:
        return list(c.execute(sa.select(data_keys)).all())


def kek_states(ring: Keyring) -> dict[str, str]:
    return {k.id: k.state for k in ring.store.keks()}


def many_scopes() -> list[str]:
    """30 scopes: 10 runs, 10 datasets of them, 10 logged models."""
    runs = [f"run:{secrets.token_hex(16)}" for _ in range(10)]
    return [
        *runs,
        *(f"{run}/dataset:set-{i}" for i, run in enumerate(runs)),
        *(f"model:m-{secrets.token_hex(16)}" for _ in range(10)),
    ]


def test_ensure_current_kek_is_idempotent(
    open_keyring: Callable[[], Keyring], key_path: Path
) -> None:
    ring = open_keyring()
    assert ring.store.current_kek() is None
    kek = ring.ensure_current_kek()
    assert ring.ensure_current_kek() == kek
    assert open_keyring().ensure_current_kek() == kek  # the next server start
    assert kek_states(ring) == {kek: "current"}
    assert LocalKeyFile(key_path).key_ids() == [kek]


def test_ensure_current_kek_fails_at_start_when_the_key_file_is_gone(
    keyring: Keyring, key_path: Path, open_keyring: Callable[[], Keyring]
) -> None:
    key_path.unlink()
    with pytest.raises(KeyFileMissing, match="is missing"):
        open_keyring().ensure_current_kek()


def test_writing_before_any_kek_is_refused(open_keyring: Callable[[], Keyring]) -> None:
    with pytest.raises(KeyringError, match="no key-encryption key yet"):
        open_keyring().key_for_writing("run:abc")


def test_unconfigured_provider_is_refused(database_url: str, key_path: Path) -> None:
    store = DataKeyStore.connect(database_url)
    try:
        with pytest.raises(KeyringError, match="'aws-kms' is not configured"):
            Keyring(store, {"local": LocalKeyFile(key_path)}, "aws-kms")
    finally:
        store.close()


def test_key_for_writing_is_one_key_per_scope(keyring: Keyring) -> None:
    run_id, run_key = keyring.key_for_writing("run:aaa")
    assert len(run_key) == 32
    assert len(run_id) == 32
    assert keyring.key_for_writing("run:aaa") == (run_id, run_key)
    dataset_id, dataset_key = keyring.key_for_writing("run:aaa/dataset:train")
    model_id, model_key = keyring.key_for_writing("model:m-1")
    assert len({run_id, dataset_id, model_id}) == 3
    assert len({run_key, dataset_key, model_key}) == 3
    assert len(rows(keyring)) == 3


def test_data_keys_are_stored_only_wrapped(keyring: Keyring, key_path: Path) -> None:
    keys = dict(keyring.key_for_writing(scope) for scope in many_scopes())
    kek = keyring.store.current_kek()
    assert kek is not None
    stored = {row.id: row for row in rows(keyring)}
    assert stored.keys() == keys.keys()
    for key_id, key in keys.items():
        row = stored[key_id]
        assert row.kek_id == kek.id
        assert row.wrapped != key
        assert key not in row.wrapped
    engine = keyring.store.engine
    if engine.dialect.name == "sqlite":
        keyring.store.close()
        database = Path(str(engine.url.database)).read_bytes()
        for key in [*keys.values(), *keks_in(key_path).values()]:
            assert key not in database
            assert key.hex().encode() not in database
            assert base64.b64encode(key) not in database


def test_a_fresh_keyring_reads_the_same_key(
    keyring: Keyring, open_keyring: Callable[[], Keyring]
) -> None:
    written = {scope: keyring.key_for_writing(scope) for scope in many_scopes()}
    other = open_keyring()
    for scope, (key_id, key) in written.items():
        assert other.key_for_reading(key_id) == key
        assert other.key_for_writing(scope) == (key_id, key)


def test_reading_an_unknown_data_key(keyring: Keyring) -> None:
    with pytest.raises(UnknownKey, match="data key 0123 is unknown"):
        keyring.key_for_reading("0123")


def test_a_wrapped_key_moved_to_another_row_does_not_open(
    keyring: Keyring, open_keyring: Callable[[], Keyring]
) -> None:
    one, _ = keyring.key_for_writing("run:one")
    other, _ = keyring.key_for_writing("run:other")
    with keyring.store.engine.begin() as c:
        wrapped = c.execute(sa.select(data_keys.c.wrapped).where(data_keys.c.id == one)).scalar()
        c.execute(data_keys.update().where(data_keys.c.id == other).values(wrapped=wrapped))
    with pytest.raises(WrongKey, match=f"data key {other} does not open"):
        open_keyring().key_for_reading(other)


# --- rotation ------------------------------------------------------------------------------


@pytest.mark.usefixtures("no_grace")
def test_rotation_rewraps_every_data_key(
    keyring: Keyring, open_keyring: Callable[[], Keyring], key_path: Path
) -> None:
    old = keyring.ensure_current_kek()
    written = dict(keyring.key_for_writing(scope) for scope in many_scopes())
    before = {row.id: row.wrapped for row in rows(keyring)}

    rotation = keyring.rotate()

    assert rotation.moved == 30
    assert rotation.retired == [old]
    assert rotation.new_kek != old
    assert kek_states(keyring) == {old: "retired", rotation.new_kek: "current"}
    assert LocalKeyFile(key_path).key_ids() == [rotation.new_kek]
    after = rows(keyring)
    assert {row.kek_id for row in after} == {rotation.new_kek}
    assert all(row.wrapped != before[row.id] for row in after)
    fresh = open_keyring()
    for key_id, key in written.items():
        assert fresh.key_for_reading(key_id) == key
        assert keyring.key_for_reading(key_id) == key  # the rotating process, cache and all
    assert fresh.ensure_current_kek() == rotation.new_kek


@pytest.mark.usefixtures("no_grace")
def test_rotating_twice(keyring: Keyring, open_keyring: Callable[[], Keyring]) -> None:
    first_kek = keyring.ensure_current_kek()
    written = dict(keyring.key_for_writing(scope) for scope in many_scopes())
    first = keyring.rotate()
    # a server that had been running all along writes under the new key
    more = dict(open_keyring().key_for_writing(scope) for scope in ["run:late", "model:m-late"])
    second = open_keyring().rotate()

    assert second.moved == 32
    assert second.retired == [first.new_kek]
    assert kek_states(keyring) == {
        first_kek: "retired",
        first.new_kek: "retired",
        second.new_kek: "current",
    }
    assert {row.kek_id for row in rows(keyring)} == {second.new_kek}
    fresh = open_keyring()
    for key_id, key in {**written, **more}.items():
        assert fresh.key_for_reading(key_id) == key


@pytest.mark.usefixtures("no_grace")
def test_rotation_leaves_shredded_keys_shredded(keyring: Keyring) -> None:
    keyring.key_for_writing("run:gone")
    kept_id, kept = keyring.key_for_writing("run:kept")
    keyring.shred("run:gone", by="alice")
    rotation = keyring.rotate()
    assert rotation.moved == 1
    assert keyring.key_for_reading(kept_id) == kept
    gone = keyring.store.by_scope("run:gone")
    assert gone is not None
    assert (gone.kek_id, gone.wrapped) == (None, None)


@pytest.mark.usefixtures("no_grace")
def test_rotation_reports_progress(keyring: Keyring) -> None:
    for scope in many_scopes()[:7]:
        keyring.key_for_writing(scope)
    steps: list[int] = []
    assert keyring.rotate(progress=steps.append).moved == 7
    assert steps == [1] * 7


# --- shredding -----------------------------------------------------------------------------


def test_shred_run_takes_its_datasets_and_nothing_else(
    keyring: Keyring, open_keyring: Callable[[], Keyring]
) -> None:
    scopes = [
        "run:x",
        "run:x/dataset:train",
        "run:x/dataset:test",
        "run:y",
        "run:y/dataset:train",
        "run:xy",
        "model:m-x",
    ]
    written = {scope: keyring.key_for_writing(scope) for scope in scopes}
    for key_id, _ in written.values():
        keyring.key_for_reading(key_id)  # cached in this process

    shredded = keyring.shred("run:x", by="alice")

    assert sorted(shredded) == ["run:x", "run:x/dataset:test", "run:x/dataset:train"]
    for ring in (keyring, open_keyring()):
        for scope, (key_id, key) in written.items():
            if scope in shredded:
                with pytest.raises(ArtifactErased) as raised:
                    ring.key_for_reading(key_id)
                message = str(raised.value)
                assert "erased" in message
                assert scope in message
                assert "alice" in message
                assert "\n" not in message
                for shown in key_material(key):
                    assert shown not in message
            else:
                assert ring.key_for_reading(key_id) == key


def test_writing_to_a_shredded_scope_is_erased(
    keyring: Keyring, open_keyring: Callable[[], Keyring]
) -> None:
    keyring.key_for_writing("run:x")
    keyring.key_for_writing("run:x/dataset:train")
    keyring.shred("run:x", by="alice")
    for ring in (keyring, open_keyring()):
        for scope in ("run:x", "run:x/dataset:train"):
            with pytest.raises(ArtifactErased, match=f"erased: the data key of {scope} "):
                ring.key_for_writing(scope)


def test_shredding_again_returns_nothing(keyring: Keyring) -> None:
    keyring.key_for_writing("run:x")
    keyring.key_for_writing("run:x/dataset:train")
    assert len(keyring.shred("run:x", by="alice")) == 2
    assert keyring.shred("run:x", by="bob") == []
    row = keyring.store.by_scope("run:x")
    assert row is not None
    assert row.shredded_by == "alice"  # the second shred touched nothing
    assert keyring.shred("run:never-written", by="bob") == []


def test_shred_one_dataset(keyring: Keyring) -> None:
    run_id, run_key = keyring.key_for_writing("run:x")
    keyring.key_for_writing("run:x/dataset:a")
    other_id, other_key = keyring.key_for_writing("run:x/dataset:ab")
    assert keyring.shred("run:x/dataset:a", by="alice") == ["run:x/dataset:a"]
    assert keyring.key_for_reading(run_id) == run_key
    assert keyring.key_for_reading(other_id) == other_key


def test_shred_takes_like_wildcards_literally(keyring: Keyring) -> None:
    """``_`` and ``%`` in a scope match only themselves, never other runs' keys."""
    kept = dict(keyring.key_for_writing(s) for s in ["run:abc", "run:abc/dataset:d", "run:a"])
    keyring.key_for_writing("run:a_c")
    keyring.key_for_writing("run:a%")
    assert keyring.shred("run:a_c", by="alice") == ["run:a_c"]
    assert keyring.shred("run:a%", by="alice") == ["run:a%"]
    for key_id, key in kept.items():
        assert keyring.key_for_reading(key_id) == key


def test_shred_is_case_sensitive(keyring: Keyring) -> None:
    """On SQLite too, where LIKE ignores case: run:ABC is another run than run:abc."""
    kept = dict(keyring.key_for_writing(s) for s in ["run:abc", "run:abc/dataset:d"])
    assert keyring.shred("run:ABC", by="alice") == []
    assert keyring.shred("run:abc/DATASET:d", by="alice") == []
    for key_id, key in kept.items():
        assert keyring.key_for_reading(key_id) == key


def test_counts(keyring: Keyring) -> None:
    kek = keyring.ensure_current_kek()
    for scope in [
        "run:x",
        "run:x/dataset:train",
        "run:x/dataset:test",
        "run:y",
        "run:y/dataset:train",
        "model:m-1",
        "path:some/folder",
    ]:
        keyring.key_for_writing(scope)
    assert keyring.store.counts() == {
        (kek, "run"): 2,
        (kek, "dataset"): 3,
        (kek, "model"): 1,
        (kek, "path"): 1,
    }
    keyring.shred("run:x", by="alice")
    assert keyring.store.counts() == {
        (kek, "run"): 1,
        (kek, "dataset"): 1,
        (kek, "model"): 1,
        (kek, "path"): 1,
        (None, "run"): 1,
        (None, "dataset"): 2,
    }


# --- the insert guard and concurrent writers ---------------------------------------------


def test_insert_under_a_kek_that_stopped_being_current_is_refused(keyring: Keyring) -> None:
    old = keyring.ensure_current_kek()
    provider = keyring.providers["local"]
    new = provider.create_key()
    keyring.store.make_current(new, provider.name)  # a rotation began meanwhile

    key_id, key = new_data_key_id(), secrets.token_bytes(32)
    assert not keyring.store.insert(key_id, "run:late", old, provider.wrap(old, key, key_id))
    assert keyring.store.by_scope("run:late") is None
    assert keyring.store.by_id(key_id) is None

    written_id, written = keyring.key_for_writing("run:late")
    row = keyring.store.by_scope("run:late")
    assert row is not None
    assert (row.id, row.kek_id) == (written_id, new)
    assert keyring.key_for_reading(written_id) == written


def test_insert_for_a_scope_that_has_a_key_is_refused(keyring: Keyring) -> None:
    kek = keyring.ensure_current_kek()
    provider = keyring.providers["local"]
    first_id, first = keyring.key_for_writing("run:x")
    key_id, key = new_data_key_id(), secrets.token_bytes(32)
    assert not keyring.store.insert(key_id, "run:x", kek, provider.wrap(kek, key, key_id))
    assert keyring.key_for_writing("run:x") == (first_id, first)


def test_concurrent_writers_of_a_new_scope_share_one_key(keyring: Keyring) -> None:
    threads = 8
    start = threading.Barrier(threads)

    def write(_: int) -> tuple[str, bytes]:
        start.wait()
        return keyring.key_for_writing("run:contended")

    with ThreadPoolExecutor(threads) as pool:
        results = list(pool.map(write, range(threads)))
    assert len(set(results)) == 1
    assert [row.scope for row in rows(keyring)] == ["run:contended"]
    assert results[0][0] == rows(keyring)[0].id
