"""Formatting and month arithmetic for the report and the notices: one spelling per value, no locale, no clock."""

from __future__ import annotations

import datetime as dt
import decimal
from dataclasses import dataclass

CENT = decimal.Decimal("0.01")

METRIC_LABELS = {
    "calls": "Calls (all directions)",
    "call_minutes": "Call minutes (billable)",
    "team_chats": "Team chats sent",
    "messages": "Messages (SMS, MMS, WhatsApp, sent and received)",
}
METRIC_UNITS = {"calls": "calls", "call_minutes": "minutes", "team_chats": "chats", "messages": "messages"}
OFFERING_LABELS = {"calling": "calling", "chat": "team chat", "messaging": "messaging (SMS, MMS, WhatsApp)"}
ACTION_LABELS = {
    "ask_to_moderate": "Ask to moderate",
    "require_excess_payment": "Require payment of excess use",
    "limit_access": "Limit access",
}
ACTION_STEPS = {"ask_to_moderate": 1, "require_excess_payment": 2, "limit_access": 3}
PATTERN_LABELS = {
    "auto_dialing": "Auto-dialing or predictive dialing",
    "outbound_telemarketing": "High-volume outbound telemarketing",
    "forwarding_to_multi_line": "Forwarding to a multi-line system (PBX, key system)",
    "voicemail_blasting": "Voicemail blasting",
    "bulk_call_in_line": "Bulk call-in line",
    "message_blasting": "Message blasting (bulk SMS, MMS or WhatsApp)",
}
REASON_LABELS = {
    "invalid_value": "invalid value",
    "missing_required": "missing required value",
    "invalid_interval": "invalid time interval",
    "wrong_month": "wrong month",
    "unknown_user": "unknown user",
    "account_mismatch": "account mismatch",
}


def month_start(month: str) -> dt.date:
    return dt.date.fromisoformat(f"{month}-01")


def add_months(month: str, n: int) -> str:
    y, m = map(int, month.split("-"))
    idx = y * 12 + (m - 1) + n
    return f"{idx // 12:04d}-{idx % 12 + 1:02d}"


def month_label(month: str) -> str:
    """'2026-10' -> 'October 2026' (English month names, independent of the machine's locale)."""
    names = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
             "November", "December")
    y, m = month.split("-")
    return f"{names[int(m) - 1]} {y}"


def fmt_int(value) -> str:
    if value is None:
        return "–"
    return f"{int(value):,}"


def fmt_num(value, decimals: int = 2) -> str:
    """Whole numbers without decimals, others with `decimals` places; thousands separated by commas."""
    if value is None:
        return "–"
    d = decimal.Decimal(str(value))
    if d == d.to_integral_value():
        return f"{int(d):,}"
    q = d.quantize(decimal.Decimal(1).scaleb(-decimals), rounding=decimal.ROUND_HALF_UP)
    if q == q.to_integral_value():
        return f"{int(q):,}"
    return f"{q.normalize():,}"  # 290.50 -> 290.5


def fmt_ratio(value) -> str:
    if value is None:
        return "–"
    return f"{decimal.Decimal(str(value)).quantize(decimal.Decimal('0.1'), decimal.ROUND_HALF_UP)}×"


def fmt_pct(value) -> str:
    """A share 0..1 as a percentage."""
    if value is None:
        return "–"
    return f"{(decimal.Decimal(str(value)) * 100).quantize(decimal.Decimal(1), decimal.ROUND_HALF_UP)}%"


def to_decimal(value) -> decimal.Decimal:
    if value is None:
        return decimal.Decimal("0")
    if isinstance(value, decimal.Decimal):
        return value
    return decimal.Decimal(str(value))


def fmt_money(amount, currency: str | None) -> str:
    """'NZD 1,234.50' (cents always shown)."""
    a = to_decimal(amount).quantize(CENT, rounding=decimal.ROUND_HALF_UP)
    return f"{currency or ''} {a:,}".strip()


def fmt_rate(rate, currency: str | None) -> str:
    """A unit rate, without trailing zeros beyond the cents: 0.0500 -> 'NZD 0.05', 0.0125 -> 'NZD 0.0125'."""
    r = to_decimal(rate)
    r = r.quantize(CENT) if r == r.quantize(CENT) else r.normalize()
    return f"{currency or ''} {r}".strip()


def fmt_amount(amount, currency: str | None) -> str:
    """An unrounded amount (a line of a computation): to 4 decimals, shown to the cent when that is exact."""
    a = to_decimal(amount).quantize(decimal.Decimal("0.0001"), rounding=decimal.ROUND_HALF_UP)
    a = a.quantize(CENT) if a == a.quantize(CENT) else a
    return f"{currency or ''} {a:,}".strip()


def fmt_timestamp(value: dt.datetime | None) -> str:
    """UTC timestamp to the second: '2026-10-31 23:59:08 UTC'."""
    if value is None:
        return "no events counted"
    return value.replace(microsecond=0, tzinfo=None).isoformat(sep=" ") + " UTC"


def round_cents(value: decimal.Decimal) -> decimal.Decimal:
    """Half away from zero, as the marts round money."""
    return value.quantize(CENT, rounding=decimal.ROUND_HALF_UP)


@dataclass(frozen=True)
class Change:
    """A value of this month next to the previous month's, with the difference spelled for a person."""

    current: object
    previous: object  # None when the previous month was not built
    money: bool = False
    currency: str | None = None

    @property
    def delta(self):
        if self.previous is None:
            return None
        if self.money:
            return to_decimal(self.current) - to_decimal(self.previous)
        return (self.current or 0) - (self.previous or 0)

    def text(self) -> str:
        """'+12 (+3.4%)', '−5 (−50.0%)', 'no change', 'new' (previous 0), '–' (no previous month)."""
        d = self.delta
        if d is None:
            return "–"
        if d == 0:
            return "no change"
        sign = "+" if d > 0 else "−"
        mag = fmt_money(abs(d), self.currency) if self.money else fmt_num(abs(d))
        prev = to_decimal(self.previous)
        if prev == 0:
            return f"{sign}{mag} (new)"
        pct = (abs(to_decimal(d)) / abs(prev) * 100).quantize(decimal.Decimal("0.1"), decimal.ROUND_HALF_UP)
        return f"{sign}{mag} ({sign}{pct}%)"

    def direction(self) -> str:
        """'up', 'down', 'same' or 'none' (for styling)."""
        d = self.delta
        if d is None:
            return "none"
        return "up" if d > 0 else "down" if d < 0 else "same"
