"""Docs generated from code cannot drift from it."""

from mlflow_compliance.record import FIELDS
from mlflow_compliance.record.reference import reference_markdown
from tests.conftest import ROOT


def test_record_reference_page_is_generated_from_the_schema() -> None:
    page = (ROOT / "docs" / "record.md").read_text()
    assert page == reference_markdown(), (
        "docs/record.md is stale: run `mlflow-compliance record reference > docs/record.md`"
    )
    for tag, field in FIELDS.items():
        assert f"`{tag}` | {field.article} |" in page
