"""Write the raw files of the policy golden vectors (README.md beside this file) into a raw directory.

    python tests/conformance/policy/make_raw.py OUT_DIR

Deterministic: the same files (same rows, same order, same modification times) on every run. Every number below
is one of README.md's; the expected tables there were worked out by hand from these numbers and the written
policy, never by running the pipeline.
"""

from __future__ import annotations

import datetime as dt
import decimal
import os
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

MONTHS = ["2026-01", "2026-02", "2026-03", "2026-04"]

# account: (name, country, plan, currency, declared_contact_center, surcharge_agreed_on, own rate per minute)
ACCOUNTS = {
    "acc-kiwi": ("Kiwi Couriers", "NZ", "pro", "NZD", False, None, None),
    "acc-fern": ("Fern Florists", "NZ", "pro", "NZD", False, None, None),
    "acc-thistle": ("Thistle Lettings", "GB", "pro", "GBP", True, None, None),
    "acc-kowhai": ("Kowhai Cafe", "NZ", "lite", "NZD", False, None, None),
    "acc-harbour": ("Harbour Help Desk", "IE", "lite", "EUR", True, dt.date(2026, 1, 31), None),
    "acc-summit": ("Summit Bookings", "AU", "lite", "AUD", False, dt.date(2026, 2, 15), "0.0125"),
    "acc-prairie": ("Prairie Outreach", "US", "lite", "USD", False, None, None),
}
USERS = {  # user: account (every user created 2025-06-01, never deactivated: active in every month)
    "k1": "acc-kiwi", "k2": "acc-kiwi", "k3": "acc-kiwi", "k4": "acc-kiwi", "f1": "acc-fern",
    "t1": "acc-thistle", "t2": "acc-thistle", "t3": "acc-thistle", "l1": "acc-kowhai",
    "h1": "acc-harbour", "h2": "acc-harbour", "s1": "acc-summit", "p1": "acc-prairie", "p2": "acc-prairie",
}
# Messages (SMS sent) per user and month: the `messages` metric (README, "Flags").
MESSAGES = {
    #      Jan  Feb  Mar  Apr
    "k1": (60, 150, 71, 1),
    "k2": (100, 59, 69, 1),
    "k3": (4, 4, 0, 1),
    "k4": (4, 4, 0, 19),
    "f1": (72, 10, 60, 1),
    "t1": (10, 75, 90, 10),
    "t2": (10, 10, 10, 10),
    "t3": (10, 10, 10, 10),
    "l1": (200, 200, 200, 200),
}
# Calls per user and month: (direction, number of calls, talk seconds of each) (README, "Contact centers").
HARBOUR = {"h1": [("inbound", 10, 1800), ("internal", 1, 1200)], "h2": [("outbound", 5, 60)]}
CALLS = {
    "2026-01": {**HARBOUR, "s1": [("inbound", 50, 3600)], "p1": [("outbound", 100, 3600)]},
    "2026-02": {**HARBOUR, "s1": [("inbound", 50, 3600), ("outbound", 1, 60)], "p1": [("outbound", 100, 3600)]},
    "2026-03": {**HARBOUR, "s1": [("inbound", 49, 3600), ("inbound", 1, 3540)], "p1": [("outbound", 10, 3600)]},
    "2026-04": {**HARBOUR},
}
CHATS_PER_MONTH = {"k3": 2}  # a few team chats (far under any floor), so that every dataset has files


def _start(month: str) -> dt.datetime:
    return dt.datetime.strptime(month + "-02 08:00", "%Y-%m-%d %H:%M")


def _write(path: Path, table: pa.Table, mtime: dt.datetime) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path)
    t = mtime.replace(tzinfo=dt.UTC).timestamp()
    os.utime(path, (t, t))


def _reference(out: Path) -> None:
    a = [(k, *v) for k, v in ACCOUNTS.items()]
    accounts = pa.table({
        "account_id": [r[0] for r in a], "account_name": [r[1] for r in a], "country": [r[2] for r in a],
        "plan": [r[3] for r in a], "declared_contact_center": [r[5] for r in a],
        "surcharge_agreed_on": pa.array([r[6] for r in a], pa.date32()),
        "surcharge_rate_per_minute": pa.array([decimal.Decimal(r[7]) if r[7] else None for r in a],
                                              pa.decimal128(10, 4)),
        "currency": [r[4] for r in a],
    })
    users = pa.table({
        "user_id": list(USERS), "account_id": list(USERS.values()),
        "created_at": pa.array([dt.datetime(2025, 6, 1)] * len(USERS), pa.timestamp("us")),
        "deactivated_at": pa.array([None] * len(USERS), pa.timestamp("us")),
    })
    when = dt.datetime(2026, 1, 1, 2, 0)
    _write(out / "accounts/snapshot_date=2025-12-31/accounts-full.parquet", accounts, when)
    _write(out / "users/snapshot_date=2025-12-31/users-full.parquet", users, when)


def _messages(out: Path, i: int, month: str) -> None:
    rows = []
    for user, counts in MESSAGES.items():
        for n in range(counts[i]):
            sent = _start(month) + dt.timedelta(minutes=n)
            # to a dozen regular contacts: ordinary messaging, not message blasting (numbers new to the account)
            rows.append((f"m-{month}-{user}-{n:03d}", USERS[user], user, sent, f"+6421{n % 12:06d}"))
    table = pa.table({
        "message_id": [r[0] for r in rows], "account_id": [r[1] for r in rows], "user_id": [r[2] for r in rows],
        "channel": ["sms"] * len(rows), "direction": ["sent"] * len(rows),
        "sent_at": pa.array([r[3] for r in rows], pa.timestamp("us")),
        "counterparty_number": [r[4] for r in rows], "segments": pa.array([1] * len(rows), pa.int32()),
    })
    _write(out / f"messages/month={month}/messages.parquet", table, _start(month) + dt.timedelta(days=31))


def _calls(out: Path, month: str) -> None:
    """Every call answered 5 s after it starts and ended after its talk seconds; one user's calls one after the
    other, 10 minutes apart (never two at once)."""
    rows = []
    for user, kinds in CALLS[month].items():
        t = _start(month)
        for direction, count, talk in kinds:
            for _ in range(count):
                answered = t + dt.timedelta(seconds=5)
                ended = answered + dt.timedelta(seconds=talk)
                other = f"+1555{len(rows):07d}"
                own = "1001" if direction == "internal" else f"+64900{user}"
                callee = "1002" if direction == "internal" else other
                frm, to = (other, own) if direction == "inbound" else (own, callee)
                rows.append((f"c-{month}-{user}-{len(rows):04d}", USERS[user], user, direction, t, answered, ended,
                             frm, to, "answered", None, "desk_phone" if direction != "inbound" else None))
                t = ended + dt.timedelta(minutes=10)
    cols = ["call_id", "account_id", "user_id", "direction", "started_at", "answered_at", "ended_at", "from_number",
            "to_number", "disposition", "forwarded_to", "initiated_via"]
    data = {c: [r[i] for r in rows] for i, c in enumerate(cols)}
    for c in ("started_at", "answered_at", "ended_at"):
        data[c] = pa.array(data[c], pa.timestamp("us"))
    data["forwarded_to"] = pa.array(data["forwarded_to"], pa.string())
    _write(out / f"calls/month={month}/calls.parquet", pa.table(data), _start(month) + dt.timedelta(days=31))


def _chats(out: Path, month: str) -> None:
    rows = [(f"chat-{month}-{u}-{n}", USERS[u], u, "conv-1", _start(month) + dt.timedelta(hours=1, minutes=n))
            for u, count in CHATS_PER_MONTH.items() for n in range(count)]
    table = pa.table({
        "chat_message_id": [r[0] for r in rows], "account_id": [r[1] for r in rows], "user_id": [r[2] for r in rows],
        "conversation_id": [r[3] for r in rows], "sent_at": pa.array([r[4] for r in rows], pa.timestamp("us")),
    })
    _write(out / f"chats/month={month}/chats.parquet", table, _start(month) + dt.timedelta(days=31))


def make_raw(out: Path) -> Path:
    _reference(out)
    for i, month in enumerate(MONTHS):
        _messages(out, i, month)
        _calls(out, month)
        _chats(out, month)
    return out


if __name__ == "__main__":
    make_raw(Path(sys.argv[1]))
