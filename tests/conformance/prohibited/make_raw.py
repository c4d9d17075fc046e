"""Write the raw files of the prohibited-use golden vectors (README.md beside this file) into a raw directory.

    python tests/conformance/prohibited/make_raw.py OUT_DIR

One month (2026-05), hand-built call and message records: for each pattern one user who shows it and near misses
that miss one condition each. Deterministic: the same rows on every run. The expected flags (expected/) were worked
out from the rules (docs/CONTRACT.md §3.4, policy/fair_use_policy.yaml `prohibited_use`), never by running the
pipeline.
"""

from __future__ import annotations

import datetime as dt
import os
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

MONTH = "2026-05"
DAY = dt.datetime(2026, 5, 4, 8, 0)  # every user's first call (each user has an account of its own)
SILENT_USERS = 20  # make calls of no kind: every cohort median is 0, so each volume threshold is its floor

_calls: list[tuple] = []
_messages: list[tuple] = []
SHARED_ACCOUNTS = {"mb_team_a": "acc-mb_team", "mb_team_b": "acc-mb_team"}  # every other user: acc-<user>


def _call(user, direction, start, answered_after, talk, disposition, to_number=None, via=None, forwarded_to=None):
    """One call; answered `answered_after` s after it starts (None: never answered), ended `talk` s later
    (unanswered calls ring 25 s)."""
    answered = start + dt.timedelta(seconds=answered_after) if answered_after is not None else None
    ended = (answered + dt.timedelta(seconds=talk)) if answered else start + dt.timedelta(seconds=25)
    own = f"+6490{user}"
    other = to_number or f"+6421{len(_calls):07d}"  # a number of its own unless given
    frm, to = (other, own) if direction == "inbound" else (own, other)
    _calls.append((f"c-{user}-{len(_calls):05d}", f"acc-{user}", user, direction, start, answered, ended, frm, to,
                   disposition, forwarded_to, via))


def _every(start, seconds, n):
    return [start + dt.timedelta(seconds=seconds * i) for i in range(n)]


def auto_dialing():
    # ad_api: 300 outbound calls through the API, one every 30 s (120 within an hour), each answered with 20 s of
    # talk, to 10 numbers in turn (only 10 new numbers: not telemarketing) -> flagged: 300 >= 300, API share 1.0
    # >= 0.5 with 120 >= 60 calls in an hour (the gaps are machine-regular as well).
    for i, t in enumerate(_every(DAY, 30, 300)):
        _call("ad_api", "outbound", t, 5, 20, "answered", to_number=f"+6422000{i % 10}", via="api")
    # ad_299: the same at 299 calls -> below the floor of 300.
    for i, t in enumerate(_every(DAY, 30, 299)):
        _call("ad_299", "outbound", t, 5, 20, "answered", to_number=f"+6423000{i % 10}", via="api")
    # ad_desk: 400 calls from a desk phone, the gaps between them cycling 4, 6, 8, 10, 12 minutes (a person working
    # through the day), never two at once, at most 15 an hour -> the volume without any machine trait: not flagged.
    # Regularity: of the 399 gaps (80 each of 240, 360, 480, 600 s, 79 of 720 s; median 480 s) only those within
    # max(1 s, 10 % = 48 s) of the median are regular: 80 of 399 = 0.2 < 0.5 (end to start alike, 25 s shorter).
    times = [DAY]
    for i in range(399):
        times.append(times[-1] + dt.timedelta(seconds=(240, 360, 480, 600, 720)[i % 5]))
    for i, t in enumerate(times):
        _call("ad_desk", "outbound", t, 5, 20, "answered", to_number=f"+6424000{i % 10}", via="desk_phone")


def outbound_telemarketing():
    # tm_cold: 200 calls, each to a number the account never called before, one every 10 min (no sessions); 1 in 4
    # answered (50 of 200 = 0.25 <= 0.4) -> flagged: 200 new-number calls >= 200, share 1.0 >= 0.7.
    # tm_answered: the same, 82 of 200 answered (0.41 > 0.4) -> not flagged.
    # tm_199: 199 calls, 49 answered (0.246) -> below the floor of 200.
    for user, n, answered in (("tm_cold", 200, 50), ("tm_answered", 200, 82), ("tm_199", 199, 49)):
        for i, t in enumerate(_every(DAY, 600, n)):
            if i < answered:
                _call(user, "outbound", t, 5, 30, "answered", via="app")
            else:
                _call(user, "outbound", t, None, 0, "no_answer", via="app")


def voicemail_blasting():
    # vm_burst: 20 voicemails dropped 30 s apart (the 20th 570 s after the 1st: 20 within 600 s), then 30 more,
    # 10 min apart -> flagged: 50 drops >= 50, 20 in a window >= 20.
    # vm_slow: the 20 dropped 32 s apart (the 20th 608 s after the 1st: at most 19 within 600 s) + 30 -> not.
    # vm_49: the burst of 20 at 30 s + 29 more = 49 drops -> below the floor of 50.
    for user, gap, rest in (("vm_burst", 30, 30), ("vm_slow", 32, 30), ("vm_49", 30, 29)):
        burst = _every(DAY, gap, 20)
        spread = _every(burst[-1] + dt.timedelta(minutes=20), 600, rest)
        for t in burst + spread:
            _call(user, "outbound", t, 5, 15, "voicemail", via="api")


def _groups_and_singles(user, groups, singles, forwarded_to=None, numbers_per_group=1):
    """`groups` times three calls in talk at once (answered 10 s apart, 300 s each: the third is answered while 2
    others are in talk), an hour apart; then `singles` calls one after the other (300 s each, 10 min apart)."""
    for g in range(groups):
        for k, t in enumerate(_every(DAY + dt.timedelta(hours=g), 10, 3)):
            fwd = forwarded_to and (forwarded_to if numbers_per_group == 1 else f"{forwarded_to}{k}")
            _call(user, "inbound", t, 0, 300, "answered", forwarded_to=fwd)
    for t in _every(DAY + dt.timedelta(hours=groups + 1), 600, singles):
        _call(user, "inbound", t, 0, 300, "answered", forwarded_to=forwarded_to)


def bulk_call_in_line():
    # bl_line: 10 groups of 3 at once + 170 singles = 200 direct inbound calls, 10 answered while 2 others were in
    # talk, up to 3 at once -> flagged (3 >= 3, 10 >= 10, 200 >= 200).
    _groups_and_singles("bl_line", 10, 170)
    _groups_and_singles("bl_9", 9, 173)  # 200 calls, only 9 answered while 2 others were in talk -> not
    _groups_and_singles("bl_199", 10, 169)  # 199 calls -> below the floor of 200


def forwarding_to_multi_line():
    # fw_pbx: 5 groups of 3 at once + 5 singles = 20 calls forwarded to one outside number -> flagged (3 at once
    # >= 3, 5 answered while 2 others to the number were in talk >= 5, 20 forwarded >= 20).
    _groups_and_singles("fw_pbx", 5, 5, forwarded_to="+6499990000")
    _groups_and_singles("fw_4", 4, 8, forwarded_to="+6499991000")  # 20 calls, 4 at 3-at-once -> not
    _groups_and_singles("fw_19", 5, 4, forwarded_to="+6499992000")  # 19 calls -> below the floor of 20
    # fw_3_numbers: fw_pbx's calls, but each group's 3 calls go to 3 different numbers: 1 at once per number -> not
    _groups_and_singles("fw_3_numbers", 5, 5, forwarded_to="+6499993000", numbers_per_group=3)


MESSAGE_USERS = ["mb_blast", "mb_199", "mb_share", "mb_replies", "mb_shop", "mb_team"]


def _number(user, kind, i):
    """The i-th number a message user is in touch with: kind 7 a contact who wrote first, 8 a number on a list."""
    return f"+642{kind}{MESSAGE_USERS.index(user):02d}{i:05d}"


def _message(user, direction, at, number, channel="sms"):
    """One message the user sent to `number`, or received from it."""
    _messages.append((f"m-{user}-{len(_messages):05d}", SHARED_ACCOUNTS.get(user, f"acc-{user}"), user, channel,
                      direction, at, number))


def _list_and_contacts(user, new, contacts, replied):
    """`contacts` WhatsApp conversations on 4 May with numbers that wrote first (known to the account: not new), one
    every 10 min, the user answering 2 min later; then a list of `new` numbers never in touch before, one message
    each, one a second (SMS, every 10th an MMS), in runs of 100 a day apart from 5 May 10:00 (up to 60 sent within
    60 s); from 8 May, the first `replied` of the list write back, one every 5 min."""
    for k, t in enumerate(_every(DAY, 600, contacts)):
        number = _number(user, 7, k)
        _message(user, "received", t, number, "whatsapp")
        _message(user, "sent", t + dt.timedelta(seconds=120), number, "whatsapp")
    listed = [_number(user, 8, i) for i in range(new)]
    for i, number in enumerate(listed):
        at = dt.datetime(2026, 5, 5 + i // 100, 10, 0) + dt.timedelta(seconds=i % 100)
        _message(user, "sent", at, number, "mms" if i % 10 == 0 else "sms")
    for t, number in zip(_every(dt.datetime(2026, 5, 8, 9, 0), 300, replied), listed, strict=False):
        _message(user, "received", t, number)


def message_blasting():
    # mb_blast: a list of 200 numbers new to the account (none messaged by it or heard from earlier in the month),
    # beside 85 contacts who wrote first; 40 of the 200 write back -> flagged, on every edge at once: 200 new >= 200,
    # share 200/285 = 0.7018 >= 0.7, replies 40/200 = 0.2 <= 0.2.
    _list_and_contacts("mb_blast", 200, 85, 40)
    _list_and_contacts("mb_199", 199, 85, 39)  # 199 new < floor 200 (share 199/284 = 0.7007, replies 0.196)
    _list_and_contacts("mb_share", 200, 86, 40)  # share 200/286 = 0.6993 < 0.7
    _list_and_contacts("mb_replies", 200, 85, 41)  # replies 41/200 = 0.205 > 0.2
    # mb_shop: a shop texting its customers by hand, more of everything than mb_blast but a conversation: 100
    # customers write first and get an answer 5 min later (known: not new); 300 are told their order is ready (new
    # to the account), one every 20 min from 5 May 08:00; 240 of those (4 in 5) answer 10 min later and get an
    # answer 5 min after that. 300 new >= 200, share 300/400 = 0.75 >= 0.7, but replies 240/300 = 0.8 > 0.2 -> not.
    for k, t in enumerate(_every(DAY, 600, 100)):
        _message("mb_shop", "received", t, _number("mb_shop", 7, k))
        _message("mb_shop", "sent", t + dt.timedelta(minutes=5), _number("mb_shop", 7, k))
    for i, t in enumerate(_every(dt.datetime(2026, 5, 5, 8, 0), 1200, 300)):
        _message("mb_shop", "sent", t, _number("mb_shop", 8, i))
        if i % 5 != 4:
            _message("mb_shop", "received", t + dt.timedelta(minutes=10), _number("mb_shop", 8, i))
            _message("mb_shop", "sent", t + dt.timedelta(minutes=15), _number("mb_shop", 8, i))
    # mb_team_a and mb_team_b share one account: "new" is new to the account, not to the user. mb_team_a messages
    # 120 numbers on 4 May (one a minute, no reply: 120 new < 200); mb_team_b messages the same 120 and 100 more on
    # 11 May (no reply): 100 new to the account < 200, share 100/220 = 0.45 < 0.7 -> neither is flagged (counted per
    # user, mb_team_b's 220 numbers, none heard from, would be).
    team = [_number("mb_team", 8, i) for i in range(220)]
    for t, number in zip(_every(DAY, 60, 120), team[:120], strict=True):
        _message("mb_team_a", "sent", t, number)
    for t, number in zip(_every(dt.datetime(2026, 5, 11, 8, 0), 60, 220), team, strict=True):
        _message("mb_team_b", "sent", t, number)


PATTERN_USERS = ["ad_api", "ad_299", "ad_desk", "tm_cold", "tm_answered", "tm_199", "vm_burst", "vm_slow", "vm_49",
                 "bl_line", "bl_9", "bl_199", "fw_pbx", "fw_4", "fw_19", "fw_3_numbers", "mb_blast", "mb_199",
                 "mb_share", "mb_replies", "mb_shop", "mb_team_a", "mb_team_b"]


def _write(path: Path, table: pa.Table, mtime: dt.datetime) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path)
    t = mtime.replace(tzinfo=dt.UTC).timestamp()
    os.utime(path, (t, t))


def make_raw(out: Path) -> Path:
    _calls.clear()
    _messages.clear()
    for build in (auto_dialing, outbound_telemarketing, voicemail_blasting, bulk_call_in_line,
                  forwarding_to_multi_line, message_blasting):
        build()
    users = PATTERN_USERS + [f"quiet_{i:02d}" for i in range(SILENT_USERS)]
    user_accounts = [SHARED_ACCOUNTS.get(u, f"acc-{u}") for u in users]
    accounts = list(dict.fromkeys(user_accounts))
    n = len(accounts)
    _write(out / "accounts/snapshot_date=2026-04-30/accounts-full.parquet", pa.table({
        "account_id": accounts, "account_name": accounts, "country": ["NZ"] * n, "plan": ["pro"] * n,
        "declared_contact_center": [False] * n, "surcharge_agreed_on": pa.array([None] * n, pa.date32()),
        "surcharge_rate_per_minute": pa.array([None] * n, pa.decimal128(10, 4)), "currency": ["NZD"] * n,
    }), dt.datetime(2026, 5, 1))
    _write(out / "users/snapshot_date=2026-04-30/users-full.parquet", pa.table({
        "user_id": users, "account_id": user_accounts,
        "created_at": pa.array([dt.datetime(2025, 6, 1)] * len(users), pa.timestamp("us")),
        "deactivated_at": pa.array([None] * len(users), pa.timestamp("us")),
    }), dt.datetime(2026, 5, 1))
    cols = ["call_id", "account_id", "user_id", "direction", "started_at", "answered_at", "ended_at", "from_number",
            "to_number", "disposition", "forwarded_to", "initiated_via"]
    data = {c: [r[i] for r in _calls] for i, c in enumerate(cols)}
    for c in ("started_at", "answered_at", "ended_at"):
        data[c] = pa.array(data[c], pa.timestamp("us"))
    for c in ("forwarded_to", "initiated_via"):
        data[c] = pa.array(data[c], pa.string())
    _write(out / f"calls/month={MONTH}/calls.parquet", pa.table(data), dt.datetime(2026, 6, 1, 3))
    cols = ["message_id", "account_id", "user_id", "channel", "direction", "sent_at", "counterparty_number"]
    data = {c: [r[i] for r in _messages] for i, c in enumerate(cols)}
    data["sent_at"] = pa.array(data["sent_at"], pa.timestamp("us"))
    data["segments"] = pa.array([1] * len(_messages), pa.int32())
    _write(out / f"messages/month={MONTH}/messages.parquet", pa.table(data), dt.datetime(2026, 6, 1, 3))
    return out


if __name__ == "__main__":
    make_raw(Path(sys.argv[1]))
