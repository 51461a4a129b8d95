"""``mlflow-compliance subjects report ID -o DIR``: the answer to an access request.

GDPR Art. 15: the server builds the report (server/subject_report.py); this command
writes it as ``access-report.json`` (the whole answer, for the record and for machines),
``access-report.md`` and ``access-report.html`` (for the person: one section per Art.
15(1) letter, their rows per dataset, the models made from them). The files hold the
person's own data (Art. 15(3)): created 0600 in a folder created 0700, each written
whole or not at all. The id is read from the command line or standard input (``-``,
out of the shell history); it appears only inside the person's rows, never in a
heading, a file name or a line this command prints.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from mlflow_compliance.cli.errors import InputError
from mlflow_compliance.cli.remote import call

FILE_STEM = "access-report"
FORMATS = ("json", "md", "html")
LETTERS = ("15(1)(a)", "15(1)(b)", "15(1)(c)", "15(1)(d)", "15(1)(e)", "15(1)(f)",
           "15(1)(g)", "15(1)(h)", "15(2)", "15(3)")


def _read_subject(subject_id: str) -> str:
    if subject_id == "-":  # from standard input: stays out of the shell history
        subject_id = sys.stdin.readline()
    if not subject_id.strip():
        raise InputError("ID: empty; give the subject id, or - to read it from standard input")
    return subject_id


def _folder(path: str) -> Path:
    folder = Path(path)
    if folder.exists() and not folder.is_dir():
        raise InputError(f"-o: {path} is not a folder")
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as e:
        raise InputError(f"-o: {path} cannot be created ({e.strerror})") from None
    return folder


def write_private(path: Path, text: str) -> None:
    """Write ``path`` whole, 0600, through a private temp file renamed into place."""
    descriptor, staging = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.fchmod(descriptor, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as file:
            file.write(text)
        os.replace(staging, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(staging)
        raise


# --- values as text -----------------------------------------------------------------


def shown(value: Any) -> str:
    """A recorded value for people: lists joined, yes/no, a dash for none."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(shown(v) for v in value) or "-"
    return str(value)


def columns_of(rows: list[dict[str, str]]) -> list[str]:
    seen: dict[str, None] = {}
    for row in rows:
        seen.update(dict.fromkeys(row))
    return list(seen)


# --- Markdown -----------------------------------------------------------------------

_MD_SPECIAL = str.maketrans({c: "\\" + c for c in "\\`*_[]|~"})


def md(text: Any) -> str:
    """Text safe in a Markdown table cell or line: markup and HTML escaped."""
    escaped = (shown(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
               .translate(_MD_SPECIAL))
    return escaped.replace("\r\n", "<br>").replace("\n", "<br>").replace("\r", "<br>")


def _md_items(answer: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    if "missing" in answer and "items" not in answer:
        return [f"Not recorded: {md(answer['missing'])}.", ""]
    if "value" in answer and "items" not in answer:
        return [md(answer["value"]), ""]
    if "missing" in answer:
        lines += [f"Not recorded: {md(answer['missing'])}.", "", "Related facts recorded:", ""]
    if not answer.get("items"):
        return [*lines, "Nothing is recorded about the subject.", ""]
    lines += ["| run | dataset | record | field | value |", "|---|---|---|---|---|"]
    for item in answer["items"]:
        value = md(item["value"]) if item["value"] is not None \
            else f"not declared ({md(item['field_article'])})"
        lines.append(f"| {md(item['run_id'])} | {md(item['dataset_name'])} | "
                     f"{md(item['record'])} | `{item['field']}` | {value} |")
    return [*lines, ""]


def markdown(report: dict[str, Any]) -> str:
    """The report as a Markdown document a data subject can read."""
    lines = ["# Your personal data: access report (GDPR Art. 15)", "",
             f"Generated {md(report['generated_at'])}. {md(report.get('notice', ''))}", ""]
    if not report["found"]:
        lines += ["The subject was found in no indexed dataset.", ""]
    else:
        lines += [f"The subject appears in {len(report['places'])} dataset(s) of "
                  f"{len({p['run_id'] for p in report['places']})} run(s).", ""]
    for letter in LETTERS:
        answer = report["answers"][letter]
        lines += [f"## {md(answer['article'])}: {md(answer['title'])}", ""]
        if letter == "15(1)(e)":
            lines += [f"- **{md(r['right'])}** ({md(r['article'])}): {md(r['what'])}"
                      for r in answer["rights"]] + ["", md(answer["how"]), ""]
        if letter == "15(3)":
            lines += _md_rows(report)
            continue
        lines += _md_items(answer)
    lines += ["## What was made from the data", ""]
    for place in report["places"]:
        made = place["made_from_it"]
        lines += [f"### Run {md(place['run_name'] or place['run_id'])} "
                  f"({md(place['run_id'])}), dataset {md(place['dataset_name'])}", ""]
        lines += [f"- logged model {md(m['name'])} ({md(m['model_id'])})"
                  for m in made["logged_models"]]
        lines += [f"- model version {md(v['name'])} v{md(v['version'])}"
                  + (f", aliases {md(v['aliases'])}" if v["aliases"] else "")
                  for v in made["model_versions"]]
        if not made["logged_models"] and not made["model_versions"]:
            lines.append("- no model was made from this run")
        lines.append("")
    lines += ["## Your requests", ""]
    if not report["requests"]:
        lines += ["No request of the subject is recorded.", ""]
    else:
        lines += ["| request | kind | received | due | status |", "|---|---|---|---|---|"]
        lines += [f"| {md(r['id'])} | {md(r['kind'])} ({md(r['article'])}) | "
                  f"{md(r['received_on'])} | {md(r['deadline'])} | {md(r['status'])} |"
                  for r in report["requests"]] + [""]
    if report["problems"]:
        lines += ["## What could not be read", ""]
        lines += [f"- {md(p['where'])}: {md(p['problem'])}" for p in report["problems"]]
        lines.append("")
    return "\n".join(lines)


def _md_rows(report: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    for place in report["places"]:
        for file in place["files"]:
            lines += [f"### Dataset {md(place['dataset_name'])}, file {md(file['path'])} "
                      f"(run {md(place['run_id'])})", ""]
            if not file["rows"]:
                lines += ["No row of the subject in this file.", ""]
                continue
            header = columns_of(file["rows"])
            lines += ["| " + " | ".join(md(c) for c in header) + " |",
                      "|" + "---|" * len(header)]
            lines += ["| " + " | ".join(md(row.get(c, "")) for c in header) + " |"
                      for row in file["rows"]] + [""]
    return lines or ["No row of the subject could be copied.", ""]


# --- HTML ---------------------------------------------------------------------------

HTML = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>Access report (GDPR Art. 15)</title>
<style>body{font-family:sans-serif;max-width:60em;margin:2em auto;line-height:1.4}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #999;padding:.2em .5em;
vertical-align:top;white-space:pre-wrap}th{background:#eee}</style></head><body>
<h1>Your personal data: access report (GDPR Art. 15)</h1>
<p>Generated {{ r.generated_at }}. {{ r.notice }}</p>
{% if r.found %}<p>The subject appears in {{ r.places|length }} dataset(s) of
{{ runs }} run(s).</p>{% else %}<p>The subject was found in no indexed dataset.</p>{% endif %}
{% for letter in letters %}{% set a = r.answers[letter] %}
<section><h2>{{ a.article }}: {{ a.title }}</h2>
{% if letter == "15(1)(e)" %}<ul>{% for x in a.rights %}<li><b>{{ x.right }}</b>
({{ x.article }}): {{ x.what }}</li>{% endfor %}</ul><p>{{ a.how }}</p>{% endif %}
{% if letter == "15(3)" %}
{% for p in r.places %}{% for f in p.files %}
<h3>Dataset {{ p.dataset_name }}, file {{ f.path }} (run {{ p.run_id }})</h3>
{% if f.rows %}{% set cols = columns_of(f.rows) %}<table><tr>{% for c in cols %}
<th>{{ c }}</th>{% endfor %}</tr>{% for row in f.rows %}<tr>{% for c in cols %}
<td>{{ row.get(c, "") }}</td>{% endfor %}</tr>{% endfor %}</table>
{% else %}<p>No row of the subject in this file.</p>{% endif %}
{% endfor %}{% endfor %}
{% else %}
{% if a.missing %}<p>Not recorded: {{ a.missing }}.</p>{% endif %}
{% if "items" in a %}{% if a["items"] %}<table><tr><th>run</th><th>dataset</th>
<th>record</th><th>field</th><th>value</th></tr>{% for i in a["items"] %}<tr>
<td>{{ i.run_id }}</td><td>{{ i.dataset_name }}</td><td>{{ i.record }}</td>
<td><code>{{ i.field }}</code></td><td>{% if i.value is none %}not
declared ({{ i.field_article }}){% else %}{{ shown(i.value) }}{% endif %}</td></tr>
{% endfor %}</table>{% else %}<p>Nothing is recorded about the subject.</p>{% endif %}
{% elif a.get("value") is not none %}<p>{{ a.value }}</p>{% endif %}
{% endif %}</section>
{% endfor %}
<section><h2>What was made from the data</h2>
{% for p in r.places %}<h3>Run {{ p.run_name or p.run_id }} ({{ p.run_id }}), dataset
{{ p.dataset_name }}</h3><ul>
{% for m in p.made_from_it.logged_models %}<li>logged model {{ m.name }}
({{ m.model_id }})</li>{% endfor %}
{% for v in p.made_from_it.model_versions %}<li>model version {{ v.name }}
v{{ v.version }}{% if v.aliases %}, aliases {{ v.aliases|join(", ") }}{% endif %}</li>
{% endfor %}
{% if not p.made_from_it.logged_models and not p.made_from_it.model_versions %}
<li>no model was made from this run</li>{% endif %}</ul>{% endfor %}</section>
<section><h2>Your requests</h2>
{% if r.requests %}<table><tr><th>request</th><th>kind</th><th>received</th><th>due</th>
<th>status</th></tr>{% for q in r.requests %}<tr><td>{{ q.id }}</td><td>{{ q.kind }}
({{ q.article }})</td><td>{{ q.received_on }}</td><td>{{ q.deadline }}</td>
<td>{{ q.status }}</td></tr>{% endfor %}</table>
{% else %}<p>No request of the subject is recorded.</p>{% endif %}</section>
{% if r.problems %}<section><h2>What could not be read</h2><ul>
{% for x in r.problems %}<li>{{ x.where }}: {{ x.problem }}</li>{% endfor %}</ul>
</section>{% endif %}
</body></html>
"""


def html(report: dict[str, Any]) -> str:
    """The report as an HTML page; every value escaped (Jinja2 autoescape)."""
    from jinja2 import Environment

    environment = Environment(autoescape=True, keep_trailing_newline=True)
    template = environment.from_string(HTML)
    return template.render(r=report, letters=LETTERS, shown=shown, columns_of=columns_of,
                           runs=len({p["run_id"] for p in report["places"]}))


RENDER: dict[str, Callable[[dict[str, Any]], str]] = {
    "json": lambda report: json.dumps(report, indent=2, ensure_ascii=False) + "\n",
    "md": markdown,
    "html": html,
}


@click.command("report")
@click.argument("subject_id", metavar="ID")
@click.option("-o", "--output", "output", required=True, metavar="DIR",
              help="The folder to write the report to (created 0700).")
@click.option("--format", "forms", type=click.Choice(FORMATS), multiple=True,
              help="Which files to write (repeatable) [default: json, md and html].")
def report(subject_id: str, output: str, forms: tuple[str, ...]) -> None:
    """Write the answer to a data subject's access request (GDPR Art. 15).

    ID is the person's id as it is in the data; - reads it from standard input. Writes
    DIR/access-report.json, .md and .html: where the subject's data is, the record's
    answers per Art. 15(1)(a)-(h) and 15(2), their own rows (Art. 15(3)) and what was
    made from them. The files hold personal data: keep them as such.
    """
    answer = call("POST", "subjects/report", {"subject_id": _read_subject(subject_id)})
    folder = _folder(output)
    written = []
    for form in forms or FORMATS:
        path = folder / f"{FILE_STEM}.{form}"
        write_private(path, RENDER[form](answer))
        written.append(path.name)
    rows = sum(p["rows"] for p in answer["places"])
    click.echo(f"the subject: {'found' if answer['found'] else 'not found'} in "
               f"{len(answer['places'])} dataset(s), {rows} row(s) copied, "
               f"{len(answer['problems'])} problem(s); wrote {', '.join(written)} to {folder}")
