"""Planted prohibited use: every pattern in several variants that differ in volume (from just above a plausible
floor to extreme), pacing (human, machine, bursty), answer rate, talk time, time of day and how much ordinary use
the same user also has. Each variant is a function (rng, ctx, user, month) -> call columns (or, for message
blasting, message columns: `traffic.is_messages`), on top of the user's ordinary traffic (generated for every
active user).

"Plausible floor" is the generator's own idea of the smallest volume that still is the pattern: a few hundred
calls, and several times what the user's market normally does (`Context.normal_*`); it knows nothing of the
detection thresholds in the policy file.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from dagster_project.tools.generate import lines as ln
from dagster_project.tools.generate import messaging as msg
from dagster_project.tools.generate.population import Population, calling_multiplier
from dagster_project.tools.generate.traffic import (
    DAY,
    ORDINARY_CALLS,
    ORDINARY_OUTBOUND_SHARE,
    OUT,
    US,
    VOICEMAIL,
    concat,
    contact_numbers,
    month_bounds,
)

PBX_BASE = 800_000_000  # forwarded-to numbers of multi-line systems: PBX_BASE + user * 4 + trunk


@dataclass
class Context:
    pop: Population
    scale: float

    def __post_init__(self):
        self.multiplier = calling_multiplier(self.pop)

    def normal_outbound(self, u: int) -> float:
        """Outbound calls a typical (median-activity) user of u's market places in a month."""
        return ORDINARY_CALLS * self.scale * self.multiplier[u] * ORDINARY_OUTBOUND_SHARE

    def normal_inbound(self, u: int) -> float:
        return ORDINARY_CALLS * self.scale * self.multiplier[u] * 0.44

    def normal_messages_sent(self) -> float:
        """Messages a typical user sends in a month (traffic.message_events: 30 a month, half of them sent)."""
        return 30.0 * self.scale * 0.5

    def floor(self, rng, absolute: float, normal: float) -> int:
        """Just above a plausible floor: the larger of an absolute floor and 7x the market's normal, + 0-25 %."""
        return int(max(absolute, 7 * normal) * rng.uniform(1.0, 1.25))


def _split(rng, total: int, k: int) -> np.ndarray:
    """total calls over k days/sessions, roughly even (at least 1 each)."""
    w = rng.uniform(0.6, 1.4, k)
    per = np.maximum(1, np.round(total * w / w.sum())).astype(np.int64)
    return per


def ordinary_day_calls(rng, u: int, month: str, per_day=(3, 8), p_answer=0.68):
    """Ordinary human calling on top (a user whose day also has normal work): contacts, answered 2 in 3."""
    days = ln.pick_days(rng, month, 18)
    per = rng.integers(per_day[0], per_day[1] + 1, len(days))
    n = int(per.sum())
    return ln.human_line(rng, u, month, days, per, p_answer=p_answer, talk_median_s=120, wrap_median_s=900,
                         wrap_sigma=1.0, start_hour=(9.0, 11.0),
                         counterpart=contact_numbers(rng, np.full(n, u), 20))


# ---------------------------------------------------------------- auto-dialing (robo / predictive dialers)

def ad_predictive_parallel(rng, ctx: Context, u: int, month: str):
    """Predictive dialer, bursty: rounds of 3-6 numbers dialled at once; answered calls with no agent dropped."""
    days = ln.pick_days(rng, month, int(rng.integers(3, 7)))
    rounds = rng.integers(100, 200, len(days))
    return ln.parallel_rounds(rng, u, month, days, rounds, lines=(3, 6), p_answer=rng.uniform(0.15, 0.3),
                              short_hangup_share=rng.uniform(0.2, 0.4), p_api=0.5)


def ad_fixed_rate_robocall(rng, ctx: Context, u: int, month: str):
    """Robocall on a timer (machine pacing): a call every 40-70 s, a recorded message when answered."""
    days = ln.pick_days(rng, month, int(rng.integers(5, 11)))
    per = rng.integers(60, 180, len(days))
    return ln.machine_line(rng, u, month, days, per, mode="cadence", period_s=rng.uniform(40, 70),
                           jitter=rng.uniform(0.005, 0.03), p_answer=rng.uniform(0.2, 0.35), talk_median_s=25,
                           talk_sigma=0.2, short_hangup_share=rng.uniform(0.2, 0.4), p_api=0.3)


def ad_progressive_wrap(rng, ctx: Context, u: int, month: str):
    """Progressive dialer (machine pacing): the next number 1.5-4 s after each call ends; agents talk."""
    days = ln.pick_days(rng, month, int(rng.integers(6, 13)))
    per = rng.integers(80, 250, len(days))
    return ln.machine_line(rng, u, month, days, per, mode="wrap", period_s=rng.uniform(1.5, 4),
                           jitter=0.05, p_answer=rng.uniform(0.25, 0.35), talk_median_s=45, talk_sigma=0.8,
                           short_hangup_share=0.1, p_api=0.0)


def ad_low_volume_regular(rng, ctx: Context, u: int, month: str):
    """Just above the floor: a few hundred calls in 3-5 short regular sessions."""
    total = ctx.floor(rng, 320, ctx.normal_outbound(u))
    days = ln.pick_days(rng, month, int(rng.integers(3, 6)))
    per = _split(rng, total, len(days))
    if rng.random() < 0.5:
        return ln.machine_line(rng, u, month, days, per, mode="cadence", period_s=rng.uniform(30, 50),
                               jitter=0.03, p_answer=rng.uniform(0.2, 0.35), talk_median_s=20, talk_sigma=0.3,
                               p_api=0.5)
    return ln.machine_line(rng, u, month, days, per, mode="wrap", period_s=rng.uniform(2, 5), jitter=0.03,
                           p_answer=rng.uniform(0.2, 0.35), talk_median_s=30, p_api=0.5)


def ad_human_paced_api(rng, ctx: Context, u: int, month: str):
    """Power dialer at human pacing: software places every call (API) as soon as the agent clicks on; the gaps
    are irregular, the pace (100+ an hour, for hours) is not a person's."""
    days = ln.pick_days(rng, month, int(rng.integers(4, 9)))
    per = rng.integers(150, 300, len(days))
    return ln.human_line(rng, u, month, days, per, p_answer=rng.uniform(0.15, 0.25), talk_median_s=60,
                         wrap_median_s=rng.uniform(5, 8), wrap_sigma=0.7, break_share=0.01, p_api=1.0,
                         start_hour=(9.0, 11.0))


def ad_overnight_mixed(rng, ctx: Context, u: int, month: str):
    """Regular dialing at night (21:00-03:00) on top of a normal working day of calls."""
    days = ln.pick_days(rng, month, int(rng.integers(4, 9)), weekdays_only=False)
    per = rng.integers(100, 250, len(days))
    night = ln.machine_line(rng, u, month, days, per, mode="cadence", period_s=rng.uniform(20, 35), jitter=0.02,
                            start_hour=(21.0, 23.0), p_answer=rng.uniform(0.1, 0.25), p_api=0.5)
    return concat([night, ordinary_day_calls(rng, u, month, per_day=(5, 15))])


# ---------------------------------------------------------------- outbound telemarketing (human dialling)

def _cold_calls(rng, u, month, total, *, p_answer, talk_median_s=90.0, wrap_median_s=60.0,
                short_hangup_share=0.05, start_hour=(8.5, 10.0), weekdays_only=True, redial_share=0.0):
    """A person working a list of new numbers; redial_share of the calls (after the first quarter) go again to a
    number called earlier."""
    days = ln.pick_days(rng, month, int(rng.integers(15, 22)), weekdays_only)
    per = _split(rng, total, len(days))
    n = int(per.sum())
    cp = ln.new_numbers(rng, n)
    if redial_share:
        again = (np.arange(n) > n // 4) & (rng.random(n) < redial_share)
        earlier = (rng.random(n) * np.arange(n)).astype(np.int64)
        cp = np.where(again, cp[earlier], cp)
    return ln.human_line(rng, u, month, days, per, p_answer=p_answer, talk_median_s=talk_median_s,
                         wrap_median_s=wrap_median_s, short_hangup_share=short_hangup_share, start_hour=start_hour,
                         counterpart=cp)


def tm_cold_caller_human(rng, ctx: Context, u: int, month: str):
    """The issue's case: several hundred calls, nearly all to new numbers, 3 in 4 unanswered, ordinary talk."""
    return _cold_calls(rng, u, month, int(rng.integers(350, 900)), p_answer=rng.uniform(0.2, 0.3),
                       talk_median_s=rng.uniform(60, 120), wrap_median_s=rng.uniform(40, 90))


def tm_just_above_floor(rng, ctx: Context, u: int, month: str):
    total = ctx.floor(rng, 230, ctx.normal_outbound(u))
    return _cold_calls(rng, u, month, total, p_answer=rng.uniform(0.15, 0.3), wrap_median_s=rng.uniform(60, 120))


def tm_high_volume_fast(rng, ctx: Context, u: int, month: str):
    """Thousands of calls, fast human pace, many hang-ups within seconds."""
    return _cold_calls(rng, u, month, int(rng.integers(2000, 4500)), p_answer=rng.uniform(0.15, 0.3),
                       talk_median_s=30, wrap_median_s=rng.uniform(15, 30), short_hangup_share=0.35)


def tm_evening_weekend(rng, ctx: Context, u: int, month: str):
    """Dinner-time calling, weekends included, very low answer rate."""
    return _cold_calls(rng, u, month, int(rng.integers(400, 900)), p_answer=rng.uniform(0.1, 0.25),
                       start_hour=(17.0, 18.5), weekdays_only=False)


def tm_redialer(rng, ctx: Context, u: int, month: str):
    """Works a list and redials some numbers later: 75-85 % of calls to new numbers."""
    return _cold_calls(rng, u, month, int(rng.integers(500, 1000)), p_answer=rng.uniform(0.15, 0.3),
                       redial_share=rng.uniform(0.2, 0.3))


def _slow_list(rng, u, month, total, *, wrap_s=(210.0, 690.0), p_answer=(0.15, 0.3), lognormal=False):
    """A person working a list by hand at a slow pace, every working day: 3.5-11.5 minutes from the end of one
    call to the next (notes, the CRM, looking up the next lead), so start to start 4-12 minutes; uniform, or
    lognormal around the range's geometric middle. Sessions of back-to-back calls hardly ever form."""
    m0, _ = month_bounds(month)
    days = ln.pick_days(rng, month, 23)
    per = _split(rng, total, len(days))
    day = np.repeat(days, per)
    n = len(day)
    disp, ring, talk = ln.outcomes(rng, n, rng.uniform(*p_answer), rng.uniform(60, 120), 0.8, 0.1)
    if lognormal:
        wrap = rng.lognormal(np.log(np.sqrt(wrap_s[0] * wrap_s[1])), 0.35, n)
    else:
        wrap = rng.uniform(wrap_s[0], wrap_s[1], n)
    step = (wrap * US).astype(np.int64) + ring + talk
    origin = m0 + day * DAY + np.repeat((rng.uniform(8.5, 9.5, len(days)) * 3600 * US).astype(np.int64), per)
    started = origin + ln.group_cumsum(step, day) - step
    return ln._assemble(u, OUT, started, disp, ring, talk, ln.via_choice(rng, n), ln.new_numbers(rng, n))


def tm_slow_list_caller(rng, ctx: Context, u: int, month: str):
    """The slow list caller: several hundred calls over every working day, 4-12 minutes between calls, nearly
    all to new numbers, most unanswered: a person, not a dialer (the gaps under 5 minutes, cut from the rest,
    pile up just under the cut and look regular)."""
    return _slow_list(rng, u, month, int(rng.integers(450, 800)))


def tm_slow_uneven_pace(rng, ctx: Context, u: int, month: str):
    """A slow list caller whose gaps cluster (lognormal around ~6 minutes) rather than spread evenly."""
    return _slow_list(rng, u, month, int(rng.integers(300, 700)), wrap_s=(180.0, 600.0), lognormal=True)


def tm_slow_mixed_with_ordinary(rng, ctx: Context, u: int, month: str):
    """A slow list caller who also calls their contacts through the day."""
    cold = _slow_list(rng, u, month, int(rng.integers(350, 600)), p_answer=(0.12, 0.25))
    return concat([cold, ordinary_day_calls(rng, u, month, per_day=(2, 4))])


def tm_mixed_with_ordinary(rng, ctx: Context, u: int, month: str):
    """Cold calling beside a normal working day of calls to the user's contacts."""
    cold = _cold_calls(rng, u, month, int(rng.integers(300, 600)), p_answer=rng.uniform(0.15, 0.25))
    return concat([cold, ordinary_day_calls(rng, u, month, per_day=(3, 6))])


# ---------------------------------------------------------------- forwarding to multi-line systems

def fw_pbx_high_volume(rng, ctx: Context, u: int, month: str):
    days = ln.pick_days(rng, month, 21)
    return ln.inbound_arrivals(rng, u, month, days, rng.integers(80, 180, len(days)),
                               talk_median_s=rng.uniform(240, 420), forwarded_to=PBX_BASE + u * 4)


def fw_key_system_peaks(rng, ctx: Context, u: int, month: str):
    """Just above the floor: a few forwarded calls a day, and a handful of peaks where a small key system takes
    4-6 callers within minutes."""
    target = PBX_BASE + u * 4
    days = ln.pick_days(rng, month, 20)
    base = ln.one_line_with_call_waiting(rng, u, month, days, rng.integers(1, 4, len(days)), gap_median_s=3600,
                                         p_waiting=0.05, hours_start=(9.0, 11.0), forwarded_to=target)
    peak_days = ln.pick_days(rng, month, int(rng.integers(4, 8)))
    peaks = ln.peak_episodes(rng, u, month, peak_days, rng.integers(4, 7, len(peak_days)), within_s=(60, 240),
                             talk_median_s=480, forwarded_to=target)
    return concat([base, peaks])


def fw_several_trunk_numbers(rng, ctx: Context, u: int, month: str):
    """Forwarded to 2-3 numbers of the same PBX (round robin); each number takes several calls at once."""
    days = ln.pick_days(rng, month, 21)
    per = rng.integers(150, 250, len(days))
    trunks = int(rng.integers(2, 4))
    target = PBX_BASE + u * 4 + rng.integers(0, trunks, int(per.sum()))
    return ln.inbound_arrivals(rng, u, month, days, per, talk_median_s=rng.uniform(300, 420), forwarded_to=target)


def fw_after_hours_service(rng, ctx: Context, u: int, month: str):
    """Evenings and weekends forwarded to an answering service (many lines); normal calls during the day."""
    days = ln.pick_days(rng, month, 31, weekdays_only=False)
    evening = ln.inbound_arrivals(rng, u, month, days, rng.integers(30, 60, len(days)), hours=(18.0, 21.0),
                                  talk_median_s=rng.uniform(240, 360), forwarded_to=PBX_BASE + u * 4)
    return concat([evening, ordinary_day_calls(rng, u, month)])


def fw_mixed_with_ordinary(rng, ctx: Context, u: int, month: str):
    """Takes calls normally and forwards the overflow to a PBX."""
    days = ln.pick_days(rng, month, 20)
    fwd = ln.inbound_arrivals(rng, u, month, days, rng.integers(40, 80, len(days)), hours=(9.0, 17.0),
                              talk_median_s=rng.uniform(300, 480), forwarded_to=PBX_BASE + u * 4)
    return concat([fwd, ordinary_day_calls(rng, u, month)])


# ---------------------------------------------------------------- voicemail blasting

def voicemail_drops(rng, u: int, started: np.ndarray, p_api: float = 0.7):
    """Voicemail drops: the box answers within seconds, a recorded message of 18-30 s."""
    n = len(started)
    ring = (rng.uniform(1, 4, n) * US).astype(np.int64)
    talk = (rng.uniform(18, 30, n) * US).astype(np.int64)
    return ln._assemble(u, OUT, np.sort(started), np.full(n, VOICEMAIL), ring, talk, ln.via_choice(rng, n, p_api),
                        ln.new_numbers(rng, n))


def _bursts(rng, month, k_days, size, within_s, hours=(9.5, 16.0), weekdays_only=True):
    m0, _ = month_bounds(month)
    days = ln.pick_days(rng, month, k_days, weekdays_only)
    sizes = rng.integers(size[0], size[1] + 1, len(days))
    t0 = m0 + days * DAY + (rng.uniform(*hours, len(days)) * 3600 * US).astype(np.int64)
    width = np.repeat(rng.uniform(*within_s, len(days)), sizes)
    return np.repeat(t0, sizes) + (rng.random(sizes.sum()) * width * US).astype(np.int64)


def vm_simultaneous_burst(rng, ctx: Context, u: int, month: str):
    """Extreme: 100-300 voicemails dropped within two minutes, a few times a month."""
    return voicemail_drops(rng, u, _bursts(rng, month, int(rng.integers(2, 5)), (100, 300), (60, 120)))


def vm_small_bursts(rng, ctx: Context, u: int, month: str):
    """Just above the floor: bursts of 22-35 voicemails within 3-6 minutes."""
    return voicemail_drops(rng, u, _bursts(rng, month, int(rng.integers(3, 6)), (22, 35), (180, 360)), p_api=0.3)


def vm_steady_drip(rng, ctx: Context, u: int, month: str):
    """Machine pacing: one drop every 15-25 s, one after another, for an hour or two."""
    days = ln.pick_days(rng, month, int(rng.integers(3, 7)))
    per = rng.integers(100, 250, len(days))
    calls = ln.machine_line(rng, u, month, days, per, mode="cadence", period_s=rng.uniform(15, 25), jitter=0.05,
                            p_answer=0.0, p_voicemail=1.0, p_api=0.7)
    vm = calls["disposition"] == VOICEMAIL
    calls["ended"] = np.where(vm, calls["started"] + (rng.uniform(12, 14, len(vm)) * US).astype(np.int64),
                              calls["ended"])
    calls["answered"] = np.where(vm, calls["started"] + 2 * US, calls["answered"])
    return calls


def vm_evening_blast(rng, ctx: Context, u: int, month: str):
    """After hours, weekends included: 60-150 drops within ten minutes."""
    started = _bursts(rng, month, int(rng.integers(2, 5)), (60, 150), (300, 600), hours=(18.5, 20.0),
                      weekdays_only=False)
    return voicemail_drops(rng, u, started)


def vm_mixed_with_ordinary(rng, ctx: Context, u: int, month: str):
    blasts = voicemail_drops(rng, u, _bursts(rng, month, int(rng.integers(2, 4)), (40, 80), (120, 300)))
    return concat([blasts, ordinary_day_calls(rng, u, month, per_day=(4, 10))])


# ---------------------------------------------------------------- bulk call-in lines (direct inbound)

def bl_hotline_high(rng, ctx: Context, u: int, month: str):
    days = ln.pick_days(rng, month, 21)
    return ln.inbound_arrivals(rng, u, month, days, rng.integers(120, 220, len(days)), hours=(8.0, 18.0),
                               talk_median_s=rng.uniform(300, 540))


def bl_small_line(rng, ctx: Context, u: int, month: str):
    """Just above the floor: a small call-in line, a dozen callers a day and a few peaks of 5-8 at once."""
    total = ctx.floor(rng, 230, ctx.normal_inbound(u))
    peak_days = ln.pick_days(rng, month, int(rng.integers(6, 11)))
    peaks = ln.peak_episodes(rng, u, month, peak_days, rng.integers(5, 9, len(peak_days)), talk_median_s=600)
    rest = max(total - len(peaks["started"]), 20)
    days = ln.pick_days(rng, month, 20)
    base = ln.inbound_arrivals(rng, u, month, days, _split(rng, rest, len(days)), hours=(9.0, 17.0),
                               talk_median_s=600)
    return concat([base, peaks])


def bl_sports_line_evenings(rng, ctx: Context, u: int, month: str):
    """Game nights (weekends included): 80-200 callers between 19:00 and 22:00, short calls."""
    days = ln.pick_days(rng, month, int(rng.integers(8, 13)), weekdays_only=False)
    return ln.inbound_arrivals(rng, u, month, days, rng.integers(80, 200, len(days)), hours=(19.0, 22.0),
                               talk_median_s=150)


def bl_premium_long_calls(rng, ctx: Context, u: int, month: str):
    """A premium-rate style line: 20-40 callers a day, 20-40 minute calls, into the night."""
    days = ln.pick_days(rng, month, 30, weekdays_only=False)
    return ln.inbound_arrivals(rng, u, month, days, rng.integers(20, 40, len(days)), hours=(10.0, 23.0),
                               talk_median_s=rng.uniform(1200, 2400), talk_sigma=0.5)


def bl_mixed_with_ordinary(rng, ctx: Context, u: int, month: str):
    days = ln.pick_days(rng, month, 20)
    line = ln.inbound_arrivals(rng, u, month, days, rng.integers(40, 80, len(days)), hours=(9.0, 17.0),
                               talk_median_s=rng.uniform(360, 600))
    return concat([line, ordinary_day_calls(rng, u, month)])


# ---------------------------------------------------------------- message blasting (bulk SMS / WhatsApp)

def mb_bulk_sms_bursts(rng, ctx: Context, u: int, month: str):
    """Software blasting SMS: a few sessions of hundreds of messages, one every 0.5-3 s; almost no replies."""
    days = ln.pick_days(rng, month, int(rng.integers(2, 6)))
    return msg.blast(rng, u, month, int(rng.integers(400, 2000)), days=days, gap_s=(0.5, 3.0),
                     p_reply=rng.uniform(0.0, 0.04))


def mb_steady_whatsapp(rng, ctx: Context, u: int, month: str):
    """A person pasting one WhatsApp message to number after number, every working day, tens of seconds apart
    (no burst faster than typing); a few write back."""
    days = ln.pick_days(rng, month, int(rng.integers(15, 22)))
    return msg.blast(rng, u, month, int(rng.integers(250, 600)), days=days, gap_s=(25.0, 120.0),
                     p_reply=rng.uniform(0.03, 0.1), p_whatsapp=1.0, lognormal_gaps=True)


def mb_just_above_floor(rng, ctx: Context, u: int, month: str):
    """Just above a plausible floor, SMS and WhatsApp mixed, small bursts on a few days."""
    total = ctx.floor(rng, 230, ctx.normal_messages_sent())
    days = ln.pick_days(rng, month, int(rng.integers(3, 7)))
    return msg.blast(rng, u, month, total, days=days, gap_s=(2.0, 10.0), p_reply=rng.uniform(0.05, 0.12),
                     p_whatsapp=0.4)


def mb_campaign_with_follow_up(rng, ctx: Context, u: int, month: str):
    """A campaign and its reminder: every number messaged twice, days apart; mostly SMS."""
    days = ln.pick_days(rng, month, int(rng.integers(2, 5)))
    return msg.blast(rng, u, month, int(rng.integers(250, 700)), days=days, gap_s=(1.0, 5.0),
                     p_reply=rng.uniform(0.02, 0.08), p_whatsapp=0.2, follow_up=True)


def mb_mixed_with_ordinary(rng, ctx: Context, u: int, month: str):
    """Blasting beside a working day of two-way conversations with the user's own customers."""
    days = ln.pick_days(rng, month, int(rng.integers(3, 6)))
    blast = msg.blast(rng, u, month, int(rng.integers(350, 700)), days=days, gap_s=(1.0, 6.0),
                      p_reply=rng.uniform(0.01, 0.05), p_whatsapp=0.3)
    customers = ln.new_numbers(rng, int(rng.integers(20, 40)))
    talk = msg.conversations(rng, u, month, customers, int(rng.integers(60, 150)), p_they_start=0.5, p_answer=0.8)
    return msg.concat_messages([blast, talk])


Variant = Callable[[np.random.Generator, Context, int, str], dict]

VARIANTS: dict[str, dict[str, Variant]] = {
    "auto_dialing": {
        "predictive_parallel": ad_predictive_parallel,
        "fixed_rate_robocall": ad_fixed_rate_robocall,
        "progressive_wrap": ad_progressive_wrap,
        "low_volume_regular": ad_low_volume_regular,
        "human_paced_api": ad_human_paced_api,
        "overnight_mixed": ad_overnight_mixed,
    },
    "outbound_telemarketing": {
        "cold_caller_human": tm_cold_caller_human,
        "just_above_floor": tm_just_above_floor,
        "high_volume_fast": tm_high_volume_fast,
        "evening_weekend": tm_evening_weekend,
        "redialer": tm_redialer,
        "mixed_with_ordinary": tm_mixed_with_ordinary,
        "slow_list_caller": tm_slow_list_caller,
        "slow_uneven_pace": tm_slow_uneven_pace,
        "slow_mixed_with_ordinary": tm_slow_mixed_with_ordinary,
    },
    "forwarding_to_multi_line": {
        "pbx_high_volume": fw_pbx_high_volume,
        "key_system_peaks": fw_key_system_peaks,
        "several_trunk_numbers": fw_several_trunk_numbers,
        "after_hours_service": fw_after_hours_service,
        "mixed_with_ordinary": fw_mixed_with_ordinary,
    },
    "voicemail_blasting": {
        "simultaneous_burst": vm_simultaneous_burst,
        "small_bursts": vm_small_bursts,
        "steady_drip": vm_steady_drip,
        "evening_blast": vm_evening_blast,
        "mixed_with_ordinary": vm_mixed_with_ordinary,
    },
    "bulk_call_in_line": {
        "hotline_high": bl_hotline_high,
        "small_line": bl_small_line,
        "sports_line_evenings": bl_sports_line_evenings,
        "premium_long_calls": bl_premium_long_calls,
        "mixed_with_ordinary": bl_mixed_with_ordinary,
    },
    "message_blasting": {
        "bulk_sms_bursts": mb_bulk_sms_bursts,
        "steady_whatsapp": mb_steady_whatsapp,
        "just_above_floor": mb_just_above_floor,
        "campaign_with_follow_up": mb_campaign_with_follow_up,
        "mixed_with_ordinary": mb_mixed_with_ordinary,
    },
}
