"""``mlflow-compliance check`` against a tracking server.

The server and the caller come from MLflow's own variables (MLFLOW_TRACKING_URI and its
credentials), so ``check`` sees exactly what the caller may read, and the server's own
policy (the minimum record, the longest retention) from its server-info. Exit codes: 0
every applicable rule passes, 1 a finding fails or is undeclared, 2 bad usage (unknown
pack, unreachable server).
"""

from __future__ import annotations

import json
import re
import sys
from typing import IO

import click
from mlflow.tracking import MlflowClient
from rich.console import Console

from mlflow_compliance.checks.collect import Scan, Selection, report_order
from mlflow_compliance.checks.model import ServerFacts
from mlflow_compliance.checks.packs import DEFAULT_PACKS, evaluate, load_rules
from mlflow_compliance.checks.policy import Policy
from mlflow_compliance.checks.report import summary, table, to_json, to_junit, to_sarif
from mlflow_compliance.cli.errors import InputError
from mlflow_compliance.cli.fetching import fetching
from mlflow_compliance.cli.gate import recheck, render
from mlflow_compliance.cli.remote import fetch, host_creds, tracking_uri
from mlflow_compliance.project import ProjectConfigError, project_check_rules

_MODEL = re.compile(r"^(?P<name>[^'/]+)(?:/(?P<version>\d+))?$")
err = Console(stderr=True)


def server_facts(uri: str) -> ServerFacts:
    """What the server says it enforces; a plain MLflow server says nothing (all None,
    and the default policy)."""
    status, info = fetch(host_creds(uri), "GET", "/api/2.0/compliance/server-info")
    if status in (401, 403):
        raise InputError(f"credentials: {uri} answered {status}; set "
                         "MLFLOW_TRACKING_USERNAME/PASSWORD or MLFLOW_TRACKING_TOKEN")
    if status != 200:
        return ServerFacts(url=uri)
    return ServerFacts(
        url=uri,
        artifact_encryption=info.get("artifact_encryption"),
        access_logging=info.get("access_logging"),
        audit_retention_days=info.get("audit_retention_days"),
        need_to_know=info.get("need_to_know"),
        encrypted_since=_ms(info.get("encrypted_since")),
        policy=Policy.from_dict(info.get("policy")),
    )


def _ms(value: object) -> int | None:
    """A time in ms as the server reports it (a number), else None: it does not say."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return int(value)


def _gate(experiments: tuple[str, ...], model: str | None, rules: str | None,
          form: str) -> None:
    """``check --gate``: the server's re-check of admitted versions; exit 1 if any lapsed."""
    if experiments or model or rules:
        raise InputError("--gate: re-checks every gated version with the server's own rule "
                         "packs; it takes no --experiment, --model or --rules")
    if form not in ("table", "json"):
        raise InputError(f"--format: {form} is not available with --gate; allowed: table, json")
    rows, code = recheck(tracking_uri())
    if form == "json":
        click.echo(json.dumps({"versions": rows}, indent=2))
    else:
        render(rows)
    sys.exit(code)


def _packs(rules: str | None) -> list[str]:
    if rules:
        return [r.strip() for r in rules.split(",") if r.strip()]
    try:
        configured = project_check_rules()
    except ProjectConfigError as e:
        raise InputError(str(e)) from None
    return list(configured or DEFAULT_PACKS)


@click.command()
@click.option("--experiment", "experiments", multiple=True,
              help="Only this experiment (id), its runs and the versions made from them; "
              "repeat for more.")
@click.option("--model", help="Only this registered model, NAME or NAME/VERSION.")
@click.option("--rules", help="Comma-separated rule packs or rule files [default: [check] "
              "rules of compliance.toml, else baseline,gdpr,ai-act].")
@click.option("--format", "form", type=click.Choice(["table", "json", "junit", "sarif"]),
              default="table", show_default=True)
@click.option("--output", "-o", type=click.File("w"), default="-",
              help="File to write [default: standard output].")
@click.option("--gate", is_flag=True,
              help="Instead: have the server re-check every model version holding a gated "
              "alias or stage Production, and list those whose evidence lapsed (admins).")
def check(
    experiments: tuple[str, ...], model: str | None, rules: str | None, form: str,
    output: IO[str], gate: bool,
) -> None:
    """Check runs, experiments, datasets and model versions against rule packs."""
    if gate:
        _gate(experiments, model, rules, form)
        return
    packs = _packs(rules)
    try:
        loaded = load_rules(packs)
    except ValueError as e:  # unknown pack, bad rule file, duplicate rule ids
        raise InputError(str(e)) from None
    selection = Selection(experiments=experiments)
    if model:
        match = _MODEL.match(model)
        if not match:
            raise InputError(f"--model: {model!r} is not NAME or NAME/VERSION")
        selection = Selection(model=match["name"], version=match["version"])
    uri = tracking_uri()
    facts = server_facts(uri)
    client = MlflowClient(tracking_uri=uri)
    with fetching(uri) as fetched:
        scan = Scan(client, selection, facts, fetched)
        # The rules run on each target as its page arrives, while the server reads the
        # next pages.
        findings = evaluate(loaded, scan)
        findings.sort(key=report_order)
    meta = {"server": uri, "packs": packs}
    if form == "json":
        output.write(to_json(findings, loaded, meta) + "\n")
    elif form == "junit":
        output.write(to_junit(findings) + "\n")
    elif form == "sarif":
        output.write(to_sarif(findings, loaded) + "\n")
    else:
        console = Console(file=output) if output is not sys.stdout else Console()
        console.print(table(findings))
    counts = summary(findings)
    err.print(f"checked {scan.targets} targets ({scan.runs} runs, {scan.versions} "
              f"model versions) against {', '.join(packs)}: {counts['pass']} passed, "
              f"{counts['fail']} failed, {counts['undeclared']} undeclared, "
              f"{counts['not_applicable']} not applicable")
    if not counts["passed"]:
        sys.exit(1)

