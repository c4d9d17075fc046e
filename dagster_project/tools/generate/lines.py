"""Building blocks for planted behaviour: how calls follow each other on a line, vectorised per call.

Every builder returns the generator's call columns (`traffic.CALL_KEYS`), times in microseconds since the epoch.
- `human_line`: one person dialling, one call at a time: irregular wrap-up gaps (lognormal), breaks, a day's
  calls starting at a given hour. What people do.
- `machine_line`: software dialling one line: a timer (start to start) or a fixed wait after each call (end to
  start), with a small relative jitter.
- `parallel_rounds`: a predictive dialer: rounds of several calls dialled at once, rounds at irregular intervals.
- `inbound_arrivals`: callers arriving at random (optionally in peaks), taken by as many lines as needed.
- `one_line_with_call_waiting`: one line that talks on one call and may hold a second (call waiting); a third
  caller only rings.
"""

from __future__ import annotations

import numpy as np

from dagster_project.tools.generate.traffic import (
    ANSWERED,
    BUSY,
    DAY,
    IN,
    NO_ANSWER,
    OUT,
    US,
    VOICEMAIL,
    month_bounds,
)

NEW_NUMBER_LOW, NEW_NUMBER_HIGH = 300_000_000, 999_999_999  # national digits of numbers nobody called before


def new_numbers(rng, n: int) -> np.ndarray:
    return rng.integers(NEW_NUMBER_LOW, NEW_NUMBER_HIGH, n)


def pick_days(rng, month: str, k: int, weekdays_only: bool = True) -> np.ndarray:
    """k distinct day offsets of the month (sorted), working days unless weekdays_only is False."""
    start = np.datetime64(month + "-01", "D")
    end = np.datetime64(np.datetime64(month, "M") + np.timedelta64(1, "M"), "D")
    days = np.arange(end - start)
    if weekdays_only:
        days = days[((start + days).astype(np.int64) + 3) % 7 < 5]
    return np.sort(rng.choice(days, size=min(k, len(days)), replace=False))


def group_cumsum(values: np.ndarray, group: np.ndarray) -> np.ndarray:
    """Inclusive cumulative sum within runs of equal `group` values (group sorted)."""
    if len(values) == 0:
        return values
    cs = np.cumsum(values)
    first = np.r_[0, np.flatnonzero(np.diff(group)) + 1]
    counts = np.diff(np.r_[first, len(values)])
    return cs - np.repeat(cs[first] - values[first], counts)


def outcomes(rng, n, p_answer, talk_median_s, talk_sigma=0.8, p_voicemail=0.1, short_hangup_share=0.0,
             ring_s=(4, 20), voicemail_talk_s=(15, 40)):
    """Disposition, ring and talk time (µs) for n calls. short_hangup_share of answered calls end within 1-5 s."""
    r = rng.random(n)
    disp = np.full(n, NO_ANSWER)
    disp[r < p_answer] = ANSWERED
    vm = (r >= p_answer) & (r < p_answer + p_voicemail)
    disp[vm] = VOICEMAIL
    rest = r >= p_answer + p_voicemail
    disp[rest & (rng.random(n) < 0.2)] = BUSY
    ring = (rng.uniform(*ring_s, n) * US).astype(np.int64)
    talk = (rng.lognormal(np.log(talk_median_s), talk_sigma, n) * US).astype(np.int64) + US
    hang = (disp == ANSWERED) & (rng.random(n) < short_hangup_share)
    talk[hang] = (rng.uniform(1, 5, hang.sum()) * US).astype(np.int64)
    talk[vm] = (rng.uniform(*voicemail_talk_s, vm.sum()) * US).astype(np.int64)
    unanswered = (disp != ANSWERED) & (disp != VOICEMAIL)
    ring[unanswered] = (rng.uniform(8, 30, unanswered.sum()) * US).astype(np.int64)
    ring[disp == BUSY] = (rng.uniform(1, 4, (disp == BUSY).sum()) * US).astype(np.int64)
    talk[unanswered] = 0
    return disp, ring, talk


def _assemble(user, direction, started, disp, ring, talk, via, counterpart, forwarded_to=None):
    n = len(started)
    return {
        "user": np.broadcast_to(np.asarray(user, dtype=np.int64), (n,)).copy(),
        "direction": np.broadcast_to(np.asarray(direction, dtype=np.int64), (n,)).copy(),
        "started": started.astype(np.int64),
        "answered": np.where(talk > 0, started + ring, -1).astype(np.int64),
        "ended": (started + ring + talk).astype(np.int64),
        "disposition": disp.astype(np.int64),
        "forwarded_to": (np.full(n, -1, np.int64) if forwarded_to is None
                         else np.broadcast_to(np.asarray(forwarded_to, dtype=np.int64), (n,)).copy()),
        "via": np.broadcast_to(np.asarray(via, dtype=np.int64), (n,)).copy(),
        "counterpart": np.asarray(counterpart, dtype=np.int64),
    }


def via_choice(rng, n: int, p_api: float = 0.0) -> np.ndarray:
    """How calls were placed: the API with probability p_api, else app / desk phone / web like everyone."""
    via = rng.choice(3, n, p=[0.55, 0.35, 0.10])
    via[rng.random(n) < p_api] = 3
    return via


def human_line(rng, user: int, month: str, days: np.ndarray, per_day: np.ndarray, *, start_hour=(8.5, 10.0),
               p_answer=0.6, talk_median_s=90.0, talk_sigma=0.8, p_voicemail=0.1, short_hangup_share=0.0,
               wrap_median_s=60.0, wrap_sigma=0.9, break_share=0.04, p_api=0.0, counterpart=None):
    """One person, one call at a time: per day, calls back to back with irregular wrap-up gaps and breaks."""
    m0, _ = month_bounds(month)
    per_day = np.asarray(per_day, dtype=np.int64)
    day = np.repeat(days, per_day)
    n = len(day)
    disp, ring, talk = outcomes(rng, n, p_answer, talk_median_s, talk_sigma, p_voicemail, short_hangup_share)
    wrap = (rng.lognormal(np.log(wrap_median_s), wrap_sigma, n) * US).astype(np.int64) + 3 * US
    breaks = rng.random(n) < break_share
    wrap[breaks] += (rng.uniform(8, 45, breaks.sum()) * 60 * US).astype(np.int64)
    dur = ring + talk
    origin = m0 + day * DAY + (rng.uniform(*start_hour, len(days)) * 3600 * US).astype(np.int64).repeat(per_day)
    started = origin + group_cumsum(wrap + dur, day) - dur
    cp = new_numbers(rng, n) if counterpart is None else counterpart
    return _assemble(user, OUT, started, disp, ring, talk, via_choice(rng, n, p_api), cp)


def machine_line(rng, user: int, month: str, days: np.ndarray, per_session: np.ndarray, *, mode: str,
                 period_s: float, jitter: float, start_hour=(9.0, 10.0), p_answer=0.2, talk_median_s=25.0,
                 talk_sigma=0.5, p_voicemail=0.08, short_hangup_share=0.2, ring_s=(4, 20), p_api=1.0):
    """Software on one line, one session per day: mode 'cadence' = a call every period_s from start to start;
    'wrap' = the next call period_s after the previous one ended. jitter is relative (0.02 = 2 %)."""
    m0, _ = month_bounds(month)
    per_session = np.asarray(per_session, dtype=np.int64)
    day = np.repeat(days, per_session)
    n = len(day)
    disp, ring, talk = outcomes(rng, n, p_answer, talk_median_s, talk_sigma, p_voicemail, short_hangup_share,
                                ring_s=ring_s)
    step = (period_s * (1 + jitter * rng.standard_normal(n)) * US).astype(np.int64).clip(US // 2)
    origin = m0 + day * DAY + (rng.uniform(*start_hour, len(days)) * 3600 * US).astype(np.int64).repeat(per_session)
    if mode == "cadence":
        started = origin + group_cumsum(step, day) - step
    else:
        dur = ring + talk
        started = origin + group_cumsum(step + dur, day) - dur - step
    return _assemble(user, OUT, started, disp, ring, talk, via_choice(rng, n, p_api), new_numbers(rng, n))


def parallel_rounds(rng, user: int, month: str, days: np.ndarray, rounds_per_session: np.ndarray, *,
                    lines=(3, 6), round_period_s=(15, 45), start_hour=(9.0, 10.0), p_answer=0.2,
                    short_hangup_share=0.3, p_api=0.5):
    """A predictive dialer: each round dials several numbers at once (bursty); rounds at irregular intervals.
    Answered calls nobody was free for are dropped within seconds (short answered calls)."""
    m0, _ = month_bounds(month)
    rounds_per_session = np.asarray(rounds_per_session, dtype=np.int64)
    rday = np.repeat(days, rounds_per_session)
    n_rounds = len(rday)
    gap = (rng.uniform(*round_period_s, n_rounds) * US).astype(np.int64)
    origin = m0 + rday * DAY + (rng.uniform(*start_hour, len(days)) * 3600 * US).astype(np.int64).repeat(
        rounds_per_session)
    round_at = origin + group_cumsum(gap, rday) - gap
    k = rng.integers(lines[0], lines[1] + 1, n_rounds)
    started = np.repeat(round_at, k) + (rng.uniform(0, 0.4, k.sum()) * US).astype(np.int64)
    n = len(started)
    disp, ring, talk = outcomes(rng, n, p_answer, 40.0, 0.7, 0.08, short_hangup_share)
    return _assemble(user, OUT, started, disp, ring, talk, via_choice(rng, n, p_api), new_numbers(rng, n))


def inbound_arrivals(rng, user: int, month: str, days: np.ndarray, per_day: np.ndarray, *, hours=(8.0, 17.0),
                     p_answer=0.9, talk_median_s=300.0, talk_sigma=0.6, forwarded_to=None, callers=None):
    """Callers arriving at random times within the hours of the given days, each answered on a line of its own
    (a system with as many lines as callers). forwarded_to: one number, or an array (one per call)."""
    m0, _ = month_bounds(month)
    per_day = np.asarray(per_day, dtype=np.int64)
    day = np.repeat(days, per_day)
    n = len(day)
    started = m0 + day * DAY + (rng.uniform(*hours, n) * 3600 * US).astype(np.int64)
    disp, ring, talk = outcomes(rng, n, p_answer, talk_median_s, talk_sigma, p_voicemail=0.02)
    cp = new_numbers(rng, n) if callers is None else callers
    fwd = None if forwarded_to is None else (forwarded_to if np.ndim(forwarded_to) == 0 else forwarded_to)
    return _assemble(user, IN, started, disp, ring, talk, -1, cp, fwd)


def peak_episodes(rng, user: int, month: str, days: np.ndarray, calls_per_episode: np.ndarray, *,
                  within_s=(120, 300), hours=(9.0, 17.0), talk_median_s=480.0, forwarded_to=None):
    """Short peaks: a handful of callers within a few minutes (after an advert, at kick-off), long talks."""
    m0, _ = month_bounds(month)
    calls_per_episode = np.asarray(calls_per_episode, dtype=np.int64)
    t0 = m0 + days * DAY + (rng.uniform(*hours, len(days)) * 3600 * US).astype(np.int64)
    width = rng.uniform(*within_s, len(days))
    started = np.repeat(t0, calls_per_episode) + (
        rng.random(calls_per_episode.sum()) * np.repeat(width, calls_per_episode) * US).astype(np.int64)
    n = len(started)
    disp, ring, talk = outcomes(rng, n, 0.97, talk_median_s, 0.3, p_voicemail=0.0)
    return _assemble(user, IN, started, disp, ring, talk, -1, new_numbers(rng, n), forwarded_to)


def one_line_with_call_waiting(rng, user: int, month: str, days: np.ndarray, per_day: np.ndarray, *,
                               talk_median_s=180.0, gap_median_s=600.0, p_waiting=0.12, p_third=0.3,
                               hours_start=(8.0, 9.0), forwarded_to=None, callers=None):
    """One line, inbound: calls one after another; with call waiting, a second caller is answered while the first
    holds (two in talk at once); a third caller meanwhile only rings, then the voicemail box answers."""
    m0, _ = month_bounds(month)
    per_day = np.asarray(per_day, dtype=np.int64)
    day = np.repeat(days, per_day)  # one slot per call of the day; some slots hold a call-waiting pair
    n = len(day)

    def legs(k):
        ring = (rng.uniform(3, 15, k) * US).astype(np.int64)
        return ring, (rng.lognormal(np.log(talk_median_s), 0.7, k) * US).astype(np.int64) + 5 * US

    ring_a, talk_a = legs(n)
    pair = rng.random(n) < p_waiting
    ring_b, talk_b = legs(n)
    offset_b = ring_a + (talk_a * rng.uniform(0.1, 0.7, n)).astype(np.int64)  # B rings while A is in talk
    slot = np.where(pair, np.maximum(ring_a + talk_a, offset_b + ring_b + talk_b), ring_a + talk_a)
    gap = (rng.lognormal(np.log(gap_median_s), 0.9, n) * US).astype(np.int64) + 5 * US
    origin = m0 + day * DAY + (rng.uniform(*hours_start, len(days)) * 3600 * US).astype(np.int64).repeat(per_day)
    start_a = origin + group_cumsum(gap + slot, day) - slot
    start_b = (start_a + offset_b)[pair]
    third = rng.random(int(pair.sum())) < p_third
    start_c = start_b[third] + (rng.uniform(1, 20, int(third.sum())) * US).astype(np.int64)
    k_b, k_c = len(start_b), len(start_c)
    started = np.concatenate([start_a, start_b, start_c])
    ring = np.concatenate([ring_a, ring_b[pair], (rng.uniform(5, 15, k_c) * US).astype(np.int64)])
    talk = np.concatenate([talk_a, talk_b[pair], (rng.uniform(10, 30, k_c) * US).astype(np.int64)])
    disp = np.concatenate([np.full(n + k_b, ANSWERED), np.full(k_c, VOICEMAIL)])
    m = len(started)
    cp = new_numbers(rng, m) if callers is None else np.resize(callers, m)
    return _assemble(user, IN, started, disp, ring, talk, -1, cp, forwarded_to)
