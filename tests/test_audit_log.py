"""The audit log itself, on SQLite and on a real PostgreSQL: chain, signatures, tamper
detection, purge, export. Tampering is done with plain SQL on the real database, and
detection is checked through the real ``mlflow-compliance audit`` commands."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa

from mlflow_compliance.audit.entry import GENESIS, HASHED, Entry, clean, link, now_us
from mlflow_compliance.audit.log import AuditLog
from mlflow_compliance.audit.signing import HEAD_FILE, Signer, Verifier, read_head_file
from mlflow_compliance.audit.tables import INDEXED
from mlflow_compliance.audit.verify import verify
from mlflow_compliance.testing import BIN
from tests.conftest import postgres_url

CLI = str(BIN / "mlflow-compliance")
DAY_US = 86_400 * 1_000_000


def sample(i: int, time_us: int | None = None) -> Entry:
    return Entry(
        time_us=time_us if time_us is not None else now_us(),
        request_id=uuid.uuid4().hex,
        principal=f"user-{i % 3}",
        auth_method="basic",
        client="127.0.0.1",
        method="POST",
        route="/api/2.0/mlflow/runs/log-batch",
        action="run.batch.log",
        resources=Entry.resources_json({"run_id": f"run{i}"}),
        status=200 if i % 4 else 403,
        bytes_in=100 + i,
        bytes_out=20,
        duration_us=1500 + i,
    )


@dataclass
class Log:
    log: AuditLog
    home: Path
    url: str

    def sql(self, statement: str, **params: object) -> None:
        with self.log.engine.begin() as conn:
            conn.execute(sa.text(statement), params)

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [CLI, "audit", *args, "--home", str(self.home), "--database-url", self.url],
            capture_output=True, text=True, timeout=300,
        )

    def verified(self) -> subprocess.CompletedProcess[str]:
        return self.cli("verify")


@pytest.fixture(params=["sqlite", "postgresql"])
def audit_log(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Log]:
    home = tmp_path / "home"
    home.mkdir()
    admin = None
    if request.param == "sqlite":
        url = f"sqlite:///{home / 'audit.db'}"
    else:
        admin = sa.create_engine(postgres_url(), isolation_level="AUTOCOMMIT")
        name = f"audit_test_{uuid.uuid4().hex[:8]}"
        with admin.connect() as c:
            c.execute(sa.text(f'CREATE DATABASE "{name}"'))
        url = postgres_url().rsplit("/", 1)[0] + "/" + name
    log = AuditLog(url, home, Signer.load_or_create(home))
    log.create()
    for start in range(0, 30, 10):
        log.append([sample(i) for i in range(start, start + 10)])
    yield Log(log, home, url)
    log.close()
    if admin is not None:
        with admin.connect() as c:
            c.execute(sa.text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        admin.dispose()


def tampered(done: subprocess.CompletedProcess[str], *words: str) -> None:
    assert done.returncode == 1, done.stdout + done.stderr
    line = done.stdout.strip()
    assert line.startswith("TAMPERED: ") and "\n" not in line, line
    for word in words:
        assert word in line, line


def test_appended_log_verifies_intact(audit_log: Log) -> None:
    done = audit_log.verified()
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith("intact: 30 entries (1..30)")


def test_key_files_are_private_and_outside_the_database(audit_log: Log) -> None:
    key = audit_log.home / "audit-signing.key"
    assert key.stat().st_mode & 0o777 == 0o600
    with audit_log.log.engine.connect() as conn:
        tables = sa.inspect(conn).get_table_names()
        for table in tables:
            if table.startswith("compliance_audit"):
                text = json.dumps([list(map(str, r)) for r in conn.execute(
                    sa.text(f"SELECT * FROM {table}"))])
                assert "PRIVATE KEY" not in text


@pytest.mark.parametrize(
    ("change", "params"),
    [
        # a field stored in the rest of the record
        ("rest = replace(rest, :old, :new)", {"old": "basic", "new": "token"}),
        ("rest = replace(rest, :old, :new)", {"old": "\x1f200\x1f", "new": "\x1f599\x1f"}),
        ("rest = replace(rest, :old, :new)", {"old": "run11", "new": "run99"}),
        ("rest = replace(rest, :old, :new)", {"old": "127.0.0.1", "new": "10.0.0.1"}),
        # a field stored in a search column
        ("principal = :new", {"new": "mallory"}),
        ("action = :new", {"new": "run.read"}),
        ("time_us = time_us + 1", {}),
    ],
)
def test_an_edited_field_is_detected_and_named(
    audit_log: Log, change: str, params: dict[str, str]
) -> None:
    audit_log.sql(f"UPDATE compliance_audit_entries SET {change} WHERE seq = 12", **params)
    tampered(audit_log.verified(), "entry 12")


def test_a_deleted_entry_is_detected(audit_log: Log) -> None:
    audit_log.sql("DELETE FROM compliance_audit_entries WHERE seq = 7")
    tampered(audit_log.verified(), "entry 7 is missing")


def test_an_inserted_entry_is_detected(audit_log: Log) -> None:
    # Make room at 15 by renumbering the entries after it, then insert a copy of 14.
    audit_log.sql("UPDATE compliance_audit_entries SET seq = seq + 1000 WHERE seq >= 15")
    audit_log.sql("UPDATE compliance_audit_entries SET seq = seq - 999 WHERE seq >= 1015")
    columns = ", ".join((*INDEXED, "rest", "hash"))
    audit_log.sql(f"INSERT INTO compliance_audit_entries (seq, {columns}) "
                  f"SELECT 15, {columns} FROM compliance_audit_entries WHERE seq = 14")
    tampered(audit_log.verified(), "entry 15 ")


def test_an_entry_appended_past_the_signed_tip_is_detected(audit_log: Log) -> None:
    columns = ", ".join((*INDEXED, "rest", "hash"))
    audit_log.sql(f"INSERT INTO compliance_audit_entries (seq, {columns}) "
                  f"SELECT 31, {columns} FROM compliance_audit_entries WHERE seq = 30")
    tampered(audit_log.verified(), "entry 31 lies beyond the signed tip")


def test_reordered_entries_are_detected(audit_log: Log) -> None:
    audit_log.sql("UPDATE compliance_audit_entries SET seq = -1 WHERE seq = 20")
    audit_log.sql("UPDATE compliance_audit_entries SET seq = 20 WHERE seq = 21")
    audit_log.sql("UPDATE compliance_audit_entries SET seq = 21 WHERE seq = -1")
    tampered(audit_log.verified(), "entry 20 ")


def test_cutting_off_the_newest_entries_is_detected(audit_log: Log) -> None:
    audit_log.sql("DELETE FROM compliance_audit_entries WHERE seq > 27")
    tampered(audit_log.verified(), "entry 28 is missing")


def test_cutting_off_and_rewinding_the_tip_is_caught_by_the_head_outside(audit_log: Log) -> None:
    # The attacker cuts entries 21..30 and puts back the tip as it was signed at entry 20.
    log = audit_log.log
    old_tip = Signer.load(audit_log.home).sign("tip", 20, log.hash_before(21) or "", now_us())
    audit_log.sql("DELETE FROM compliance_audit_entries WHERE seq > 20")
    audit_log.sql("UPDATE compliance_audit_tip SET seq = 20, hash = :h, time_us = :t, "
                  "signature = :s", h=old_tip.hash, t=old_tip.time_us, s=old_tip.signature)
    tampered(audit_log.verified(), "entries 21..30 are missing", "outside the database")


def test_rehashing_the_rest_of_the_chain_fails_the_tip_signature(audit_log: Log) -> None:
    log = audit_log.log
    audit_log.sql("UPDATE compliance_audit_entries SET principal = 'mallory' WHERE seq = 5")
    previous = log.hash_before(5) or ""
    for entry in log.entries(after_seq=4):
        entry.hash = previous = entry.chained(previous)
        audit_log.sql("UPDATE compliance_audit_entries SET hash = :h WHERE seq = :s",
                      h=entry.hash, s=entry.seq)
    # The chain itself is consistent again; only the signed tip gives it away.
    audit_log.sql("UPDATE compliance_audit_tip SET hash = :h", h=previous)
    tampered(audit_log.verified(), "signed tip", "signature does not verify")


def test_a_tip_signed_with_another_key_is_refused(audit_log: Log, tmp_path: Path) -> None:
    other_home = tmp_path / "other"
    other_home.mkdir()
    forged = Signer.load_or_create(other_home).sign("tip", 30, audit_log.log.tip().hash, 1)
    audit_log.sql("UPDATE compliance_audit_tip SET key_id = :k, signature = :s, time_us = 1",
                  k=forged.key_id, s=forged.signature)
    tampered(audit_log.verified(), "unknown key")


def test_verify_checks_ranges_in_parallel_with_the_same_result(audit_log: Log) -> None:
    log = audit_log.log
    verifier = Verifier.load(audit_log.home)
    outside = read_head_file(audit_log.home)
    parallel = verify(log, verifier, outside, processes=2, chunk=7, parallel_from=0)
    assert parallel.intact and parallel.entries == 30
    audit_log.sql("UPDATE compliance_audit_entries SET rest = replace(rest, 'run15', "
                  "'run51') WHERE seq = 16")
    parallel = verify(log, verifier, outside, processes=2, chunk=7, parallel_from=0)
    assert parallel.bad_seq == 16, parallel
    single = verify(log, verifier, outside, processes=1, chunk=7)
    assert single.bad_seq == 16 and single.problem == parallel.problem


def test_purge_keeps_the_rest_verifiable_with_a_signed_anchor(audit_log: Log) -> None:
    # Set-up, not tampering: start over with ten entries from more than a year ago.
    log = audit_log.log
    old = now_us() - 400 * DAY_US
    audit_log.sql("DELETE FROM compliance_audit_entries")
    audit_log.sql("UPDATE compliance_audit_tip SET seq = 0, hash = :g", g=GENESIS)
    (audit_log.home / HEAD_FILE).unlink()
    log.append([sample(i, old + i) for i in range(10)])
    log.append([sample(i) for i in range(10, 30)])
    assert audit_log.verified().returncode == 0
    done = audit_log.cli("purge")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("purged 10 entries") and "anchored at entry 10" in done.stdout
    assert audit_log.verified().returncode == 0
    audit_log.sql("DELETE FROM compliance_audit_entries WHERE seq = 11")
    tampered(audit_log.verified(), "entry 11 is missing")


def test_purge_below_six_months_is_refused(audit_log: Log) -> None:
    done = audit_log.cli("purge", "--retention-days", "30")
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "Error: retention: 30 days is below the minimum of 183 (AI Act Art. 19: at least "
        "six months)"
    )
    assert audit_log.log.tip().seq == 30  # nothing happened, not even a log entry


def test_export_streams_every_entry_with_chain_fields(audit_log: Log) -> None:
    jsonl = audit_log.cli("export", "--format", "jsonl")
    assert jsonl.returncode == 0, jsonl.stderr
    rows = [json.loads(line) for line in jsonl.stdout.splitlines()]
    assert [r["seq"] for r in rows] == list(range(1, len(rows) + 1)) and len(rows) >= 31
    # The export is self-contained: the chain recomputes from the exported fields alone.
    for row in rows:
        entry = Entry(**{k: row[k] for k in HASHED})
        assert link(row["prev_hash"], entry.canonical()) == row["hash"]
    table = audit_log.cli("export", "--format", "csv")
    parsed = list(csv.DictReader(io.StringIO(table.stdout)))
    assert [int(r["seq"]) for r in parsed[: len(rows)]] == [r["seq"] for r in rows]
    assert parsed[0]["prev_hash"] == GENESIS and parsed[0]["hash"] == rows[0]["hash"]


def test_reading_the_log_is_itself_logged(audit_log: Log) -> None:
    audit_log.cli("export")
    audit_log.verified()
    actions = [e.action for e in audit_log.log.entries(after_seq=30)]
    assert actions == ["audit.export", "audit.verify"]
    local = audit_log.log.search(action="audit.*")
    assert all(e.principal.startswith("local:") and e.auth_method == "local" for e in local)


def test_head_file_is_kept_outside_and_tracks_the_tip(audit_log: Log) -> None:
    outside = read_head_file(audit_log.home)
    assert outside is not None and outside == audit_log.log.tip()
    assert (audit_log.home / HEAD_FILE).exists()


def test_bad_home_or_url_is_one_line_exit_2(tmp_path: Path) -> None:
    done = subprocess.run([CLI, "audit", "verify", "--home", str(tmp_path / "nope")],
                          capture_output=True, text=True)
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "--home" in done.stderr
    (tmp_path / "empty").mkdir()
    done = subprocess.run([CLI, "audit", "verify", "--home", str(tmp_path / "empty")],
                          capture_output=True, text=True)
    assert done.returncode == 2 and "audit-signing.key" in done.stderr


def test_untrusted_strings_are_cleaned_before_they_are_chained() -> None:
    assert clean("eve\nFAKE LINE\x00") == "eve\ufffdFAKE LINE\ufffd"
    forged = sample(1)
    forged.principal = "eve\x1fbasic"  # would shift the fields of the record
    assert Entry(**{k: getattr(forged, k) for k in HASHED}).principal == "eve\ufffdbasic"
    assert "\n" not in Entry.resources_json({"path": "a\r\nb"})
    assert clean("x" * 5000) == "x" * 1024


def test_writer_commits_on_the_event_loop_when_the_lock_is_free_and_waits_off_it_when_not(
    tmp_path: Path,
) -> None:
    """On SQLite the server commits an entry on its event loop when no other writer holds
    the write lock (no thread hand-over, about 0.3 ms). When another writer holds it, the
    entry waits on the commit thread instead: the loop keeps running, the request is not
    answered until its entry is stored, and the chain verifies afterwards."""
    import asyncio
    import fcntl
    import threading

    from mlflow_compliance.audit.writer import GroupWriter

    home = tmp_path
    log = AuditLog(f"sqlite:///{home / 'audit.db'}", home, Signer.load_or_create(home))
    log.create()
    writer = GroupWriter(log)
    assert writer.inline and log.lock_path

    def commit_threads() -> int:
        return sum(t.name.startswith("audit-commit") for t in threading.enumerate())

    async def scenario() -> tuple[int, bool, int]:
        await writer.append(sample(0))  # inline: stored when append returns
        inline_seq = log.tip().seq
        assert commit_threads() == 0  # committed on the loop's own thread
        with open(log.lock_path or "", "a") as other_writer:
            fcntl.flock(other_writer, fcntl.LOCK_EX)
            waiting = asyncio.ensure_future(writer.append(sample(1)))
            ticks = 0
            for _ in range(20):  # the loop keeps running while the entry waits
                await asyncio.sleep(0.01)
                ticks += 1
            stored_while_locked = waiting.done()
            threading.Timer(0.05, fcntl.flock, (other_writer, fcntl.LOCK_UN)).start()
            await waiting
        assert commit_threads() == 1  # this one waited on the commit thread
        return inline_seq, stored_while_locked, ticks

    inline_seq, stored_while_locked, ticks = asyncio.run(scenario())
    assert inline_seq == 1
    assert not stored_while_locked and ticks == 20
    assert log.tip().seq == 2
    assert verify(log, Verifier.load(home), read_head_file(home)).intact
    log.close()
