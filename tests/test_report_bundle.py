"""The assessor's bundle of a model version and the documents over REST (issue 16, items
6 and "the same through REST"), from a real compliance server: a high-risk model with
two datasets, per-group metrics, a metric history and a sign-off.

`report bundle` writes a ZIP with every document, the check report (JSON, SARIF), the
sign-offs, the audit-log extract and its signed head, and a manifest of SHA-256 digests
signed with the server's key; `report verify` says intact (exit 0) or names each
tampered, added or missing file (exit 1); the same state gives the same bundle; nobody
gets a document of a run they may not read."""

from __future__ import annotations

import hashlib
import io
import json
import uuid
import zipfile
from pathlib import Path

import mlflow
import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pypdf import PdfReader

from mlflow_compliance.audit.entry import link
from mlflow_compliance.testing import Server
from tests.test_high_risk_release import sign_off
from tests.test_promotion_gate import cli, user
from tests.test_report_annex_iv import high_risk_version

DOCUMENTS = "/api/2.0/compliance/model-versions/documents"
BUNDLE = "/api/2.0/compliance/model-versions/bundle"
EXPECTED = {
    "manifest.json", "model-card.md", "cyclonedx.json", "spdx.json", "annex-iv.md",
    "annex-iv.html", "annex-iv.pdf", "check/report.json", "check/report.sarif",
    "signoffs.json", "audit/extract.json", "audit/head.json",
}


@pytest.fixture(scope="module")
def ranker(server: Server) -> tuple[str, str, str]:
    """The high-risk version in its own experiment, signed off by a cleared approver who
    is not its trainer; the experiment's id."""
    mlflow.set_tracking_uri(server.url)
    experiment = mlflow.set_experiment(f"hiring-{uuid.uuid4().hex[:6]}").experiment_id
    name = f"ranker-{uuid.uuid4().hex[:6]}"
    version = high_risk_version(name)
    approver = user(server, "approver", "personal-data")
    granted = cli(server, "grant", approver[0], "--model", name, "--permission", "read")
    assert granted.returncode == 0, granted.stderr
    signed = sign_off(server, name, version, approver)
    assert signed.status_code == 200, signed.text
    mlflow.set_experiment("Default")
    return name, version, experiment


def bundle(server: Server, tmp_path: Path, name: str, version: str,
           file: str = "bundle.zip") -> Path:
    out = tmp_path / file
    done = cli(server, "report", "bundle", name, version, "-o", str(out))
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"{out}: bundle of {name} version {version}")
    return out


def verify(server: Server, path: Path, *args: str) -> tuple[int, str, str]:
    done = cli(server, "report", "verify", str(path), "--home", str(server.home), *args)
    return done.returncode, done.stdout, done.stderr


def rewritten(source: Path, target: Path, change: dict[str, bytes | None]) -> Path:
    """A copy of the ZIP with files replaced (bytes), removed (None) or added."""
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w") as new:
        for info in old.infolist():
            if info.filename in change:
                continue
            new.writestr(info, old.read(info))
        for path, data in change.items():
            if data is not None:
                new.writestr(path, data)
    return target


def test_the_bundle_holds_every_document_and_the_evidence_and_verifies(
    server: Server, ranker: tuple[str, str, str], tmp_path: Path
) -> None:
    name, version, _ = ranker
    path = bundle(server, tmp_path, name, version)
    with zipfile.ZipFile(path) as archive:
        files = {i.filename: archive.read(i) for i in archive.infolist()}
    cards = {f for f in files if f.startswith("datasets/")}
    assert set(files) - cards == EXPECTED
    assert len(cards) == 2 and all(f.endswith(".md") for f in cards)
    manifest = json.loads(files["manifest.json"])
    assert manifest["model"] == name and manifest["version"] == version
    assert set(manifest["files"]) == set(files) - {"manifest.json"}
    for file, listed in manifest["files"].items():
        assert listed["sha256"] == hashlib.sha256(files[file]).hexdigest(), file
    # the documents are the ones of this version
    assert f"# Model card: {name} version {version}" in files["model-card.md"].decode()
    assert "## 9. Post-market monitoring" in files["annex-iv.md"].decode()
    assert json.loads(files["cyclonedx.json"])["specVersion"] == "1.6"
    pdf = PdfReader(io.BytesIO(files["annex-iv.pdf"]))
    assert len(pdf.pages) >= 3 and name in pdf.pages[0].extract_text()
    # the check report: the version, its run and its two datasets, judged by the server
    report = json.loads(files["check/report.json"])
    kinds = {f["target_kind"] for f in report["findings"]}
    assert kinds == {"run", "dataset", "model_version"}
    assert report["packs"] == ["baseline", "gdpr", "ai-act"]
    sarif = json.loads(files["check/report.sarif"])
    assert sarif["version"] == "2.1.0" and sarif["runs"][0]["tool"]["driver"]["rules"]
    # the sign-off with its signature, valid
    signoffs = json.loads(files["signoffs.json"])["signoffs"]
    assert len(signoffs) == 1 and signoffs[0]["signature_valid"] is True
    assert signoffs[0]["signature"] and signoffs[0]["key_id"] == manifest["signature"]["key_id"]
    # the audit extract: the version's changes (created, signed off), no reads, each entry
    # chained; the signed head names the newest
    entries = json.loads(files["audit/extract.json"])["entries"]
    actions = [e["action"] for e in entries]
    assert "model_version.create" in actions and "model_version.approve" in actions
    assert not [a for a in actions if a.endswith((".read", ".search", ".list"))]
    for entry in entries:
        assert link(entry["previous_hash"], entry["record"]) == entry["hash"]
    head = json.loads(files["audit/head.json"])["head"]
    assert (head["seq"], head["hash"]) == (entries[-1]["seq"], entries[-1]["hash"])
    code, out, err = verify(server, path)
    assert code == 0, out + err
    assert out == (f"intact: bundle of {name} version {version}, {len(files) - 1} files, "
                   f"signed by key {manifest['signature']['key_id']}\n")


def test_the_same_state_gives_the_same_bundle(
    server: Server, ranker: tuple[str, str, str], tmp_path: Path
) -> None:
    name, version, _ = ranker
    first = bundle(server, tmp_path, name, version, "first.zip")
    again = bundle(server, tmp_path, name, version, "again.zip")
    assert first.read_bytes() == again.read_bytes()
    # a change to the version (a tag) changes the bundle, and the extract shows it
    mlflow.MlflowClient(server.url).set_model_version_tag(name, version, "reviewed", "yes")
    changed = bundle(server, tmp_path, name, version, "changed.zip")
    with zipfile.ZipFile(first) as a, zipfile.ZipFile(changed) as b:
        before = json.loads(a.read("manifest.json"))["files"]
        after = json.loads(b.read("manifest.json"))["files"]
        actions = [e["action"] for e in json.loads(b.read("audit/extract.json"))["entries"]]
    assert before["audit/extract.json"] != after["audit/extract.json"]
    assert before["spdx.json"] == after["spdx.json"]  # what the tag does not touch
    assert actions[-1] == "model_version.tag.set"


def test_a_tampered_bundle_names_the_file(
    server: Server, ranker: tuple[str, str, str], tmp_path: Path
) -> None:
    name, version, _ = ranker
    path = bundle(server, tmp_path, name, version)
    with zipfile.ZipFile(path) as archive:
        card = archive.read("model-card.md")
        manifest = json.loads(archive.read("manifest.json"))
    forged_card = card.replace(b"high", b"minimal")
    cases = {
        "changed": ({"model-card.md": forged_card},
                    ["model-card.md: tampered (SHA-256 differs from the manifest)"]),
        "added": ({"extra.txt": b"not signed"}, ["extra.txt: added (not in the manifest)"]),
        "removed": ({"annex-iv.pdf": None},
                    ["annex-iv.pdf: missing (listed in the manifest)"]),
    }
    # a manifest rewritten to match the changed card: its signature no longer holds
    relisted = {**manifest, "files": {**manifest["files"], "model-card.md": {
        "sha256": hashlib.sha256(forged_card).hexdigest(), "bytes": len(forged_card)}}}
    cases["manifest"] = ({"model-card.md": forged_card,
                          "manifest.json": json.dumps(relisted).encode()},
                         ["manifest.json: tampered (its signature does not verify)"])
    for label, (change, problems) in cases.items():
        copy = rewritten(path, tmp_path / f"{label}.zip", change)
        code, out, _ = verify(server, copy)
        assert code == 1, label
        assert out == "".join(f"TAMPERED: {p}\n" for p in problems), label


def test_a_bundle_signed_by_another_key_or_not_a_bundle_is_refused(
    server: Server, ranker: tuple[str, str, str], tmp_path: Path
) -> None:
    name, version, _ = ranker
    path = bundle(server, tmp_path, name, version)
    other = tmp_path / "other.pub"
    other.write_bytes(Ed25519PrivateKey.generate().public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    done = cli(server, "report", "verify", str(path), "--public-key", str(other))
    assert done.returncode == 1
    assert done.stdout.startswith("TAMPERED: manifest.json: signed by key ")
    assert "not by a key you trust" in done.stdout
    junk = tmp_path / "junk.zip"
    junk.write_bytes(b"not a zip")
    code, out, err = verify(server, junk)
    assert code == 2 and out == ""
    assert err == f"Error: FILE.zip: {junk}: not a ZIP file\n"
    empty = rewritten(path, tmp_path / "empty.zip", {"manifest.json": None})
    code, out, err = verify(server, empty)
    assert code == 2 and "manifest.json: missing; not a bundle" in err


def test_documents_over_rest_in_each_kind_and_format(
    server: Server, ranker: tuple[str, str, str]
) -> None:
    name, version, _ = ranker
    wanted = {
        ("model-card", ""): ("text/markdown; charset=utf-8", "model-card.md"),
        ("cyclonedx", ""): ("application/json", "cyclonedx.json"),
        ("spdx", "json"): ("application/json", "spdx.json"),
        ("annex-iv", "md"): ("text/markdown; charset=utf-8", "annex-iv.md"),
        ("annex-iv", "html"): ("text/html; charset=utf-8", "annex-iv.html"),
        ("annex-iv", "pdf"): ("application/pdf", "annex-iv.pdf"),
    }
    for (kind, form), (media, file) in wanted.items():
        answer = requests.get(server.url + DOCUMENTS, params={
            "name": name, "version": version, "kind": kind, "format": form},
            auth=server.auth, timeout=120)
        assert answer.status_code == 200, (kind, answer.text)
        assert answer.headers["content-type"] == media
        assert answer.headers["content-disposition"] == f'attachment; filename="{file}"'
    card = requests.get(server.url + DOCUMENTS, params={
        "name": name, "version": version, "kind": "dataset-card",
        "dataset": "applications-held-out"}, auth=server.auth, timeout=120)
    assert card.status_code == 200 and "applications-held-out" in card.text
    html = requests.get(server.url + DOCUMENTS, params={
        "name": name, "version": version, "kind": "annex-iv", "format": "html"},
        auth=server.auth, timeout=120)
    assert "<script>alert(1)</script>" not in html.text  # the record's markup escaped


def test_bad_document_requests_name_the_field(
    server: Server, ranker: tuple[str, str, str]
) -> None:
    name, version, _ = ranker
    cases = [
        ({"name": name, "version": version, "kind": "poem"}, 400, "kind: 'poem' is not a "
         "document; allowed: annex-iv, cyclonedx, dataset-card, model-card, spdx"),
        ({"name": name, "version": version, "kind": "spdx", "format": "pdf"}, 400,
         "format: spdx is written as json, not 'pdf'"),
        ({"name": name, "version": "x", "kind": "spdx"}, 400,
         "version: 'x' is not a version number"),
        ({"name": name, "version": version, "kind": "dataset-card"}, 400,
         "dataset: the version's run has several datasets; name one of: applications, "
         "applications-held-out"),
        ({"name": name, "version": "999", "kind": "spdx"}, 404,
         f"model {name!r} version '999' does not exist"),
    ]
    for params, status, message in cases:
        answer = requests.get(server.url + DOCUMENTS, params=params, auth=server.auth,
                              timeout=60)
        assert answer.status_code == status, (params, answer.text)
        assert answer.json()["message"] == message
        assert answer.json()["error_code"] in ("INVALID_PARAMETER_VALUE",
                                               "RESOURCE_DOES_NOT_EXIST")
    absent = cli(server, "report", "bundle", name, "999")
    assert absent.returncode == 2
    assert absent.stderr == f"Error: model {name!r} version '999' does not exist\n"


def test_nobody_gets_documents_of_a_run_they_may_not_read(
    server: Server, ranker: tuple[str, str, str], tmp_path: Path
) -> None:
    """Read on the registered model alone is not enough: the documents show the source
    run's params, metrics and datasets, so the run must be readable too."""
    name, version, experiment = ranker
    outsider = user(server, "personal-data")
    model_only = user(server, "personal-data")  # cleared: the run holds personal data
    granted = cli(server, "grant", model_only[0], "--model", name, "--permission", "read")
    assert granted.returncode == 0, granted.stderr
    for who in (outsider, model_only):
        for route, params in ((BUNDLE, {}), (DOCUMENTS, {"kind": "model-card"})):
            answer = requests.get(server.url + route, params={
                "name": name, "version": version, **params}, auth=who, timeout=60)
            assert answer.status_code in (403, 404), (who, route, answer.text)
            if who == model_only:  # the model is theirs to read, the run is not
                assert answer.json()["message"].startswith("version: "), answer.text
            assert "Model card" not in answer.text and answer.content[:2] != b"PK"
        refused = cli(server, "report", "bundle", name, version, "-o",
                      str(tmp_path / "no.zip"), auth=who)
        assert refused.returncode == 2 and not (tmp_path / "no.zip").exists()
    granted = cli(server, "grant", model_only[0], "--experiment", experiment,
                  "--permission", "read")
    assert granted.returncode == 0, granted.stderr
    allowed = requests.get(server.url + BUNDLE, params={"name": name, "version": version},
                           auth=model_only, timeout=120)
    assert allowed.status_code == 200 and allowed.content[:2] == b"PK"


def test_the_seed_examples_bundle_holds_valid_boms_equal_to_the_clis(
    server: Server, tmp_path: Path
) -> None:
    """The seed's own model: the bundle's CycloneDX validates against the 1.6 schema and
    its SPDX against the kept 3.0.1 schema, and the server's documents are byte for byte
    the ones `report model-card|cyclonedx|spdx` write for an admin."""
    import jsonschema
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    from tests.test_reports_documents import SPDX_SCHEMA, seed_version

    mlflow.set_tracking_uri(server.url)
    name = f"iris-{uuid.uuid4().hex[:6]}"
    version = seed_version(server, name)
    path = bundle(server, tmp_path, name, version)
    assert verify(server, path)[0] == 0
    with zipfile.ZipFile(path) as archive:
        files = {i.filename: archive.read(i) for i in archive.infolist()}
    assert not [f for f in files if f.startswith("datasets/")]  # the seed logs none
    problems = JsonStrictValidator(SchemaVersion.V1_6).validate_str(
        files["cyclonedx.json"].decode())
    assert problems is None, problems
    jsonschema.validate(json.loads(files["spdx.json"]),
                        json.loads(SPDX_SCHEMA.read_text()))
    for kind, file in (("model-card", "model-card.md"), ("cyclonedx", "cyclonedx.json"),
                       ("spdx", "spdx.json")):
        done = cli(server, "report", kind, name, version)
        assert done.returncode == 0, done.stderr
        assert done.stdout.encode() == files[file], kind


def test_a_repeated_field_is_refused_before_any_document_is_made(
    server: Server, tmp_path: Path
) -> None:
    """``version=1&version=2``: the run of one version would be checked and the other's
    served; the authorization layer refuses a repeated field (400, naming it), and our
    handlers read their query as that layer does anyway (server/query.py)."""
    from tests.test_promotion_gate import model

    mlflow.set_tracking_uri(server.url)
    name = f"twofold-{uuid.uuid4().hex[:6]}"
    open_experiment = mlflow.set_experiment(f"open-{uuid.uuid4().hex[:6]}").experiment_id
    first = model(name, None)
    mlflow.set_experiment(f"closed-{uuid.uuid4().hex[:6]}")
    second = model(name, None)
    mlflow.set_experiment("Default")
    second_run = mlflow.MlflowClient(server.url).get_model_version(name, second).run_id
    reader = user(server)
    for kind, target in (("--model", name), ("--experiment", open_experiment)):
        granted = cli(server, "grant", reader[0], kind, target, "--permission", "read")
        assert granted.returncode == 0, granted.stderr
    alone = requests.get(server.url + DOCUMENTS, params={
        "name": name, "version": second, "kind": "model-card"}, auth=reader, timeout=60)
    assert alone.status_code in (403, 404), alone.text  # the control: 2 alone is refused
    allowed = requests.get(server.url + DOCUMENTS, params={
        "name": name, "version": first, "kind": "model-card"}, auth=reader, timeout=60)
    assert allowed.status_code == 200, allowed.text  # and 1 alone is served
    for route, extra in ((DOCUMENTS, "&kind=model-card"), (BUNDLE, "")):
        for versions in (f"version={first}&version={second}",
                         f"version={second}&version={first}"):
            answer = requests.get(f"{server.url}{route}?name={name}&{versions}{extra}",
                                  auth=reader, timeout=120)
            assert answer.status_code == 400, answer.text
            assert answer.json()["message"] == "version: given 2 times; give it once"
            assert second_run.encode() not in answer.content
