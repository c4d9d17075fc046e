"""`fairuse generate`: realistic, deterministic sample raw data in the CONTRACT §1 layout, with ground truth.

Deterministic per seed: one numpy Generator drives everything, and file modification times are set from the
data's months, never from the clock. The ground truth is written beside the raw tree (`<out>.truth.json`).
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from dagster_project.domain.evaluate import truth_path
from dagster_project.tools.generate import traffic as tf
from dagster_project.tools.generate.negatives import NEGATIVES
from dagster_project.tools.generate.patterns import VARIANTS, Context
from dagster_project.tools.generate.population import DIAL_CODE, Population, build_population

BATCH_USERS = 25_000  # ordinary traffic is generated and written in batches of users (bounded memory)


def _ts(us: np.ndarray) -> pa.Array:
    us = np.asarray(us, dtype=np.int64)
    return pa.array(us.view("datetime64[us]"), mask=us < 0, type=pa.timestamp("us"))


def _ids(prefix: str, n: int, offset: int = 0) -> pa.Array:
    nums = pa.array(np.arange(offset, offset + n, dtype=np.int64)).cast(pa.string())
    return pc.binary_join_element_wise(prefix, nums, "")


def _numbers(country_code: np.ndarray, digits: np.ndarray) -> pa.Array:
    s = pc.binary_join_element_wise(pa.array(country_code.astype(np.int64)).cast(pa.string()),
                                    pa.array(digits.astype(np.int64)).cast(pa.string()), "")
    out = pc.binary_join_element_wise("+", s, "")
    return pc.if_else(pa.array(digits < 0), pa.nulls(len(digits), pa.string()), out)


def _month_us(month: str, day: int, hour: int = 0) -> int:
    return int(np.datetime64(f"{month}-{day:02d}T{hour:02d}:00", "us").astype(np.int64))


def _next_month(month: str) -> str:
    return str(np.datetime64(month, "M") + np.timedelta64(1, "M"))


class Writer:
    def __init__(self, out: Path):
        self.out = out
        self.rows = 0
        self.files: list[tuple[Path, int]] = []

    def write(self, rel: str, table: pa.Table, delivered_us: int) -> None:
        path = self.out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, path, compression="zstd", row_group_size=1_000_000)
        t = delivered_us / 1e6
        os.utime(path, (t, t))
        self.rows += table.num_rows
        self.files.append((path, table.num_rows))


def _calls_table(c: dict, pop: Population, month: str, id_prefix: str, rng) -> pa.Table:
    n = len(c["user"])
    user = c["user"].astype(np.int64)
    acc = pop.user_account[user]
    cc = np.array([DIAL_CODE[x] for x in pop.country])[acc]
    own = _numbers(cc, pop.user_number[user])
    internal = c["direction"] == tf.INTERNAL
    other_user = rng.integers(0, len(pop.user_id), n)
    cp_digits = np.where(internal, pop.user_number[other_user], c["counterpart"])
    cp = _numbers(np.where(internal, cc, cc), cp_digits)
    inbound = c["direction"] == tf.IN
    fwd = _numbers(cc, c["forwarded_to"])
    account = pa.array(pop.account_id).take(pa.array(acc))
    account = pc.if_else(pa.array(rng.random(n) < 0.01), pa.nulls(n, pa.string()), account)  # filled from user
    return pa.table({
        "call_id": _ids(id_prefix, n),
        "account_id": account,
        "user_id": pa.array(pop.user_id).take(pa.array(user)),
        "direction": pa.array(tf.DIRECTIONS).take(pa.array(c["direction"])),
        "started_at": _ts(c["started"]),
        "answered_at": _ts(c["answered"]),
        "ended_at": _ts(c["ended"]),
        "from_number": pc.if_else(pa.array(inbound), cp, own),
        "to_number": pc.if_else(pa.array(inbound), own, cp),
        "disposition": pa.array(tf.DISPOSITIONS).take(pa.array(c["disposition"])),
        "forwarded_to": fwd,
        "initiated_via": pc.if_else(pa.array(c["via"] < 0), pa.nulls(n, pa.string()),
                                    pa.array(tf.VIA).take(pa.array(np.maximum(c["via"], 0)))),
    })


def _messages_table(m: dict, pop: Population, id_prefix: str) -> pa.Table:
    n = len(m["user"])
    acc = pop.user_account[m["user"]]
    cc = np.array([DIAL_CODE[x] for x in pop.country])[acc]
    return pa.table({
        "message_id": _ids(id_prefix, n),
        "account_id": pa.array(pop.account_id).take(pa.array(acc)),
        "user_id": pa.array(pop.user_id).take(pa.array(m["user"])),
        "channel": pa.array(np.array(["sms", "mms", "whatsapp"])).take(pa.array(m["channel"])),
        "direction": pa.array(np.array(["sent", "received"])).take(pa.array(m["direction"])),
        "sent_at": _ts(m["sent"]),
        "counterparty_number": _numbers(cc, m["counterpart"]),
        "segments": pa.array(m["segments"].astype(np.int32)),
    })


def _chats_table(c: dict, pop: Population, id_prefix: str) -> pa.Table:
    n = len(c["user"])
    return pa.table({
        "chat_message_id": _ids(id_prefix, n),
        "account_id": pa.array(pop.account_id).take(pa.array(pop.user_account[c["user"]])),
        "user_id": pa.array(pop.user_id).take(pa.array(c["user"])),
        "conversation_id": pc.binary_join_element_wise(
            "conv-", pa.array(c["conversation"].astype(np.int64)).cast(pa.string()), ""),
        "sent_at": _ts(c["sent"]),
    })


def _active_mask(pop: Population, month: str) -> np.ndarray:
    m0, m1 = tf.month_bounds(month)
    return (pop.created_us < m1) & ((pop.deactivated_us < 0) | (pop.deactivated_us >= m0))


def _in_lifetime(pop: Population, user: np.ndarray, t: np.ndarray) -> np.ndarray:
    dead = pop.deactivated_us[user]
    return (t >= pop.created_us[user]) & ((dead < 0) | (t < dead))


def _filter(d: dict, keep: np.ndarray) -> dict:
    return {k: v[keep] for k, v in d.items()}


def _snapshots(w: Writer, pop: Population, months: list[str]) -> None:
    dates = [f"{m}-15" for m in months] + [str(np.datetime64(_next_month(months[-1]), "D") - 1)]
    for k, date in enumerate(dates):
        snap_us = int(np.datetime64(date, "us").astype(np.int64)) + tf.DAY
        in_snap = pop.created_us < snap_us
        delivered = snap_us + 3 * 3600 * tf.US
        plan = pop.plan.astype(object).copy()
        if k >= 1:
            changed = pop.plan_change_to != ""
            plan[changed] = pop.plan_change_to[changed]
        agreed = np.where(pop.agreed_on <= np.datetime64(date, "D"), pop.agreed_on, np.datetime64("NaT", "D"))
        accounts = pa.table({
            "account_id": pa.array(pop.account_id),
            "account_name": pa.array(pop.account_name),
            "country": pa.array(pop.country),
            "plan": pa.array(plan.astype(str)),
            "declared_contact_center": pa.array(pop.declared_cc),
            "surcharge_agreed_on": pa.array(agreed, type=pa.date32()),
            "surcharge_rate_per_minute": pa.array(
                [None if np.isnan(r) else f"{r:.4f}" for r in pop.rate]).cast(pa.decimal128(10, 4)),
            "currency": pa.array([{"NZ": "NZD", "AU": "AUD", "GB": "GBP", "US": "USD", "IE": "EUR",
                                   "CA": "CAD"}[c] for c in pop.country]),
        })
        w.write(f"accounts/snapshot_date={date}/accounts.parquet", accounts, delivered)
        idx = np.flatnonzero(in_snap)
        dead = pop.deactivated_us[idx]
        dead = np.where(dead < snap_us, dead, -1)
        users = pa.table({
            "user_id": pa.array(pop.user_id[idx]),
            "account_id": pa.array(pop.account_id[pop.user_account[idx]]),
            "created_at": _ts(pop.created_us[idx]),
            "deactivated_at": _ts(dead),
        })
        w.write(f"users/snapshot_date={date}/users.parquet", users, delivered)


def _bad_rows(month: str, pop: Population, normal_user: int, other_account: str) -> dict[str, pa.Table]:
    """A few rows per quarantine reason (small and explicit on purpose: they are test vectors)."""
    t = _month_us(month, 10, 12)
    prev = tf.month_bounds(month)[0] - 60 * tf.US
    u, a = pop.user_id[normal_user], pop.account_id[pop.user_account[normal_user]]
    # call_id, account, user, direction, started (µs), answered and ended (seconds after started), disposition,
    # initiated_via, the reason it must be quarantined for
    rows = [
        (None, a, u, "outbound", t, 5, 65, "answered", "app", "missing_required"),
        ("bad-c1", a, None, "outbound", t, 5, 65, "answered", "app", "missing_required"),
        ("bad-c2", a, u, "outgoing", t, 5, 65, "answered", "app", "invalid_value"),
        ("bad-c3", a, u, "inbound", t, 5, 65, "dropped", "app", "invalid_value"),
        ("bad-c4", a, u, "inbound", t, 5, 65, "answered", "pbx", "invalid_value"),
        ("bad-c5", a, u, "inbound", t, 5, -65, "answered", "app", "invalid_interval"),  # ends before it starts
        ("bad-c6", a, u, "inbound", t, 500, 65, "answered", "app", "invalid_interval"),  # answered after the end
        ("bad-c7", a, u, "inbound", prev, 5, 65, "answered", "app", "wrong_month"),
        ("bad-c8", None, "u-ghost-1", "inbound", t, 5, 65, "answered", "app", "unknown_user"),
        ("bad-c9", other_account, u, "inbound", t, 5, 65, "answered", "app", "account_mismatch"),
    ]
    p = f"{month.replace('-', '')}-"
    calls = pa.table({
        "call_id": pa.array([None if r[0] is None else p + r[0] for r in rows], pa.string()),
        "account_id": pa.array([r[1] for r in rows], pa.string()),
        "user_id": pa.array([r[2] for r in rows], pa.string()),
        "direction": pa.array([r[3] for r in rows]),
        "started_at": _ts(np.array([r[4] for r in rows])),
        "answered_at": _ts(np.array([r[4] + r[5] * tf.US for r in rows])),
        "ended_at": _ts(np.array([r[4] + r[6] * tf.US for r in rows])),
        "from_number": pa.array(["+6421000000"] * len(rows)),
        "to_number": pa.array(["+6421000001"] * len(rows)),
        "disposition": pa.array([r[7] for r in rows]),
        "forwarded_to": pa.nulls(len(rows), pa.string()),
        "initiated_via": pa.array([r[8] for r in rows]),
    })
    mrows = [  # id, account, user, channel, direction, sent
        (p + "bad-m1", a, u, None, "sent", t), (p + "bad-m2", a, u, "rcs", "sent", t),
        (p + "bad-m3", a, u, "sms", "sent", prev), (p + "bad-m4", None, "u-ghost-2", "sms", "sent", t),
        (p + "bad-m5", other_account, u, "sms", "sent", t),
    ]
    messages = pa.table({
        "message_id": pa.array([r[0] for r in mrows]), "account_id": pa.array([r[1] for r in mrows], pa.string()),
        "user_id": pa.array([r[2] for r in mrows]), "channel": pa.array([r[3] for r in mrows], pa.string()),
        "direction": pa.array([r[4] for r in mrows]), "sent_at": _ts(np.array([r[5] for r in mrows])),
        "counterparty_number": pa.array(["+6421000002"] * len(mrows)), "segments": pa.array([1] * len(mrows),
                                                                                            pa.int32()),
    })
    crow = [(p + "bad-h1", a, u, -1), (p + "bad-h2", a, u, prev), (p + "bad-h3", None, "u-ghost-3", t),
            (p + "bad-h4", other_account, u, t)]
    chats = pa.table({
        "chat_message_id": pa.array([r[0] for r in crow]), "account_id": pa.array([r[1] for r in crow], pa.string()),
        "user_id": pa.array([r[2] for r in crow]), "conversation_id": pa.array(["conv-bad"] * len(crow)),
        "sent_at": _ts(np.array([r[3] for r in crow])),
    })
    reasons = {"calls": {}, "messages": {}, "chats": {}}
    for r in rows:
        reasons["calls"][r[9]] = reasons["calls"].get(r[9], 0) + 1
    reasons["messages"] = {"missing_required": 1, "invalid_value": 1, "wrong_month": 1, "unknown_user": 1,
                           "account_mismatch": 1}
    reasons["chats"] = {"missing_required": 1, "wrong_month": 1, "unknown_user": 1, "account_mismatch": 1}
    return {"calls": calls, "messages": messages, "chats": chats, "reasons": reasons}


def _pick(rng, candidates: np.ndarray, k: int, taken: set) -> list[int]:
    out = []
    for u in rng.permutation(candidates):
        if int(u) not in taken:
            out.append(int(u))
            taken.add(int(u))
        if len(out) == k:
            break
    return out


def _pick_diverse(rng, candidates: np.ndarray, market: np.ndarray, used: np.ndarray, taken: set) -> int | None:
    """One user not yet taken, from the market (country x plan) used least so far: planted behaviour spreads over
    every country and plan there is."""
    free = np.array([u for u in candidates if int(u) not in taken], dtype=np.int64)
    if len(free) == 0:
        return None
    least = used[market[free]].min()
    pool = free[used[market[free]] == least]
    u = int(pool[rng.integers(0, len(pool))])
    used[market[u]] += 1
    taken.add(u)
    return u


def _pick_team(rng, pop: Population, candidates: np.ndarray, size: tuple[int, int], taken: set) -> list[int]:
    """size[0]..size[1] users of one account (not yet taken), from an account that has enough of them."""
    free = np.array([u for u in candidates if int(u) not in taken], dtype=np.int64)
    if len(free) == 0:
        return []
    accounts, counts = np.unique(pop.user_account[free], return_counts=True)
    for need in (size[1], size[0], 2, 1):
        ok = accounts[counts >= need]
        if len(ok):
            acc = ok[rng.integers(0, len(ok))]
            members = [int(u) for u in rng.permutation(free[pop.user_account[free] == acc])[:size[1]]]
            taken.update(members)
            return members
    return []


def generate(out: str | Path = "data/raw", users: int = 2000, months: list[str] | None = None, seed: int = 7,
             calls_per_user: float | None = None) -> str:
    t_start = time.perf_counter()
    months = months or ["2026-07", "2026-08", "2026-09", "2026-10"]
    out = Path(out)
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    pop = build_population(rng, max(users, 60), months)
    scale = (calls_per_user / 45.0) if calls_per_user else 1.0
    w = Writer(out)
    _snapshots(w, pop, months)

    # Planted roles, stable across months, drawn from ordinary, long-lived users.
    special_accounts = set(pop.roles.values())
    ordinary = np.flatnonzero(~np.isin(pop.user_account, list(special_accounts))
                              & (pop.deactivated_us < 0) & (pop.created_us < tf.month_bounds(months[0])[0]))
    free_calling = ordinary[np.isin(pop.plan[pop.user_account[ordinary]], ["pro", "unlimited"])]
    taken: set[int] = set()
    excess = {"calls": _pick(rng, free_calling, 4, taken), "messages": _pick(rng, free_calling, 2, taken),
              "team_chats": _pick(rng, free_calling, 2, taken)}
    # Prohibited use: one user per pattern variant, spread over the markets; hard negatives: one user or a team
    # (one account) per kind. Variant i is on in the first month and in every other month after (off: ordinary).
    # Small populations get fewer (variant 1 of every pattern first, then variant 2, ...): planted and negative
    # users stay under 40 % and 30 % of the ordinary users, so cohorts keep their ordinary majority.
    ctx = Context(pop, scale)
    market_names, market = np.unique(np.char.add(pop.country[pop.user_account].astype(str),
                                                 pop.plan[pop.user_account].astype(str)), return_inverse=True)
    used = np.zeros(len(market_names), dtype=np.int64)
    by_rank = sorted(((rank, pattern, variant, build) for pattern, variants in VARIANTS.items()
                      for rank, (variant, build) in enumerate(variants.items())), key=lambda x: x[0])
    planted = []  # (pattern, variant, builder, user), in the patterns' order
    for _, pattern, variant, build in by_rank[:max(len(VARIANTS), int(0.4 * len(ordinary)))]:
        u = _pick_diverse(rng, ordinary, market, used, taken)
        if u is not None:
            planted.append((pattern, variant, build, u))
    planted.sort(key=lambda x: (list(VARIANTS).index(x[0]), list(VARIANTS[x[0]]).index(x[1])))
    negatives = []  # (kind, builder, users)
    budget = max(len(NEGATIVES), int(0.3 * len(ordinary)))
    for kind, (size, build) in NEGATIVES.items():
        team = _pick_team(rng, pop, ordinary, (size[0], min(size[1], max(1, budget))), taken)
        if team:
            negatives.append((kind, build, team))
            budget -= len(team)
    agents = {role: np.flatnonzero(pop.user_account == acc).tolist() for role, acc in pop.roles.items()}
    all_agents = np.array(sorted(u for us in agents.values() for u in us))

    truth: dict = {"seed": seed, "months": months, "prohibited_use": [], "hard_negatives": [],
                   "excess_usage": [], "contact_centers": [], "quarantine": {}, "late_files": [],
                   "conflicting_redeliveries": {}}
    for role, acc in pop.roles.items():
        truth["contact_centers"].append({
            "account_id": str(pop.account_id[acc]), "role": role, "declared": bool(pop.declared_cc[acc]),
            "surcharge_agreed_on": None if np.isnat(pop.agreed_on[acc]) else str(pop.agreed_on[acc]),
            "agents": len(agents[role])})

    events_per_month = {}
    for mi, month in enumerate(months):
        m0, m1 = tf.month_bounds(month)
        delivered = _month_us(_next_month(month), 1, 3)
        active = _active_mask(pop, month).astype(float)
        active[all_agents] = 0.0  # agents' calls are generated as contact-center traffic below
        tag = month.replace("-", "")
        n_events = 0

        # Ordinary traffic in batches of users, one part file per batch and dataset.
        n_batches = max(1, -(-len(pop.user_id) // BATCH_USERS))
        for b in range(n_batches):
            lo, hi = b * BATCH_USERS, min(len(pop.user_id), (b + 1) * BATCH_USERS)
            mask = np.zeros(len(pop.user_id))
            mask[lo:hi] = active[lo:hi]
            calls = tf.ordinary_calls(rng, pop, mask, month, scale)
            # Within the month (a long day can run past midnight) and within the user's lifetime.
            calls = _filter(calls, _in_lifetime(pop, calls["user"], calls["started"])
                            & (calls["started"] >= m0) & (calls["started"] < m1))
            msgs = tf.message_events(rng, pop, mask, month, scale, {})
            msgs = _filter(msgs, _in_lifetime(pop, msgs["user"], msgs["sent"]))
            chats = tf.chat_events(rng, pop, mask, month, scale, {})
            chats = _filter(chats, _in_lifetime(pop, chats["user"], chats["sent"]))
            w.write(f"calls/month={month}/part-{b:03d}.parquet",
                    _calls_table(calls, pop, month, f"c{tag}-{b}-", rng), delivered)
            w.write(f"messages/month={month}/part-{b:03d}.parquet",
                    _messages_table(msgs, pop, f"m{tag}-{b}-"), delivered)
            w.write(f"chats/month={month}/part-{b:03d}.parquet", _chats_table(chats, pop, f"h{tag}-{b}-"),
                    delivered)
            n_events += len(calls["user"]) + len(msgs["user"]) + len(chats["user"])

        # Planted behaviour: contact centers, prohibited patterns, hard negatives, excess users.
        batches = [tf.agent_calls(rng, np.array(all_agents), month)]
        message_batches = []  # planted messaging (message blasting and its look-alikes)
        on = [(i, pl) for i, pl in enumerate(planted) if mi == 0 or (mi + i) % 2 == 0]
        for _, (_, _, build, u) in on:
            built = build(rng, ctx, u, month)
            (message_batches if tf.is_messages(built) else batches).append(built)
        for _, build, team in negatives:
            built = build(rng, ctx, team, month)
            (message_batches if tf.is_messages(built) else batches).append(built)
        # Excess: user k of a metric is over in months k.. (k=0: every month; ladders of 1, 2, 3+ months).
        excess_on = {m: [u for k, u in enumerate(us) if mi <= k or k == 0] for m, us in excess.items()}
        for u in excess_on["calls"]:
            batches.append(tf.excess_calls(rng, u, month, 1400))
        calls = tf.concat(batches)
        calls = _filter(calls, (calls["started"] >= m0) & (calls["started"] < m1))
        bad = _bad_rows(month, pop, int(ordinary[0]), str(pop.account_id[pop.roles["cc_custom_rate"]]))
        planted_table = _calls_table(calls, pop, month, f"c{tag}-p-", rng)
        w.write(f"calls/month={month}/part-planted.parquet", pa.concat_tables([planted_table, bad["calls"]]),
                delivered)
        zero = np.zeros(len(pop.user_id))
        msgs = tf.message_events(rng, pop, zero, month, scale, {u: 2600 for u in excess_on["messages"]})
        msgs = tf.concat_messages([msgs, *message_batches])
        msgs = _filter(msgs, (msgs["sent"] >= m0) & (msgs["sent"] < m1))
        chats = tf.chat_events(rng, pop, zero, month, scale, {u: 9000 for u in excess_on["team_chats"]})
        w.write(f"messages/month={month}/part-planted.parquet",
                pa.concat_tables([_messages_table(msgs, pop, f"m{tag}-p-"), bad["messages"]]), delivered)
        w.write(f"chats/month={month}/part-planted.parquet",
                pa.concat_tables([_chats_table(chats, pop, f"h{tag}-p-"), bad["chats"]]), delivered)
        n_events += planted_table.num_rows + len(msgs["user"]) + len(chats["user"])
        truth["quarantine"][month] = bad["reasons"]

        # Re-deliveries a day later: identical copies, and corrected copies (conflicts; the later one wins).
        part0 = pq.read_table(out / f"calls/month={month}/part-000.parquet")
        k = min(len(part0), max(5, len(part0) // 300))
        copies = part0.take(pa.array(np.sort(rng.choice(len(part0), k, replace=False))))
        n_conf = min(20, k // 2)
        ended = copies.column("ended_at").to_numpy(zero_copy_only=False).astype("datetime64[us]").astype(np.int64)
        ended[:n_conf] += 60 * tf.US
        copies = copies.set_column(copies.schema.get_field_index("ended_at"), "ended_at", _ts(ended))
        w.write(f"calls/month={month}/resend-1.parquet", copies, delivered + tf.DAY)
        mpart = pq.read_table(out / f"messages/month={month}/part-000.parquet")
        km = min(len(mpart), max(5, len(mpart) // 300))
        w.write(f"messages/month={month}/resend-1.parquet",
                mpart.take(pa.array(np.sort(rng.choice(len(mpart), km, replace=False)))), delivered + tf.DAY)
        truth["conflicting_redeliveries"][month] = {"calls": n_conf}
        events_per_month[month] = n_events + k + km

        for _, (pattern, variant, _, u) in on:
            truth["prohibited_use"].append({"month": month, "account_id": str(pop.account_id[pop.user_account[u]]),
                                            "user_id": str(pop.user_id[u]), "pattern": pattern, "variant": variant})
        hard = [(kind, u) for kind, _, team in negatives for u in team]
        hard += [("contact_center_agent", int(u)) for u in all_agents]
        hard += [("heavy_caller", u) for u in excess_on["calls"]]
        hard += [("heavy_messager", u) for u in excess_on["messages"]]
        for kind, u in hard:
            truth["hard_negatives"].append({"month": month, "account_id": str(pop.account_id[pop.user_account[u]]),
                                            "user_id": str(pop.user_id[u]), "kind": kind})
        for metric, us in excess_on.items():
            for u in us:
                truth["excess_usage"].append({"month": month, "user_id": str(pop.user_id[u]), "metric": metric})

    # A late file for the first month, delivered after the last month.
    if len(months) > 1:
        month = months[0]
        m0, m1 = tf.month_bounds(month)
        late_active = np.zeros(len(pop.user_id))
        late_active[ordinary[:50]] = 1.0
        late = tf.ordinary_calls(rng, pop, late_active, month, 1.0)
        late = _filter(late, (late["started"] >= m0) & (late["started"] < m1))
        rel = f"calls/month={month}/late-delivery.parquet"
        w.write(rel, _calls_table(late, pop, month, f"c{month.replace('-', '')}-late-", rng),
                _month_us(_next_month(months[-1]), 5, 3))
        truth["late_files"].append({"file": rel, "rows": len(late["user"])})

    truth_file = truth_path(out)
    truth_file.write_text(json.dumps(truth, indent=1, sort_keys=True))
    secs = time.perf_counter() - t_start
    total = w.rows
    return (f"generated {total:,} rows ({len(pop.user_id):,} users, {len(pop.account_id):,} accounts, "
            f"{len(months)} months) into {out} in {secs:.1f}s ({total / secs:,.0f} rows/s); "
            f"ground truth: {truth_file}")
