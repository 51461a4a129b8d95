"""Encrypted artifacts end to end: a real compliance server, the real MLflow client, the
local artifact folder and S3 (moto's server on loopback), the keys CLI.

Each test runs on both storages through ``stored``, which reads and alters what the
storage really holds (files on disk, objects in the bucket).
"""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import mlflow
import numpy as np
import pytest
import requests
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient
from sklearn.linear_model import LogisticRegression

from mlflow_compliance.testing import BIN, MINIMUM_RECORD, Server, start_compliance_server

MARKER = b"PLAINTEXT-MARKER-c0ffee"
SEGMENT = 1 << 20
HEADER = 82  # docs/encryption-format.md: fixed part, 32-char key id, salt, nonce prefix
TAG = 16


class Stored:
    """What the artifact storage of one server holds, read and altered behind its back."""

    def __init__(self, server: Server, bucket: str | None = None, prefix: str = "") -> None:
        self.server, self.bucket, self.prefix = server, bucket, prefix
        if bucket:
            import boto3

            self.s3 = boto3.client("s3", endpoint_url=os.environ["MLFLOW_S3_ENDPOINT_URL"])

    def files(self) -> dict[str, bytes]:
        """Every stored object, by its path below the artifact root."""
        if self.bucket is None:
            root = self.server.home / "artifacts"
            return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*")
                    if p.is_file()}
        found = {}
        pages = self.s3.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=self.prefix)
        for page in pages:
            for item in page.get("Contents", []):
                body = self.s3.get_object(Bucket=self.bucket, Key=item["Key"])["Body"].read()
                found[item["Key"][len(self.prefix):]] = body
        return found

    def read(self, path: str) -> bytes:
        return self.files()[path]

    def write(self, path: str, data: bytes) -> None:
        if self.bucket is None:
            (self.server.home / "artifacts" / path).write_bytes(data)
        else:
            self.s3.put_object(Bucket=self.bucket, Key=self.prefix + path, Body=data)

    def exists(self, path: str) -> bool:
        return path in self.files()


@pytest.fixture(scope="module")
def s3_server(
    tmp_path_factory: pytest.TempPathFactory, moto_server: object
) -> Iterator[tuple[Server, str]]:
    import boto3

    bucket = f"artifacts-{uuid.uuid4().hex[:8]}"
    boto3.client("s3", endpoint_url=os.environ["MLFLOW_S3_ENDPOINT_URL"]).create_bucket(
        Bucket=bucket)
    home = tmp_path_factory.mktemp("home-s3")
    server = start_compliance_server(
        home, extra_args=["--artifacts-destination", f"s3://{bucket}/store"])
    yield server, bucket
    server.stop()


@pytest.fixture(params=["folder", "s3"])
def stored(request: pytest.FixtureRequest, server: Server) -> Iterator[Stored]:
    if request.param == "folder":
        target = Stored(server)
    else:
        s3, bucket = request.getfixturevalue("s3_server")
        target = Stored(s3, bucket, "store/")
    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(target.server.url)
    yield target
    mlflow.set_tracking_uri(previous)


def run_with_file(tmp_path: Path, data: bytes, name: str = "data.bin",
                  tags: dict[str, str] | None = None) -> tuple[str, str]:
    """A run with one artifact; (run id, its stored path below the artifact root)."""
    source = tmp_path / name
    source.write_bytes(data)
    with mlflow.start_run(tags=tags) as run:
        mlflow.log_artifact(str(source))
    return run.info.run_id, f"{run.info.experiment_id}/{run.info.run_id}/artifacts/{name}"


def download(server: Server, path: str) -> requests.Response:
    return requests.get(f"{server.url}/api/2.0/mlflow-artifacts/artifacts/{path}",
                        auth=server.auth, timeout=60)


def keys_cli(server: Server, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "mlflow-compliance"), "keys", *args, "--home", str(server.home)],
        capture_output=True, text=True, timeout=120,
    )


# --- what is stored ------------------------------------------------------------------


def test_sklearn_model_is_ciphertext_at_rest_and_loads_and_predicts(stored: Stored) -> None:
    X = np.random.default_rng(0).random((60, 3))
    y = (X[:, 0] > 0.5).astype(int)
    model = LogisticRegression().fit(X, y)
    with mlflow.start_run():
        info = mlflow.sklearn.log_model(model, name="model")
    files = {p: b for p, b in stored.files().items() if info.model_id in p}
    assert any(p.endswith("/MLmodel") for p in files)
    for path, body in files.items():
        assert body[:4] == b"MLCE", path
        for readable in (b"flavors", b"sklearn", b"python_function", b"LogisticRegression"):
            assert readable not in body, (path, readable)
    loaded = mlflow.sklearn.load_model(info.model_uri)
    assert (loaded.predict(X) == model.predict(X)).all()


def test_large_file_round_trips_byte_exact_and_is_ciphertext(
    stored: Stored, tmp_path: Path
) -> None:
    data = os.urandom(5 * SEGMENT + 12345) + MARKER
    run_id, path = run_with_file(tmp_path, data)
    body = stored.read(path)
    assert MARKER not in body and data[:4096] not in body
    segments = -(-len(data) // SEGMENT)
    assert len(body) == HEADER + len(data) + segments * TAG
    back = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path="data.bin",
                                               dst_path=str(tmp_path / "back"))
    assert Path(back).read_bytes() == data


def test_listing_shows_plaintext_names_and_sizes(stored: Stored, tmp_path: Path) -> None:
    run_id, _ = run_with_file(tmp_path, b"x" * 3000, "small.txt")
    listed = {f.path: f.file_size for f in MlflowClient().list_artifacts(run_id)}
    assert listed == {"small.txt": 3000}


def test_the_ui_artifact_routes_serve_plaintext(stored: Stored, tmp_path: Path) -> None:
    run_id, _ = run_with_file(tmp_path, b"hello, auditor", "note.txt")
    server = stored.server
    page = requests.get(f"{server.url}/get-artifact",
                        params={"path": "note.txt", "run_uuid": run_id},
                        auth=server.auth, timeout=60)
    assert page.status_code == 200 and page.content == b"hello, auditor"
    listing = requests.get(f"{server.url}/ajax-api/2.0/mlflow/artifacts/list",
                           params={"run_id": run_id}, auth=server.auth, timeout=60)
    assert listing.json()["files"] == [
        {"path": "note.txt", "is_dir": False, "file_size": len(b"hello, auditor")}]


def test_delete_really_deletes(stored: Stored, tmp_path: Path) -> None:
    _, path = run_with_file(tmp_path, b"to be deleted")
    assert stored.exists(path)
    r = requests.delete(f"{stored.server.url}/api/2.0/mlflow-artifacts/artifacts/{path}",
                        auth=stored.server.auth, timeout=60)
    assert r.status_code == 200
    assert not stored.exists(path)


# --- what is refused -------------------------------------------------------------------


def refused(server: Server, path: str, status: int, words: str) -> None:
    """The download is an error in MLflow's shape naming the artifact, never a 200."""
    r = download(server, path)
    assert r.status_code == status, r.text
    message = r.json()["message"]
    assert "\n" not in message and path in message and words in message


def test_flipped_byte_is_refused(stored: Stored, tmp_path: Path) -> None:
    _, path = run_with_file(tmp_path, b"model weights " * 100)
    body = bytearray(stored.read(path))
    body[HEADER + 7] ^= 0x01
    stored.write(path, bytes(body))
    refused(stored.server, path, 500, "cannot be trusted")


def test_truncation_is_refused(stored: Stored, tmp_path: Path) -> None:
    _, path = run_with_file(tmp_path, os.urandom(SEGMENT + 500))
    body = stored.read(path)
    stored.write(path, body[: HEADER + SEGMENT + TAG])  # the final segment cut off
    refused(stored.server, path, 500, "cannot be trusted")


def test_swapped_segments_are_refused(stored: Stored, tmp_path: Path) -> None:
    _, path = run_with_file(tmp_path, os.urandom(3 * SEGMENT))
    body = stored.read(path)
    full = SEGMENT + TAG
    first, second = body[HEADER:HEADER + full], body[HEADER + full:HEADER + 2 * full]
    stored.write(path, body[:HEADER] + second + first + body[HEADER + 2 * full:])
    refused(stored.server, path, 500, "cannot be trusted")


def test_edited_header_is_refused(stored: Stored, tmp_path: Path) -> None:
    _, path = run_with_file(tmp_path, b"abc" * 1000)
    body = bytearray(stored.read(path))
    body[HEADER - 1] ^= 0x80  # the nonce prefix
    stored.write(path, bytes(body))
    refused(stored.server, path, 500, "cannot be trusted")


def test_a_file_under_another_data_key_is_refused(stored: Stored, tmp_path: Path) -> None:
    """Ciphertext moved from one run to another still names its own key and fails there
    only if that key is gone; a file whose header names a key this server never had
    is refused."""
    _, path = run_with_file(tmp_path, b"secret" * 100)
    body = bytearray(stored.read(path))
    body[11:43] = uuid.uuid4().hex.encode()  # the key id
    stored.write(path, bytes(body))
    refused(stored.server, path, 500, "unknown")


@pytest.mark.parametrize("damage", ["flipped byte", "truncated at a segment boundary"])
def test_damage_late_in_a_large_file_never_arrives_complete(
    stored: Stored, tmp_path: Path, damage: str
) -> None:
    """Past the first segments the answer has started: the transfer breaks short of its
    Content-Length, and the MLflow client raises (it leaves what it received on disk:
    never the whole file)."""
    run_id, path = run_with_file(tmp_path, os.urandom(4 * SEGMENT))
    body = bytearray(stored.read(path))
    if damage == "flipped byte":
        body[HEADER + 3 * (SEGMENT + TAG) + 10] ^= 0x01
    else:
        del body[HEADER + 3 * (SEGMENT + TAG):]
    stored.write(path, bytes(body))
    with requests.get(f"{stored.server.url}/api/2.0/mlflow-artifacts/artifacts/{path}",
                      auth=stored.server.auth, stream=True, timeout=60) as r:
        assert r.status_code == 200
        expected = int(r.headers["content-length"])
        received = 0
        with pytest.raises(requests.RequestException):
            for chunk in r.iter_content(SEGMENT):
                received += len(chunk)
        assert received < expected
    with pytest.raises((MlflowException, requests.RequestException, OSError)):
        mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path="data.bin",
                                            dst_path=str(tmp_path / "back"))
    left = tmp_path / "back" / "data.bin"
    assert not left.exists() or left.stat().st_size < 4 * SEGMENT


def test_plaintext_file_planted_in_storage_is_refused(stored: Stored, tmp_path: Path) -> None:
    _, path = run_with_file(tmp_path, b"real")
    stored.write(path, b"planted plaintext, never encrypted here")
    refused(stored.server, path, 500, "cannot be trusted")


# --- key operations ----------------------------------------------------------------------


def test_rotation_keeps_every_artifact_readable(stored: Stored, tmp_path: Path) -> None:
    written = {}
    for i in range(3):
        data = os.urandom(1000 + i)
        written[run_with_file(tmp_path, data, f"f{i}.bin")[1]] = data
    before = {p: stored.read(p) for p in written}
    result = keys_cli(stored.server, "rotate")
    assert result.returncode == 0, result.stderr
    assert "retired: local-" in result.stdout
    for path, data in written.items():
        assert stored.read(path) == before[path]  # no artifact re-encrypted
        r = download(stored.server, path)
        assert r.status_code == 200 and r.content == data
    status = keys_cli(stored.server, "status", "--format", "json")
    states = [k["state"] for k in json.loads(status.stdout)["key_encryption_keys"]]
    assert states.count("current") == 1 and "retired" in states


def test_shredded_run_is_erased_for_good(stored: Stored, tmp_path: Path) -> None:
    shredded_run, shredded_path = run_with_file(tmp_path, b"personal data" * 50)
    _, kept_path = run_with_file(tmp_path, b"someone else's data")
    backup = stored.read(shredded_path)
    result = keys_cli(stored.server, "shred", "--run", shredded_run, "--yes")
    assert result.returncode == 0, result.stderr
    refused(stored.server, shredded_path, 404, "erased")
    assert download(stored.server, kept_path).status_code == 200
    stored.write(shredded_path, backup)  # restoring the ciphertext from a backup
    refused(stored.server, shredded_path, 404, "erased")
    again = keys_cli(stored.server, "shred", "--run", shredded_run, "--yes")
    assert again.returncode == 0 and "nothing to shred" in again.stdout


def test_shredding_one_dataset_leaves_the_rest_of_its_run(stored: Stored, tmp_path: Path) -> None:
    (tmp_path / "customers.csv").write_text("name,email\nAda,ada@example.org\n")
    (tmp_path / "metrics.json").write_text("{}")
    with mlflow.start_run() as run:
        mlflow.log_artifact(str(tmp_path / "customers.csv"), artifact_path="datasets/customers")
        mlflow.log_artifact(str(tmp_path / "metrics.json"))
    root = f"{run.info.experiment_id}/{run.info.run_id}/artifacts"
    result = keys_cli(stored.server, "shred", "--dataset", f"{run.info.run_id}/customers",
                      "--yes")
    assert result.returncode == 0, result.stderr
    assert f"run:{run.info.run_id}/dataset:customers" in result.stdout
    refused(stored.server, f"{root}/datasets/customers/customers.csv", 404, "erased")
    assert download(stored.server, f"{root}/metrics.json").content == b"{}"


def test_writing_to_a_shredded_run_is_refused(stored: Stored, tmp_path: Path) -> None:
    run_id, _ = run_with_file(tmp_path, b"first")
    assert keys_cli(stored.server, "shred", "--run", run_id, "--yes").returncode == 0
    (tmp_path / "more.bin").write_bytes(b"more")
    with pytest.raises((MlflowException, requests.HTTPError), match="erased"):
        MlflowClient().log_artifact(run_id, str(tmp_path / "more.bin"))


# --- the switch and the key file ---------------------------------------------------------


def start(home: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """A server start that is expected to fail before serving."""
    return subprocess.run(
        [str(BIN / "mlflow-compliance"), "server", "--home", str(home), "--port", "1"],
        capture_output=True, text=True, timeout=120, env={**os.environ, **env},
    )


def test_bad_switch_value_exits_2(tmp_path: Path) -> None:
    result = start(tmp_path / "home", {"MLFLOW_ARTIFACT_ENCRYPTION": "maybe"})
    assert result.returncode == 2
    assert "MLFLOW_ARTIFACT_ENCRYPTION" in result.stderr and "true, false" in result.stderr
    assert not (tmp_path / "home").exists()


def test_missing_key_file_stops_the_server_with_one_line(tmp_path: Path) -> None:
    home = tmp_path / "home"
    server = start_compliance_server(home)
    server.stop()
    (home / "artifact-keys.json").unlink()
    result = start(home, {})
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if "artifact-keys.json" in line]
    assert lines and "missing" in lines[0]


def test_switch_off_stores_plaintext_and_says_so(tmp_path: Path) -> None:
    server = start_compliance_server(tmp_path / "home",
                                     env={"MLFLOW_ARTIFACT_ENCRYPTION": "false"})
    try:
        assert "ARTIFACT ENCRYPTION IS OFF" in server.log.read_text()
        previous = mlflow.get_tracking_uri()
        mlflow.set_tracking_uri(server.url)
        try:
            _, path = run_with_file(tmp_path, MARKER)
        finally:
            mlflow.set_tracking_uri(previous)
        assert (server.home / "artifacts" / path).read_bytes() == MARKER
        assert not (server.home / "artifact-keys.json").exists()
    finally:
        server.stop()


def test_ui_artifact_routes_stream_without_a_plaintext_copy(tmp_path: Path) -> None:
    """The UI's run, model-version and logged-model artifact routes decrypt as they send: while a
    download is under way, nothing in the server's temp folder holds the plaintext
    (MLflow's own handlers download the whole file there first)."""
    scratch = tmp_path / "server-tmp"
    scratch.mkdir()
    server = start_compliance_server(tmp_path / "home", env={"TMPDIR": str(scratch)})
    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(server.url)
    try:
        data = os.urandom(4 * SEGMENT)
        run_id, _ = run_with_file(tmp_path, data, tags=MINIMUM_RECORD)  # versions need it
        client = MlflowClient()
        name = f"streamed-{uuid.uuid4().hex[:6]}"
        client.create_registered_model(name)
        version = client.create_model_version(
            name, client.get_run(run_id).info.artifact_uri, run_id=run_id).version
        logged = client.create_logged_model(client.get_run(run_id).info.experiment_id,
                                            source_run_id=run_id)
        client.log_model_artifact(logged.model_id, str(tmp_path / "data.bin"))
        routes = {
            "/get-artifact": {"path": "data.bin", "run_uuid": run_id},
            "/model-versions/get-artifact": {"path": "data.bin", "name": name,
                                             "version": version},
            f"/ajax-api/2.0/mlflow/logged-models/{logged.model_id}/artifacts/files":
                {"artifact_file_path": "data.bin"},
        }
        tail = data[-64:]
        for route, params in routes.items():
            with requests.get(f"{server.url}{route}", params=params, auth=server.auth,
                              stream=True, timeout=60) as r:
                assert r.status_code == 200, (route, r.text)
                chunks = r.iter_content(64 * 1024)
                received = [next(chunks)]
                copies = [p for p in scratch.rglob("*") if p.is_file() and tail in p.read_bytes()]
                assert copies == [], route
                received.extend(chunks)
            assert b"".join(received) == data, route
    finally:
        mlflow.set_tracking_uri(previous)
        server.stop()


def test_key_file_is_0600_outside_the_artifact_folder(server: Server) -> None:
    key_file = server.home / "artifact-keys.json"
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert not key_file.resolve().is_relative_to((server.home / "artifacts").resolve())



# --- AWS KMS as the keyring (moto's server on loopback) ----------------------------------


def test_kms_keyring_end_to_end_and_rotation_between_providers(
    moto_server: object, tmp_path: Path
) -> None:
    """A server whose key-encryption keys are in KMS: no key file, artifacts round-trip,
    rotation makes a new KMS key; a rotation back to the local key file is picked up by
    the running server without a restart."""
    server = start_compliance_server(tmp_path / "home",
                                     env={"MLFLOW_COMPLIANCE_KEYRING": "aws-kms"})
    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(server.url)
    try:
        assert "AWS KMS" in server.log.read_text()
        assert not (server.home / "artifact-keys.json").exists()
        data = os.urandom(2 * SEGMENT + 3)
        _, path = run_with_file(tmp_path, data)
        assert download(server, path).content == data
        first = json.loads(keys_cli(server, "status", "--format", "json").stdout)
        [kek] = first["key_encryption_keys"]
        assert kek["provider"] == "aws-kms"
        assert kek["key_encryption_key"].startswith("arn:aws:kms:")
        rotated = keys_cli(server, "rotate", "--provider", "aws-kms")
        assert rotated.returncode == 0, rotated.stderr
        assert download(server, path).content == data
        to_local = keys_cli(server, "rotate", "--provider", "local")
        assert to_local.returncode == 0, to_local.stderr
        assert (server.home / "artifact-keys.json").exists()
        assert download(server, path).content == data
        _, later = run_with_file(tmp_path, b"after the move", "later.txt")
        assert download(server, later).content == b"after the move"
        states = {(k["provider"], k["state"]) for k in json.loads(
            keys_cli(server, "status", "--format", "json").stdout)["key_encryption_keys"]}
        assert states == {("aws-kms", "retired"), ("local", "current")}
    finally:
        mlflow.set_tracking_uri(previous)
        server.stop()


def test_kms_unreachable_at_start_is_one_line_and_exit_2(
    moto_server: object, tmp_path: Path
) -> None:
    from mlflow_compliance.testing import free_port

    closed = f"http://127.0.0.1:{free_port()}"
    result = start(tmp_path / "home", {"MLFLOW_COMPLIANCE_KEYRING": "aws-kms",
                                       "AWS_ENDPOINT_URL_KMS": closed})
    assert result.returncode == 2, result.stderr
    [line] = [x for x in result.stderr.splitlines() if x.startswith("Error")]
    assert "KMS" in line or "kms" in line
