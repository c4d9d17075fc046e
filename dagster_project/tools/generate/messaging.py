"""Building blocks for planted messaging (SMS, MMS, WhatsApp), vectorised per message.

Every builder returns the generator's message columns (`traffic.MESSAGE_KEYS`), times in microseconds since the
epoch.
- `blast`: one account working a list of numbers it never messaged: each number gets 1-2 messages, sent in
  sessions at a given pace (software: a second or two apart; a person pasting: tens of seconds); a few write back.
- `conversations`: two-way threads with a set of numbers (customers, contacts): who writes first, how many
  messages each way.
"""

from __future__ import annotations

import numpy as np

from dagster_project.tools.generate import lines as ln
from dagster_project.tools.generate.traffic import (
    DAY,
    MESSAGE_RECEIVED,
    MESSAGE_SENT,
    SMS,
    US,
    WHATSAPP,
    month_bounds,
)


def _columns(user: int, sent: np.ndarray, channel, direction, counterpart) -> dict[str, np.ndarray]:
    n = len(sent)
    channel = np.broadcast_to(np.asarray(channel, dtype=np.int64), (n,)).copy()
    return {
        "user": np.full(n, user, dtype=np.int64),
        "sent": np.asarray(sent, dtype=np.int64),
        "channel": channel,
        "direction": np.broadcast_to(np.asarray(direction, dtype=np.int64), (n,)).copy(),
        "segments": np.where(channel == SMS, 1 + (np.asarray(sent) // US) % 2, 1).astype(np.int64),
        "counterpart": np.asarray(counterpart, dtype=np.int64),
    }


def channel_choice(rng, n: int, p_whatsapp: float) -> np.ndarray:
    return np.where(rng.random(n) < p_whatsapp, WHATSAPP, SMS)


def concat_messages(batches: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    return {k: np.concatenate([b[k] for b in batches]) for k in batches[0]}


def blast(rng, user: int, month: str, recipients: int, *, days: np.ndarray, gap_s: tuple[float, float],
          p_reply: float, p_whatsapp: float = 0.0, start_hour=(9.0, 11.0), follow_up: bool = False,
          lognormal_gaps: bool = False) -> dict[str, np.ndarray]:
    """`recipients` new numbers, split over the given days (one sending session each), one message each sent
    gap_s apart (uniform, or lognormal around the range's geometric middle); follow_up: a second message to
    every number 1-3 days later (same pace). p_reply of the numbers write back once, minutes to hours later."""
    m0, _ = month_bounds(month)
    w = rng.uniform(0.6, 1.4, len(days))
    per = np.maximum(1, np.round(recipients * w / w.sum())).astype(np.int64)
    day = np.repeat(np.asarray(days).astype(np.int64), per)
    n = len(day)
    numbers = ln.new_numbers(rng, n)
    if lognormal_gaps:
        mid = np.sqrt(gap_s[0] * gap_s[1])
        gap = rng.lognormal(np.log(mid), 0.5, n)
    else:
        gap = rng.uniform(gap_s[0], gap_s[1], n)
    gap_us = (gap * US).astype(np.int64)
    origin = m0 + day * DAY + np.repeat((rng.uniform(*start_hour, len(days)) * 3600 * US).astype(np.int64), per)
    sent = origin + ln.group_cumsum(gap_us, day) - gap_us
    channel = channel_choice(rng, n, p_whatsapp)
    out = [_columns(user, sent, channel, MESSAGE_SENT, numbers)]
    if follow_up:
        again = sent + (rng.integers(1, 4) * DAY)
        out.append(_columns(user, again, channel, MESSAGE_SENT, numbers))
    replied = rng.random(n) < p_reply
    k = int(replied.sum())
    reply_at = sent[replied] + (rng.lognormal(np.log(1800), 1.2, k) * US).astype(np.int64)
    out.append(_columns(user, reply_at, channel[replied], MESSAGE_RECEIVED, numbers[replied]))
    return concat_messages(out)


def conversations(rng, user: int, month: str, numbers: np.ndarray, threads: int, *, p_they_start: float,
                  p_answer: float, turns=(1, 4), p_whatsapp: float = 0.2, days: np.ndarray | None = None,
                  hours=(8.0, 19.0)) -> dict[str, np.ndarray]:
    """`threads` conversations, each with a number drawn from `numbers`: the other side writes first with
    probability p_they_start (the user answers); else the user writes first and they answer with probability
    p_answer; then 1-3 more turns each way, a few minutes apart."""
    m0, _ = month_bounds(month)
    if days is None:
        days = ln.pick_days(rng, month, 21)
    who = numbers[rng.integers(0, len(numbers), threads)]
    day = rng.choice(np.asarray(days).astype(np.int64), threads)
    t0 = m0 + day * DAY + (rng.uniform(*hours, threads) * 3600 * US).astype(np.int64)
    they_first = rng.random(threads) < p_they_start
    answered = they_first | (rng.random(threads) < p_answer)
    more = rng.integers(turns[0] - 1, turns[1], threads) * answered  # extra exchanges after the first pair
    channel = channel_choice(rng, threads, p_whatsapp)
    out = []
    # the opening message, and the answer to it (when there is one)
    out.append(_columns(user, t0, channel, np.where(they_first, MESSAGE_RECEIVED, MESSAGE_SENT), who))
    reply = t0 + (rng.lognormal(np.log(240), 1.0, threads) * US).astype(np.int64)
    out.append(_columns(user, reply[answered], channel[answered],
                        np.where(they_first, MESSAGE_SENT, MESSAGE_RECEIVED)[answered], who[answered]))
    # further turns: one message each way, minutes apart
    idx = np.repeat(np.arange(threads), more)
    step = np.concatenate([np.arange(1, m + 1) for m in more]) if len(idx) else np.empty(0, dtype=np.int64)
    base = reply[idx] + step * (rng.uniform(120, 900, len(idx)) * US).astype(np.int64)
    out.append(_columns(user, base, channel[idx], MESSAGE_SENT, who[idx]))
    out.append(_columns(user, base + (rng.uniform(30, 600, len(idx)) * US).astype(np.int64), channel[idx],
                        MESSAGE_RECEIVED, who[idx]))
    return concat_messages(out)
