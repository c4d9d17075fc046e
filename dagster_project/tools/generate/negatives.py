"""Hard negatives: honest businesses whose calling or messaging looks like a prohibited pattern in one or two
respects and must never be flagged. Each kind is (team size range, function(rng, ctx, users, month) -> call
columns, or message columns: `traffic.is_messages`); a team shares one account.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from dagster_project.tools.generate import lines as ln
from dagster_project.tools.generate import messaging as msg
from dagster_project.tools.generate.patterns import Context, ordinary_day_calls, voicemail_drops
from dagster_project.tools.generate.traffic import ANSWERED, MESSAGE_SENT, US, concat, contact_numbers

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


def _slow_pace(rng, u: int, month: str, per_day: tuple[int, int], counterpart_pool: np.ndarray, p_answer: float,
               talk_median_s: float):
    """One person calling at a slow pace every working day: 4-12 minutes between calls (start to start)."""
    days = ln.pick_days(rng, month, 22)
    per = rng.integers(per_day[0], per_day[1] + 1, len(days))
    n = int(per.sum())
    return ln.human_line(rng, u, month, days, per, p_answer=p_answer, talk_median_s=talk_median_s, talk_sigma=0.6,
                         wrap_median_s=rng.uniform(300, 420), wrap_sigma=0.35, break_share=0.0,
                         counterpart=counterpart_pool[rng.integers(0, len(counterpart_pool), n)])


def lead_follow_up_rep(rng, ctx: Context, users: list[int], month: str):
    """A sales rep working their own leads at a slow, steady pace all month: several hundred calls, 4-12
    minutes apart, to leads called again and again (follow-ups), answered about half the time."""
    u = users[0]
    leads = _pool(rng, rng.uniform(80, 140))
    return _slow_pace(rng, u, month, (18, 30), leads, rng.uniform(0.45, 0.6), rng.uniform(150, 300))


def support_call_backs(rng, ctx: Context, users: list[int], month: str):
    """A support agent calling customers back, 4-12 minutes apart: customers called in first (inbound), the
    call-backs go to numbers the account had not called this month, and most are answered."""
    u = users[0]
    days = ln.pick_days(rng, month, 22)
    customers = _pool(rng, rng.uniform(250, 400))
    inbound = ln.one_line_with_call_waiting(rng, u, month, days, rng.integers(8, 15, len(days)), gap_median_s=1800,
                                            p_waiting=0.0, callers=customers)
    backs = _slow_pace(rng, u, month, (12, 20), customers, rng.uniform(0.65, 0.8), rng.uniform(180, 360))
    return concat([inbound, backs])


# ---------------------------------------------------------------- messaging look-alikes

def shop_conversations(rng, ctx: Context, users: list[int], month: str):
    """A shop texting with its customers all day: hundreds of customers, most write first (an order, a
    question), the shop answers; the shop's own first messages ("your order is ready") are answered too."""
    u = users[0]
    customers = _pool(rng, rng.uniform(250, 500))
    return msg.conversations(rng, u, month, customers, int(len(customers) * rng.uniform(1.2, 2.0)),
                             p_they_start=rng.uniform(0.6, 0.85), p_answer=rng.uniform(0.5, 0.8), turns=(1, 5))


def team_regular_contacts(rng, ctx: Context, users: list[int], month: str):
    """A team messaging a few regular contacts (suppliers, drivers, the office) a great deal, both ways."""
    contacts = _pool(rng, rng.integers(4, 9))
    out = [msg.conversations(rng, u, month, contacts, int(rng.integers(200, 500)), p_they_start=0.5, p_answer=0.95,
                             turns=(1, 4), p_whatsapp=0.6) for u in users]
    return msg.concat_messages(out)


def sms_appointment_reminders(rng, ctx: Context, users: list[int], month: str):
    """The booking system texts every client a reminder the day before, in a morning batch a second or two
    apart (machine pace); clients reply to confirm or move it, and the desk answers."""
    u = users[0]
    days = ln.pick_days(rng, month, 21)
    reminders = msg.blast(rng, u, month, int(rng.integers(250, 500)), days=days, gap_s=(0.5, 2.0),
                          p_reply=rng.uniform(0.35, 0.6), start_hour=(8.0, 8.5))
    replied = reminders["direction"] != MESSAGE_SENT
    answers = {k: v[replied].copy() for k, v in reminders.items()}
    answers["direction"][:] = MESSAGE_SENT
    answers["sent"] = answers["sent"] + (rng.uniform(60, 1800, int(replied.sum())) * US).astype(np.int64)
    return msg.concat_messages([reminders, answers])


def one_off_broadcast(rng, ctx: Context, users: list[int], month: str):
    """One announcement to a few dozen numbers at once (an event, a new address), no replies expected."""
    u = users[0]
    days = ln.pick_days(rng, month, 1)
    return msg.blast(rng, u, month, int(rng.integers(25, 60)), days=days, gap_s=(0.5, 2.0), p_reply=0.0)


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
    "lead_follow_up_rep": ((1, 1), lead_follow_up_rep),
    "support_call_backs": ((1, 1), support_call_backs),
    "shop_conversations": ((1, 1), shop_conversations),
    "team_regular_contacts": ((2, 4), team_regular_contacts),
    "sms_appointment_reminders": ((1, 1), sms_appointment_reminders),
    "one_off_broadcast": ((1, 1), one_off_broadcast),
}
