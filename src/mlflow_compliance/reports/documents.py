"""Every document of one model version by name, as the bundle and the REST route give them.

One place decides which documents a version has, what each file is called and its media
type: ``model-card.md``, ``datasets/<name>-<digest>.md`` (a card per dataset input),
``cyclonedx.json``, ``spdx.json`` and ``annex-iv.md|html|pdf``. Each is rendered only
when asked for (the PDF draws a chart per metric history).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from mlflow_compliance.reports.annex_iv_facts import Lifecycle
from mlflow_compliance.reports.facts import VersionFacts

MARKDOWN = "text/markdown; charset=utf-8"
JSON = "application/json"
HTML = "text/html; charset=utf-8"
PDF = "application/pdf"


@dataclass(frozen=True)
class Document:
    kind: str  # what the REST route calls it: model-card, annex-iv, ...
    form: str  # md, json, html, pdf
    media_type: str
    render: Callable[[VersionFacts, Lifecycle], bytes]


def _model_card(facts: VersionFacts, _: Lifecycle) -> bytes:
    from mlflow_compliance.reports.model_card import model_card

    return model_card(facts).encode()


def _cyclonedx(facts: VersionFacts, _: Lifecycle) -> bytes:
    from mlflow_compliance.reports.cyclonedx import cyclonedx_json

    return cyclonedx_json(facts).encode()


def _spdx(facts: VersionFacts, _: Lifecycle) -> bytes:
    from mlflow_compliance.reports.spdx import spdx_json

    return spdx_json(facts).encode()


def _annex_iv(form: str) -> Callable[[VersionFacts, Lifecycle], bytes]:
    def render(facts: VersionFacts, lifecycle: Lifecycle) -> bytes:
        from mlflow_compliance.reports.annex_iv import annex_iv, annex_iv_markdown

        outline = annex_iv(facts, lifecycle)
        if form == "pdf":
            from mlflow_compliance.reports.annex_iv_pdf import annex_iv_pdf

            return annex_iv_pdf(outline)
        if form == "html":
            from mlflow_compliance.reports.annex_iv_html import annex_iv_html

            return annex_iv_html(outline).encode()
        return annex_iv_markdown(outline).encode()

    return render


DOCUMENTS = {
    "model-card.md": Document("model-card", "md", MARKDOWN, _model_card),
    "cyclonedx.json": Document("cyclonedx", "json", JSON, _cyclonedx),
    "spdx.json": Document("spdx", "json", JSON, _spdx),
    "annex-iv.md": Document("annex-iv", "md", MARKDOWN, _annex_iv("md")),
    "annex-iv.html": Document("annex-iv", "html", HTML, _annex_iv("html")),
    "annex-iv.pdf": Document("annex-iv", "pdf", PDF, _annex_iv("pdf")),
}
"""File name -> the document of a version written to it."""

KINDS = {(d.kind, d.form): name for name, d in DOCUMENTS.items()}
DATASET_CARDS = "datasets/"


def kinds() -> str:
    """The kinds and formats a caller may ask for, for error messages."""
    found = sorted({f"{kind}" for kind, _ in KINDS} | {"dataset-card"})
    return ", ".join(found)


def dataset_card_files(facts: VersionFacts, name: str | None = None) -> dict[str, bytes]:
    from mlflow_compliance.reports.dataset_card import dataset_cards

    return {DATASET_CARDS + file: text.encode()
            for file, text in dataset_cards(facts, name).items()}


def all_documents(facts: VersionFacts, lifecycle: Lifecycle) -> dict[str, bytes]:
    """Every document of the version, file name -> content."""
    files = {name: d.render(facts, lifecycle) for name, d in DOCUMENTS.items()}
    files.update(dataset_card_files(facts))
    return files
