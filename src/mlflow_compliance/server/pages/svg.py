"""Pictures on the version page, drawn on the server as inline SVG: the lineage (datasets
-> run -> version) and the metrics against their declared thresholds.

The pages run no script (the CSP forbids it) and load no image from elsewhere, so a
picture is markup in the page. Every text in it comes from users (dataset, run and
model names, metric keys), so each is escaped here; colours are presentation
attributes, not ``style`` (the CSP allows styles from the stylesheet only). Each
picture is ``role="img"`` with a ``<title>`` and a ``<desc>``; the page repeats what it
shows as a list or a table for screen readers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from markupsafe import Markup, escape

INK, LINE, ACCENT, OK, BAD, SOFT = "#1a1a1a", "#767676", "#0b4f8a", "#1d6b2f", "#a3161b", \
    "#f3f5f7"
BOX_W, BOX_H, GAP_X, GAP_Y, PAD = 220, 52, 90, 16, 12
LONGEST = 30  # characters of a name inside a box; the list below the picture has it whole


@dataclass(frozen=True)
class Box:
    """One object of the lineage: what it is (dataset, run, model version) and its name."""

    kind: str
    name: str
    detail: str = ""  # e.g. a dataset's context (training) or a run's id


@dataclass(frozen=True)
class Bar:
    """One metric value against its threshold; ``value`` None: not logged."""

    label: str  # e.g. "test_accuracy" or "test_accuracy/women"
    value: float | None
    threshold: float
    op: str  # >=, <=, > or <
    met: bool


def _short(text: str) -> str:
    return text if len(text) <= LONGEST else text[: LONGEST - 1] + "…"


def _svg(width: int, height: int, key: str, title: str, desc: str, body: list[str]) -> Markup:
    head = (f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{width}" '
            f'height="{height}" viewBox="0 0 {width} {height}" '
            f'aria-labelledby="{key}-title {key}-desc">'
            f'<title id="{key}-title">{escape(title)}</title>'
            f'<desc id="{key}-desc">{escape(desc)}</desc>')
    return Markup(head + "".join(body) + "</svg>")


def _box(x: int, y: int, box: Box) -> str:
    lines = [f"{box.kind}: {_short(box.name)}"]
    if box.detail:
        lines.append(_short(box.detail))
    texts = "".join(
        f'<text x="{x + PAD}" y="{y + 20 + 18 * i}" fill="{INK}">{escape(line)}</text>'
        for i, line in enumerate(lines))
    return (f'<rect x="{x}" y="{y}" width="{BOX_W}" height="{BOX_H}" rx="6" fill="{SOFT}" '
            f'stroke="{ACCENT}" stroke-width="1.5"/>{texts}')


def _arrow(x1: int, y1: int, x2: int, y2: int) -> str:
    return (f'<line x1="{x1}" y1="{y1}" x2="{x2}" y2="{y2}" stroke="{LINE}" '
            'stroke-width="1.5" marker-end="url(#lineage-arrow)"/>')


def lineage(datasets: list[Box], run: Box | None, version: Box) -> Markup:
    """Datasets in a column on the left, each with an arrow to the run, the run's arrow
    to the version (no run: the datasets cannot be known, the version stands alone)."""
    rows = max(len(datasets), 1)
    height = rows * BOX_H + (rows - 1) * GAP_Y + 2 * PAD
    middle = height // 2 - BOX_H // 2
    columns = 1 + bool(datasets) + (run is not None)
    width = columns * BOX_W + (columns - 1) * GAP_X + 2 * PAD
    body = [f'<defs><marker id="lineage-arrow" viewBox="0 0 10 10" refX="10" refY="5" '
            f'markerWidth="8" markerHeight="8" orient="auto-start-reverse">'
            f'<path d="M 0 0 L 10 5 L 0 10 z" fill="{LINE}"/></marker></defs>']
    x = PAD
    if datasets:
        run_x = x + BOX_W + GAP_X
        for i, dataset in enumerate(datasets):
            y = PAD + i * (BOX_H + GAP_Y)
            body.append(_box(x, y, dataset))
            body.append(_arrow(x + BOX_W, y + BOX_H // 2, run_x, middle + BOX_H // 2))
        x = run_x
    if run is not None:
        body.append(_box(x, middle, run))
        body.append(_arrow(x + BOX_W, middle + BOX_H // 2, x + BOX_W + GAP_X,
                           middle + BOX_H // 2))
        x += BOX_W + GAP_X
    body.append(_box(x, middle, version))
    names = ", ".join(d.name for d in datasets) or "no dataset"
    desc = (f"{names} -> {'run ' + run.name if run else 'no source run'} -> "
            f"model version {version.name}")
    return _svg(width, height, "lineage", "Lineage of this model version", desc, body)


def _scale(bars: list[Bar]) -> tuple[float, float]:
    """The chart's range: from 0 (or the lowest value) to a little above the highest."""
    numbers = [b.threshold for b in bars] + [b.value for b in bars
                                             if b.value is not None and math.isfinite(b.value)]
    low, high = min([0.0, *numbers]), max([0.0, *numbers])
    if high == low:
        high = low + 1.0
    return low, high + (high - low) * 0.1


def metrics_chart(bars: list[Bar]) -> Markup:
    """One horizontal bar per value (green: met, red: not met), a dark mark at its
    threshold, the value written after the bar; a value not logged has no bar."""
    label_w, plot_w, row_h, top = 230, 420, 30, 10
    width, height = label_w + plot_w + 150, top + len(bars) * row_h + 10
    low, high = _scale(bars)

    def x_of(v: float) -> float:
        return label_w + (v - low) / (high - low) * plot_w

    body = []
    for i, bar in enumerate(bars):
        y = top + i * row_h
        body.append(f'<text x="{label_w - 8}" y="{y + 18}" text-anchor="end" '
                    f'fill="{INK}">{escape(_short(bar.label))}</text>')
        finite = bar.value is not None and math.isfinite(bar.value)
        if finite:
            assert bar.value is not None
            start, end = sorted((x_of(0.0 if low <= 0 else low), x_of(bar.value)))
            body.append(f'<rect x="{start:.1f}" y="{y + 5}" width="{max(end - start, 1):.1f}" '
                        f'height="{row_h - 12}" fill="{OK if bar.met else BAD}"/>')
        mark = x_of(bar.threshold)
        body.append(f'<line x1="{mark:.1f}" y1="{y + 1}" x2="{mark:.1f}" y2="{y + row_h - 3}" '
                    f'stroke="{INK}" stroke-width="3"/>')
        said = (f"{bar.value:g}" if finite and bar.value is not None
                else "not logged" if bar.value is None else str(bar.value))
        verdict = "met" if bar.met else "not met"
        body.append(f'<text x="{label_w + plot_w + 8}" y="{y + 18}" fill="{INK}">'
                    f'{escape(said)} ({verdict})</text>')
    desc = "; ".join(
        f"{b.label}: {'not logged' if b.value is None else format(b.value, 'g')}, threshold "
        f"{b.op} {b.threshold:g}, {'met' if b.met else 'not met'}" for b in bars)
    return _svg(width, height, "metrics", "Metrics against their declared thresholds",
                desc or "no metric thresholds declared", body)
