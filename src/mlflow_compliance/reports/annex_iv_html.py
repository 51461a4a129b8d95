"""The Annex IV outline (reports/annex_iv.py) as one self-contained HTML page.

Jinja2 with autoescape on: every record value is text a user wrote into a tag, so it is
escaped, never markup (a ``<script>`` in a purpose stays text). No external resource is
loaded; the page is the same bytes for the same state.
"""

from __future__ import annotations

from jinja2 import Environment

from mlflow_compliance.reports.annex_iv import (
    HOW_TO_EXTEND,
    Entry,
    Heading,
    Outline,
    State,
    Table,
    entry_text,
)
from mlflow_compliance.reports.markdown import when
from mlflow_compliance.reports.model_card import NOT_LEGAL_ADVICE

TEMPLATE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{{ outline.title }}</title>
<style>
body { font-family: sans-serif; max-width: 60em; margin: 2em auto; line-height: 1.4; }
table { border-collapse: collapse; margin: 0.5em 0 1em; }
th, td { border: 1px solid #999; padding: 0.2em 0.5em; text-align: left; }
.cite { color: #555; font-size: 0.9em; }
.gap { color: #a00; }
</style>
</head>
<body>
<h1>{{ outline.title }}</h1>
<p><em>{{ not_legal_advice }}</em></p>
<p>Date: {{ date }} (the version's last update). {{ how_to_extend }}
Gaps: {{ outline.gaps | length }}.</p>
{% if outline.record_problems %}
<p><strong>The compliance record is not valid</strong>, so no field below is read from it:</p>
<ul>{% for p in outline.record_problems %}<li>{{ p }}</li>{% endfor %}</ul>
{% endif %}
{% for section in outline.sections %}
<section id="point-{{ section.number }}">
<h2>{{ section.number }}. {{ section.title }} <span class="cite">({{ section.cite }})</span></h2>
<ul>
{% for block in section.blocks %}
{% if block is heading %}</ul>
<h{{ block.level }}>{{ block.title }}</h{{ block.level }}>
<ul>
{% elif block is entry %}<li class="{{ block.state.value | replace(' ', '-') }}">
<strong>{{ block.label }}</strong>
<span class="cite">({{ block.cite }})</span>:
<span{% if block.is_gap %} class="gap"{% endif %}>{{ shown(block) }}</span></li>
{% else %}</ul>
<p><strong>{{ block.caption }}</strong> <span class="cite">({{ block.cite }})</span></p>
{% if block.rows %}<table>
<tr>{% for h in block.header %}<th>{{ h }}</th>{% endfor %}</tr>
{% for row in block.rows %}<tr>{% for c in row %}<td>{{ c }}</td>{% endfor %}</tr>
{% endfor %}</table>
{% else %}<p class="gap">{{ block.empty }}</p>
{% endif %}<ul>
{% endif %}
{% endfor %}
</ul>
</section>
{% endfor %}
{% if outline.missing %}
<h2>Not readable</h2>
<ul>{% for m in outline.missing %}<li>{{ m }}</li>{% endfor %}</ul>
{% endif %}
</body>
</html>
"""


def _environment() -> Environment:
    env = Environment(autoescape=True, trim_blocks=True, lstrip_blocks=True)
    env.tests["heading"] = lambda b: isinstance(b, Heading)
    env.tests["entry"] = lambda b: isinstance(b, Entry)
    env.tests["table"] = lambda b: isinstance(b, Table)
    return env


def annex_iv_html(outline: Outline) -> str:
    """The outline as an HTML page (UTF-8)."""
    return _environment().from_string(TEMPLATE).render(
        outline=outline, date=when(outline.updated), how_to_extend=HOW_TO_EXTEND,
        not_legal_advice=NOT_LEGAL_ADVICE, shown=entry_text, State=State)
