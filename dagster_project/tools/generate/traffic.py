"""Vectorised usage for one month: ordinary traffic, contact centers, heavy callers, messages and chats. No Python
loops over events. Prohibited patterns and hard negatives are planted by `patterns` and `negatives`.

Calls are kept as numpy columns (times in microseconds since the epoch) and only turned into strings when
written. Ordinary users dial one call at a time (sequential within a day), so concurrency appears only where a
pattern puts it. Their volume depends on the market (country x plan, `population.calling_multiplier`) and most of
their calls go to a small book of contacts, as business calling does.
"""

from __future__ import annotations

import numpy as np

from dagster_project.tools.generate.population import Population, calling_multiplier

US = 1_000_000
DAY = 86_400 * US
DIRECTIONS = np.array(["inbound", "outbound", "internal"])
DISPOSITIONS = np.array(["answered", "no_answer", "busy", "failed", "voicemail"])
VIA = np.array(["app", "desk_phone", "web", "api"])
IN, OUT, INTERNAL = 0, 1, 2
ANSWERED, NO_ANSWER, BUSY, FAILED, VOICEMAIL = 0, 1, 2, 3, 4
CALL_KEYS = ("user", "direction", "started", "answered", "ended", "disposition", "forwarded_to", "via",
             "counterpart")


def month_bounds(month: str) -> tuple[int, int]:
    start = np.datetime64(month + "-01", "M")
    return (int(np.datetime64(start, "us").astype(np.int64)),
            int(np.datetime64(start + np.timedelta64(1, "M"), "us").astype(np.int64)))


def business_days(month: str, rng: np.random.Generator, n: int) -> np.ndarray:
    """n day offsets within the month, weekdays far likelier than weekends."""
    start = np.datetime64(month + "-01", "D")
    days = np.arange(start, np.datetime64(np.datetime64(month, "M") + np.timedelta64(1, "M"), "D"))
    weekday = (days.astype(np.int64) + 3) % 7  # 0 = Monday
    w = np.where(weekday < 5, 1.0, np.where(weekday == 5, 0.12, 0.05))
    return rng.choice(len(days), size=n, p=w / w.sum())


def empty_calls() -> dict[str, np.ndarray]:
    return {k: np.empty(0, dtype=np.int64) for k in CALL_KEYS}


def concat(batches: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    return {k: np.concatenate([b[k] for b in batches]) for k in CALL_KEYS}


def is_messages(batch: dict[str, np.ndarray]) -> bool:
    """A planted batch of messages (MESSAGE_KEYS), not of calls."""
    return "channel" in batch


def concat_messages(batches: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    if not batches:
        return {k: np.empty(0, dtype=np.int64) for k in MESSAGE_KEYS}
    return {k: np.concatenate([np.asarray(b[k], dtype=np.int64) for b in batches]) for k in MESSAGE_KEYS}


def _outcomes(rng, n, p_answer, talk_median_s, talk_sigma=1.0, p_voicemail=0.1):
    """Disposition, ring time and talk time (µs) for n calls."""
    r = rng.random(n)
    disp = np.full(n, NO_ANSWER)
    disp[r < p_answer] = ANSWERED
    vm = (r >= p_answer) & (r < p_answer + p_voicemail)
    disp[vm] = VOICEMAIL
    rest = r >= p_answer + p_voicemail
    r2 = rng.random(n)
    disp[rest & (r2 < 0.25)] = BUSY
    disp[rest & (r2 >= 0.25) & (r2 < 0.35)] = FAILED
    ring = (rng.uniform(2, 18, n) * US).astype(np.int64)
    talk = (rng.lognormal(np.log(talk_median_s), talk_sigma, n) * US).astype(np.int64)
    talk[disp == VOICEMAIL] = (rng.uniform(12, 45, vm.sum()) * US).astype(np.int64)
    unanswered = (disp != ANSWERED) & (disp != VOICEMAIL)
    ring[unanswered] = (rng.uniform(5, 30, unanswered.sum()) * US).astype(np.int64)
    talk[unanswered] = 0
    return disp, ring, talk


def sequential_calls(rng, user, day, month_start, p_answer, talk_median_s, gap_scale, direction,
                     via=None, counterpart=None, forwarded_to=None, day_start_hour=8.0, p_voicemail=0.1):
    """Calls placed one after another per user and day (a person on one line): no self-overlap."""
    order = np.lexsort((day, user))
    user, day, direction = user[order], day[order], direction[order]
    n = len(user)
    disp, ring, talk = _outcomes(rng, n, p_answer, talk_median_s, p_voicemail=p_voicemail)
    dur = ring + talk
    group = user.astype(np.int64) * 64 + day
    first = np.r_[0, np.flatnonzero(np.diff(group)) + 1]
    counts = np.diff(np.r_[first, n])
    per_call_count = np.repeat(counts, counts)
    gap = rng.exponential(1.0, n) * (gap_scale / per_call_count) * US
    gap = gap.astype(np.int64) + US
    step = gap + dur
    cs = np.cumsum(step)
    before = np.repeat(cs[first] - step[first], counts)
    origin = (month_start + day * DAY + int(day_start_hour * 3600 * US)
              + np.repeat((rng.random(len(first)) * 5400 * US).astype(np.int64), counts))
    started = origin + (cs - before) - dur
    answered = np.where(talk > 0, started + ring, -1)
    ended = started + dur
    out = {
        "user": user, "direction": direction, "started": started, "answered": answered, "ended": ended,
        "disposition": disp,
        "forwarded_to": np.full(n, -1, np.int64) if forwarded_to is None else forwarded_to[order],
        "via": rng.choice(3, n, p=[0.55, 0.35, 0.10]) if via is None else np.full(n, via),
        "counterpart": rng.integers(300_000_000, 999_999_999, n) if counterpart is None else counterpart[order],
    }
    internal = direction == INTERNAL
    out["counterpart"][internal] = -1  # filled with another user's number when written
    return out


ORDINARY_CALLS = 45.0  # mean calls per user-month at scale 1 (before the market's multiplier)
ORDINARY_OUTBOUND_SHARE = 0.44
CONTACT_BASE, CONTACTS_PER_USER, P_CONTACT = 100_000_000, 50, 0.6
SMS, MMS, WHATSAPP = 0, 1, 2  # message channels (index into the written names)
MESSAGE_SENT, MESSAGE_RECEIVED = 0, 1
MESSAGE_KEYS = ("user", "sent", "channel", "direction", "segments", "counterpart")


def contact_numbers(rng, user: np.ndarray, book_size: np.ndarray | int = 25) -> np.ndarray:
    """National digits of numbers from each user's book of contacts (numbers called again and again)."""
    return CONTACT_BASE + user.astype(np.int64) * CONTACTS_PER_USER + rng.integers(0, book_size, len(user))


def ordinary_calls(rng, pop: Population, active: np.ndarray, month: str, scale: float):
    """Everyone's everyday calling: heavy-tailed volume that depends on the market, business hours, weekdays;
    most calls to the user's contacts."""
    m0, _ = month_bounds(month)
    rate = ORDINARY_CALLS * scale * pop.activity * calling_multiplier(pop) * active
    n_per_user = rng.poisson(rate)
    user = np.repeat(np.arange(len(rate)), n_per_user)
    day = business_days(month, rng, len(user))
    direction = rng.choice(3, len(user), p=[0.44, ORDINARY_OUTBOUND_SHARE, 0.12])
    book = 10 + (np.arange(len(rate)) % (CONTACTS_PER_USER - 10))
    counterpart = np.where(rng.random(len(user)) < P_CONTACT, contact_numbers(rng, user, book[user]),
                           rng.integers(300_000_000, 999_999_999, len(user)))
    return sequential_calls(rng, user, day, m0, p_answer=0.68, talk_median_s=95, gap_scale=8 * 3600,
                            direction=direction, counterpart=counterpart)


def agent_calls(rng, agents: np.ndarray, month: str, calls_per_day: float = 65):
    """Contact-center agents: one call at a time, back to back, inbound and outbound (legitimate use)."""
    m0, _ = month_bounds(month)
    n_per = rng.poisson(calls_per_day * 21, len(agents))
    user = np.repeat(agents, n_per)
    day = business_days(month, rng, len(user))
    direction = rng.choice(2, len(user), p=[0.6, 0.4])
    return sequential_calls(rng, user, day, m0, p_answer=0.86, talk_median_s=200, gap_scale=2 * 3600,
                            direction=direction, p_voicemail=0.03)


def excess_calls(rng, u: int, month: str, factor_calls: int):
    """A heavy caller on a free plan: many ordinary calls (human pace) far above the cohort."""
    m0, _ = month_bounds(month)
    n = int(factor_calls)
    day = business_days(month, rng, n)
    return sequential_calls(rng, np.full(n, u), day, m0, p_answer=0.7, talk_median_s=240, gap_scale=9 * 3600,
                            direction=rng.choice(2, n, p=[0.5, 0.5]))


def _event_users(rng, rate: np.ndarray, boost: dict[int, int]) -> np.ndarray:
    """One user index per event: Poisson counts per user at `rate`, plus the planted extra events."""
    n_per = rng.poisson(rate)
    for u, extra in boost.items():
        n_per[u] += extra
    return np.repeat(np.arange(len(rate)), n_per)


def message_events(rng, pop: Population, active: np.ndarray, month: str, scale: float, boost: dict[int, int]):
    m0, _ = month_bounds(month)
    user = _event_users(rng, 30.0 * scale * pop.activity * active, boost)
    n = len(user)
    day = business_days(month, rng, n)
    sent = m0 + day * DAY + ((7.5 + rng.random(n) * 11) * 3600 * US).astype(np.int64)
    channel = rng.choice(3, n, p=[0.72, 0.08, 0.20])
    direction = rng.choice(2, n, p=[0.5, 0.5])
    segments = np.where(channel == 0, rng.choice([1, 1, 1, 2, 3], n), 1)
    draw = rng.integers(300_000_000, 999_999_999, n)
    # Messaging is conversation with a book of contacts, both ways: 95 % of the messages sent and 70 % of those
    # received; the rest are one-off numbers (a reply to an enquiry, codes, notifications).
    book = 10 + (user % (CONTACTS_PER_USER - 10))
    contact = np.where(direction == MESSAGE_SENT, draw % 20 != 0, draw % 10 < 7)
    counterpart = np.where(contact, CONTACT_BASE + user.astype(np.int64) * CONTACTS_PER_USER + (draw // 20) % book,
                           draw)
    return {"user": user, "sent": sent, "channel": channel, "direction": direction, "segments": segments,
            "counterpart": counterpart}


def chat_events(rng, pop: Population, active: np.ndarray, month: str, scale: float, boost: dict[int, int]):
    m0, _ = month_bounds(month)
    user = _event_users(rng, 80.0 * scale * pop.activity * active, boost)
    n = len(user)
    day = business_days(month, rng, n)
    sent = m0 + day * DAY + ((8 + rng.random(n) * 10) * 3600 * US).astype(np.int64)
    conversation = pop.user_account[user] * 16 + rng.integers(0, 16, n)
    return {"user": user, "sent": sent, "conversation": conversation}
