"""The Annex IV outline (reports/annex_iv.py) as a PDF, with the test logs plotted.

Annex IV 2(g) asks for the validation and testing "test logs": each metric the source
run logged at more than one step is drawn as one PNG chart (matplotlib's Agg canvas, no
global backend switched) and embedded; tables (metrics, per-group results, versions,
sign-offs) are PDF tables. Written with fpdf2 in DejaVu Sans (the font matplotlib ships,
so any record text prints); the creation date is the version's last update and the PNGs
carry no software stamp, so the same state gives the same bytes.
"""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path

from fpdf import FPDF
from fpdf.fonts import FontFace

from mlflow_compliance.reports.annex_iv import (
    HISTORIES,
    HOW_TO_EXTEND,
    Entry,
    Heading,
    Outline,
    Table,
    entry_text,
)
from mlflow_compliance.reports.markdown import when
from mlflow_compliance.reports.model_card import NOT_LEGAL_ADVICE

FONT = "DejaVu"
LINE = 5.0  # mm


def _fonts() -> dict[str, Path]:
    import matplotlib

    folder = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
    return {"": folder / "DejaVuSans.ttf", "B": folder / "DejaVuSans-Bold.ttf",
            "I": folder / "DejaVuSans-Oblique.ttf"}


class Charts:
    """Metric histories drawn as PNG charts, all on one matplotlib figure whose line is
    given each history in turn: a new figure, its layout and its text cost about ten
    times the drawing (a PDF of 100 metric histories took 15 s instead of 1.5 s)."""

    def __init__(self) -> None:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
        from matplotlib.ticker import MaxNLocator

        self.figure = Figure(figsize=(6.4, 2.2), dpi=100)
        FigureCanvasAgg(self.figure)
        self.figure.subplots_adjust(left=0.09, right=0.98, top=0.95, bottom=0.13)
        self.axes = self.figure.add_subplot()
        (self.line,) = self.axes.plot([], [], linewidth=1.1)
        self.axes.xaxis.set_major_locator(MaxNLocator(5, integer=True))
        self.axes.yaxis.set_major_locator(MaxNLocator(4))
        self.axes.grid(True, linewidth=0.3)
        self.axes.tick_params(labelsize=8)

    def chart(self, points: tuple[tuple[int, float], ...]) -> bytes:
        """One metric's history by step (steps on x), as PNG bytes."""
        self.line.set_data([s for s, _ in points], [v for _, v in points])
        self.line.set_marker("." if len(points) < 50 else "")
        self.axes.relim()
        self.axes.autoscale_view()
        out = io.BytesIO()
        self.figure.savefig(out, format="png", metadata={"Software": None},
                            pil_kwargs={"compress_level": 1})
        return out.getvalue()


class _Document(FPDF):
    def __init__(self, outline: Outline) -> None:
        super().__init__(format="A4")
        self.outline = outline
        for style, path in _fonts().items():
            self.add_font(FONT, style, str(path))
        self.set_creation_date(datetime.fromtimestamp(outline.updated / 1000, UTC))
        self.set_title(outline.title)
        self.set_creator("mlflow-compliance")
        self.set_lang("en")
        self.set_auto_page_break(True, margin=15)

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font(FONT, "", 8)
        self.cell(0, 5, f"{self.outline.name} version {self.outline.version} - page "
                  f"{self.page_no()}", align="C")

    def paragraph(self, words: str, style: str = "", size: float = 10) -> None:
        self.set_font(FONT, style, size)
        self.multi_cell(0, LINE, words, new_x="LMARGIN", new_y="NEXT")

    def entry(self, entry: Entry) -> None:
        self.set_font(FONT, "B", 9.5)
        self.write(LINE, f"{entry.label} ")
        self.set_font(FONT, "I", 8)
        self.write(LINE, f"({entry.cite}): ")
        self.set_font(FONT, "", 9.5)
        if entry.is_gap:
            self.set_text_color(160, 0, 0)
        self.write(LINE, entry_text(entry))
        self.set_text_color(0, 0, 0)
        self.ln(LINE + 1)

    def table_block(self, table: Table) -> None:
        self.ln(1)
        self.set_font(FONT, "B", 9.5)
        self.write(LINE, table.caption + " ")
        self.set_font(FONT, "I", 8)
        self.write(LINE, f"({table.cite})")
        self.ln(LINE + 1)
        if not table.rows:
            self.paragraph(table.empty, size=9)
            return
        self.set_font(FONT, "", 8)
        with self.table(text_align="LEFT", line_height=4,
                        headings_style=FontFace(emphasis="BOLD")) as pdf_table:
            for row in (table.header, *table.rows):
                cells = pdf_table.row()
                for value in row:
                    cells.cell(value)
        self.ln(2)


def annex_iv_pdf(outline: Outline) -> bytes:
    """The outline as PDF bytes, one chart per metric history."""
    pdf = _Document(outline)
    pdf.add_page()
    pdf.paragraph(outline.title, "B", 15)
    pdf.ln(2)
    pdf.paragraph(NOT_LEGAL_ADVICE, "I", 9)
    pdf.paragraph(f"Date: {when(outline.updated)} (the version's last update). "
                  f"{HOW_TO_EXTEND} Gaps: {len(outline.gaps)}.", size=9)
    if outline.record_problems:
        pdf.paragraph("The compliance record is not valid, so no field below is read from "
                      "it: " + "; ".join(outline.record_problems), "B", 9)
    for section in outline.sections:
        pdf.ln(3)
        title = f"{section.number}. {section.title}"
        pdf.start_section(title)
        pdf.paragraph(f"{title} ({section.cite})", "B", 12.5)
        pdf.ln(1)
        for block in section.blocks:
            if isinstance(block, Heading):
                pdf.ln(1)
                pdf.paragraph(block.title, "B", 10.5 if block.level == 3 else 9.5)
            elif isinstance(block, Entry):
                pdf.entry(block)
                if block.label == HISTORIES and outline.charts:
                    _charts(pdf, outline)
            else:
                pdf.table_block(block)
    if outline.missing:
        pdf.ln(3)
        pdf.paragraph("Not readable", "B", 12.5)
        for missing in outline.missing:
            pdf.paragraph(f"- {missing}", size=9)
    return bytes(pdf.output())


def _charts(pdf: _Document, outline: Outline) -> None:
    pdf.ln(1)
    pdf.paragraph("Test logs: metric histories (Annex IV 2(g))", "B", 10.5)
    charts = Charts()
    for metric, points in sorted(outline.charts.items()):
        if pdf.will_page_break(70):
            pdf.add_page()
        pdf.paragraph(f"{metric}, by step ({len(points)} values)", "B", 9)
        pdf.image(io.BytesIO(charts.chart(points)), w=pdf.epw * 0.85)
        pdf.ln(2)
