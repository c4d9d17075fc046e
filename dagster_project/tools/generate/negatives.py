"""Hard negatives: honest businesses whose calling looks like a prohibited pattern in one or two respects and
must never be flagged. Each kind is (team size range, function(rng, ctx, users, month) -> call columns); a team
shares one account.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from dagster_project.tools.generate import lines as ln
from dagster_project.tools.generate.patterns import Context, ordinary_day_calls, voicemail_drops
from dagster_project.tools.generate.traffic import ANSWERED, US, concat, contact_numbers

MOBILE_BASE = 700_000_000  # a user's own mobile: MOBILE_BASE + user; colleagues' mobiles: + 1_000_000 + user*16 + k


def _pool(rng, size: int) -> np.ndarray:
    return ln.new_numbers(rng, max(int(size), 1))


def busy_sales_rep(rng, ctx: Context, users: list[int], month: str):
    """Many outbound calls at a human pace, placed from the CRM (API click-to-call), answered often, real
    conversations, prospects called again (follow-ups)."""
    u = users[0]
    days = ln.pick_days(rng, month, 20)
    per = rng.integers(60, 90, len(days))
    n = int(per.sum())
    prospects = _pool(rng, n / 2.5)
    out = ln.human_line(rng, u, month, days, per, p_answer=rng.uniform(0.55, 0.65), talk_median_s=rng.uniform(120, 240),
                        wrap_median_s=rng.uniform(90, 180), p_api=0.6, p_voicemail=0.15,
                        counterpart=prospects[rng.integers(0, len(prospects), n)])
    callbacks = ln.one_line_with_call_waiting(rng, u, month, days, rng.integers(3, 8, len(days)), gap_median_s=3000,
                                              p_waiting=0.0, callers=prospects[rng.integers(0, len(prospects), 200)])
    return concat([out, callbacks])


def inside_sales_team(rng, ctx: Context, users: list[int], month: str):
    """A team working one shared pool of prospects: each rep calls at volume, often unanswered, but the numbers
    are the team's known prospects, called by several reps in turn."""
    per_user = [rng.integers(18, 32, 20) for _ in users]
    total = int(sum(p.sum() for p in per_user))
    prospects = _pool(rng, total / rng.uniform(2.5, 3.5))
    out = []
    for u, per in zip(users, per_user, strict=True):
        days = ln.pick_days(rng, month, len(per))
        n = int(per.sum())
        out.append(ln.human_line(rng, u, month, days, per, p_answer=rng.uniform(0.3, 0.45),
                                 talk_median_s=rng.uniform(120, 300), wrap_median_s=rng.uniform(60, 150),
                                 counterpart=prospects[rng.integers(0, len(prospects), n)]))
    return concat(out)


def recruiter(rng, ctx: Context, users: list[int], month: str):
    """Calls candidates (new ones, and the same ones again), long conversations, candidates call back."""
    u = users[0]
    days = ln.pick_days(rng, month, 20)
    per = rng.integers(12, 22, len(days))
    n = int(per.sum())
    candidates = _pool(rng, n / 2)
    out = ln.human_line(rng, u, month, days, per, p_answer=rng.uniform(0.45, 0.55),
                        talk_median_s=rng.uniform(300, 600), wrap_median_s=rng.uniform(120, 300),
                        counterpart=candidates[rng.integers(0, len(candidates), n)])
    back = ln.one_line_with_call_waiting(rng, u, month, days, rng.integers(4, 9, len(days)), gap_median_s=2400,
                                         p_waiting=0.05, callers=candidates[rng.integers(0, len(candidates), 400)])
    return concat([out, back])


def appointment_reminders(rng, ctx: Context, users: list[int], month: str):
    """A few hundred short outbound calls, each to a different client, in a morning batch; half started from the
    booking system (API); clients answer or get a voicemail."""
    u = users[0]
    days = ln.pick_days(rng, month, 20)
    per = np.maximum(1, rng.poisson(rng.uniform(250, 450) / len(days), len(days)))
    return ln.human_line(rng, u, month, days, per, start_hour=(8.5, 9.5), p_answer=rng.uniform(0.55, 0.7),
                         p_voicemail=0.25, talk_median_s=20, talk_sigma=0.5, short_hangup_share=0.08,
                         wrap_median_s=rng.uniform(20, 40), wrap_sigma=0.6, break_share=0.0, p_api=0.5)


def support_desk_call_waiting(rng, ctx: Context, users: list[int], month: str):
    """A busy support desk on one user: inbound all day; call waiting puts a second caller through while the first
    holds; a third caller rings and goes to voicemail."""
    u = users[0]
    days = ln.pick_days(rng, month, 21)
    return ln.one_line_with_call_waiting(rng, u, month, days, rng.integers(40, 70, len(days)),
                                         talk_median_s=rng.uniform(150, 240), gap_median_s=rng.uniform(150, 300),
                                         p_waiting=0.15, p_third=0.4)


def receptionist_transfers(rng, ctx: Context, users: list[int], month: str):
    """A receptionist answers and transfers most callers to a colleague's mobile (forwarded); several transferred
    calls are in talk at once, but never more than one on the same colleague's phone (busy colleagues take a
    message instead)."""
    u = users[0]
    days = ln.pick_days(rng, month, 21)
    calls = ln.one_line_with_call_waiting(rng, u, month, days, rng.integers(60, 100, len(days)), talk_median_s=40,
                                          gap_median_s=rng.uniform(150, 250), p_waiting=0.1, p_third=0.3)
    n = len(calls["started"])
    colleagues = MOBILE_BASE + 1_000_000 + u * 16 + np.arange(int(rng.integers(5, 9)))
    busy_until = np.zeros(len(colleagues), dtype=np.int64)
    extra_talk = (rng.lognormal(np.log(240), 0.6, n) * US).astype(np.int64)
    want = (rng.random(n) < 0.7) & (calls["disposition"] == ANSWERED)
    order = np.argsort(calls["started"], kind="stable")
    forwarded = np.full(n, -1, dtype=np.int64)
    for i in order[want[order]]:  # one pass over this receptionist's calls: who is free to take it
        free = np.flatnonzero(busy_until <= calls["started"][i])
        if len(free):
            k = free[int(rng.integers(0, len(free)))]
            forwarded[i] = colleagues[k]
            calls["ended"][i] += extra_talk[i]
            busy_until[k] = calls["ended"][i]
    calls["forwarded_to"] = forwarded
    return calls


def forward_to_one_mobile(rng, ctx: Context, users: list[int], month: str):
    """Every call forwarded to the user's own mobile: one line, call waiting at most."""
    u = users[0]
    days = ln.pick_days(rng, month, 21)
    return ln.one_line_with_call_waiting(rng, u, month, days, rng.integers(10, 25, len(days)),
                                         talk_median_s=rng.uniform(120, 240), gap_median_s=1200, p_waiting=0.1,
                                         forwarded_to=MOBILE_BASE + u)


def voicemail_team(rng, ctx: Context, users: list[int], month: str):
    """A team that leaves five voicemails each in an hour of follow-ups, a few days a month."""
    out = []
    for u in users:
        days = ln.pick_days(rng, month, int(rng.integers(4, 9)))
        t0 = ln.month_bounds(month)[0] + days * 86_400 * US + (rng.uniform(9, 16, len(days)) * 3600 * US).astype(
            np.int64)
        started = np.repeat(t0, 5) + (rng.random(5 * len(days)) * 3600 * US).astype(np.int64)
        drops = voicemail_drops(rng, u, started, p_api=0.0)
        drops["counterpart"] = contact_numbers(rng, np.full(len(started), u), 20)
        out += [drops, ordinary_day_calls(rng, u, month, per_day=(2, 6))]
    return concat(out)


Kind = Callable[[np.random.Generator, Context, list[int], str], dict]

# kind -> (team size: min, max), builder
NEGATIVES: dict[str, tuple[tuple[int, int], Kind]] = {
    "busy_sales_rep": ((1, 1), busy_sales_rep),
    "inside_sales_team": ((3, 5), inside_sales_team),
    "recruiter": ((1, 1), recruiter),
    "appointment_reminders": ((1, 1), appointment_reminders),
    "support_desk_call_waiting": ((1, 1), support_desk_call_waiting),
    "receptionist_transfers": ((1, 1), receptionist_transfers),
    "forward_to_one_mobile": ((1, 1), forward_to_one_mobile),
    "voicemail_team": ((3, 4), voicemail_team),
}
