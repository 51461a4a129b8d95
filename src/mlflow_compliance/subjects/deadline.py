"""The time limit of a data subject's request, GDPR Art. 12(3).

The controller answers "without undue delay and in any event within one month of
receipt of the request"; the period "may be extended by two further months where
necessary, taking into account the complexity and number of the requests", and the
subject is told of the extension, with the reasons, within the first month. A month
is counted as the same day of the next month, or that month's last day when it has no
such day (31 January -> 28 or 29 February; Regulation 1182/71 Art. 3(2)(c)).
"""

from __future__ import annotations

import calendar
from datetime import date

BASE_MONTHS = 1
"""Art. 12(3) first sentence: one month from receipt."""
MAX_EXTENSION_MONTHS = 2
"""Art. 12(3) second sentence: at most two further months."""


class ExtensionRefused(ValueError):
    """An extension Art. 12(3) does not allow; the message names the field."""


def add_months(day: date, months: int) -> date:
    """The same day ``months`` later, clamped to the last day of that month."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def deadline(received_on: date, extended_months: int = 0) -> date:
    """The day the answer is due: one month after receipt, plus any extension."""
    if not 0 <= extended_months <= MAX_EXTENSION_MONTHS:
        raise ExtensionRefused(f"extend_months: at most {MAX_EXTENSION_MONTHS} further "
                               "months in all (GDPR Art. 12(3))")
    return add_months(received_on, BASE_MONTHS + extended_months)


def extension(already: int, more: int, reason: str | None) -> int:
    """The months of extension in all after extending by ``more``: only with a
    reason (the subject must be told why, Art. 12(3)) and two months at most."""
    if more < 1:
        raise ExtensionRefused("extend_months: a whole number of months, 1 or 2")
    if not reason or not reason.strip():
        raise ExtensionRefused("reason: an extension needs the reason the subject is "
                               "told (GDPR Art. 12(3))")
    total = already + more
    if total > MAX_EXTENSION_MONTHS:
        raise ExtensionRefused(f"extend_months: {total} months in all; at most "
                               f"{MAX_EXTENSION_MONTHS} (GDPR Art. 12(3))")
    return total


def days_left(due: date, today: date) -> int:
    """Days until ``due``; negative once it is past (overdue)."""
    return (due - today).days
