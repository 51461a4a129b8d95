"""The processing register as a table: the columns of the CNIL's published template of
the Art. 30 record, one row per processing activity; CSV, ODS and JSON.

The CNIL (the French supervisory authority) publishes a model "Registre des activités
de traitement" whose record sheet ("fiche de registre") has these sections; the headings
here are their English translation, each with the French original and the Art. 30(1)
item it holds. A cell holds what the runs declare, then each gap ("GAP: not declared by
any run: ...") and each conflict ("CONFLICT: runs disagree on ...") of its items:
never a value the runs did not give. The columns after the template's are this tool's.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from dataclasses import dataclass

from mlflow_compliance.reports.processing_register import (
    CONTROLLER,
    DATA,
    DPO,
    LAWFUL_BASIS,
    NOT_HELD,
    PURPOSE,
    RECIPIENTS,
    RETENTION,
    RETENTION_PERIOD,
    RETENTION_UNTIL,
    SAFEGUARD,
    SPECIAL,
    SPECIAL_GROUND,
    SUBJECTS,
    TRANSFERS,
    Activity,
    Register,
)

SHEET = "Record of processing activities"


@dataclass(frozen=True)
class Column:
    heading: str  # the CNIL template's heading in English
    french: str  # the template's own heading
    article: str  # the Art. 30(1) item (or other article) it holds; "" for this tool's
    tags: tuple[str, ...]  # the record tags whose gaps and conflicts show in it
    value: Callable[[Activity, Register], str]


def _joined(items: tuple[str, ...] | list[str]) -> str:
    return "; ".join(items)


def _purposes(a: Activity, r: Register) -> str:
    parts = [a.purpose] if a.purpose else []
    if a.lawful_bases:
        parts.append("lawful basis: " + ", ".join(a.lawful_basis_articles()))
    return "; ".join(parts)


def _special(a: Activity, r: Register) -> str:
    if not a.special_categories:
        return "none declared"
    text = "Art. 9(1): " + ", ".join(a.special_categories)
    if a.special_category_grounds:
        text += "; Art. 9(2) ground: " + ", ".join(a.special_category_grounds)
    return text


def _transfers(a: Activity, r: Register) -> str:
    if a.transfers_outside_eu is None:
        return ""
    if not a.transfers_outside_eu:
        return "no transfer outside the EU declared"
    text = "yes"
    if a.transfer_safeguards:
        text += "; safeguards: " + ", ".join(a.transfer_safeguards)
    return text


def _retention(a: Activity, r: Register) -> str:
    parts = []
    if a.retention.period:
        parts.append(f"longest period: {a.retention.period}")
    if a.retention.until:
        parts.append(f"latest date: {a.retention.until.isoformat()}")
    return "; ".join(parts)


def _security(a: Activity, r: Register) -> str:
    lines = r.security.statements()
    lines += [f"GAP: {g}" for g in r.security.gaps()]
    return "; ".join(lines)


NOT_IN_RECORD = "not held in the compliance record"

COLUMNS: tuple[Column, ...] = (
    Column("Reference", "N° / REF", "", (), lambda a, r: a.reference),
    Column("Name of the processing activity", "Nom / sigle", "Art. 30(1)(b)", (PURPOSE,),
           lambda a, r: a.purpose or ""),
    Column("Controller", "Responsable du traitement", "Art. 30(1)(a)", (CONTROLLER,),
           lambda a, r: _joined(a.controller_contacts)),
    Column("Data protection officer", "Délégué à la protection des données",
           "Art. 30(1)(a)", (DPO,), lambda a, r: _joined(a.dpo_contacts)),
    Column("Representative", "Représentant", "Art. 30(1)(a)", (),
           lambda a, r: NOT_IN_RECORD),
    Column("Joint controllers", "Responsable(s) conjoint(s)", "Art. 30(1)(a)", (),
           lambda a, r: NOT_IN_RECORD),
    Column("Purpose(s) of the processing", "Finalité(s) du traitement effectué",
           "Art. 30(1)(b)", (LAWFUL_BASIS,), _purposes),
    Column("Security measures", "Mesures de sécurité", "Art. 30(1)(g)", (), _security),
    Column("Categories of personal data concerned",
           "Catégories de données personnelles concernées", "Art. 30(1)(c)", (DATA,),
           lambda a, r: _joined(a.data_categories)),
    Column("Sensitive data", "Données sensibles", "Art. 9(1)", (SPECIAL, SPECIAL_GROUND),
           _special),
    Column("Categories of data subjects", "Catégories de personnes concernées",
           "Art. 30(1)(c)", (SUBJECTS,), lambda a, r: _joined(a.data_subject_categories)),
    Column("Recipients", "Destinataires", "Art. 30(1)(d)", (RECIPIENTS,),
           lambda a, r: _joined(a.recipients)),
    Column("Transfers outside the EU", "Transferts des données hors UE", "Art. 30(1)(e)",
           (TRANSFERS, SAFEGUARD), _transfers),
    Column("Retention periods", "Durées de conservation", "Art. 30(1)(f)",
           (RETENTION, RETENTION_PERIOD, RETENTION_UNTIL), _retention),
)
"""The CNIL template's columns, in its order."""

TOOL_COLUMNS: tuple[Column, ...] = (
    Column("Experiments", "", "", (), lambda a, r: _joined(
        [f"{e.name} ({e.id}): {e.runs} run{'s' if e.runs != 1 else ''}"
         for e in a.experiments])),
    Column("Runs", "", "", (), lambda a, r: str(a.runs)),
    Column("Gaps", "", "", (), lambda a, r: _joined([str(g) for g in a.gaps])),
    Column("Conflicts", "", "", (), lambda a, r: _joined([str(c) for c in a.conflicts])),
)
"""This tool's columns after the template's: where each activity comes from."""

HEADER = tuple(c.heading for c in (*COLUMNS, *TOOL_COLUMNS))


def cell(column: Column, activity: Activity, register: Register) -> str:
    """A column's value for one activity, then the gaps and conflicts of its items."""
    parts = [column.value(activity, register)]
    parts += [f"GAP: {g}" for g in activity.gaps if g.tag in column.tags]
    parts += [f"CONFLICT: {c}" for c in activity.conflicts if c.tag in column.tags]
    return "; ".join(p for p in parts if p)


def rows(register: Register) -> list[list[str]]:
    """The header row, then one row per activity (in the register's order, by purpose)."""
    table = [list(HEADER)]
    for activity in register.activities:
        table.append([cell(c, activity, register) for c in COLUMNS]
                     + [c.value(activity, register) for c in TOOL_COLUMNS])
    return table


def to_json(register: Register) -> str:
    return json.dumps(register.as_dict(), indent=2, ensure_ascii=False) + "\n"


def to_csv(register: Register) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")  # RFC 4180
    writer.writerows(rows(register))
    return out.getvalue()


def to_ods(register: Register) -> bytes:
    """An OpenDocument spreadsheet: the register's sheet, then a sheet of the Art. 30(1)
    items the compliance record does not hold."""
    from odf.opendocument import OpenDocumentSpreadsheet
    from odf.table import Table, TableCell, TableRow
    from odf.text import P

    document = OpenDocumentSpreadsheet()

    def sheet(name: str, table_rows: list[list[str]]) -> None:
        table = Table(name=name)
        for values in table_rows:
            row = TableRow()
            for value in values:
                cell = TableCell(valuetype="string")
                cell.addElement(P(text=value))
                row.addElement(cell)
            table.addElement(row)
        document.spreadsheet.addElement(table)

    sheet(SHEET, rows(register))
    sheet("Not held in the record", [["Art. 30(1) item"], *([item] for item in NOT_HELD)])
    out = io.BytesIO()
    document.write(out)
    return out.getvalue()
