"""Accounts and users: countries, plans (some cohorts small), contact centers, lifecycles, snapshots."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

COUNTRIES = np.array(["NZ", "AU", "GB", "US", "IE", "CA"])
COUNTRY_WEIGHTS = np.array([0.30, 0.28, 0.16, 0.14, 0.07, 0.05])
CURRENCY = {"NZ": "NZD", "AU": "AUD", "GB": "GBP", "US": "USD", "IE": "EUR", "CA": "CAD"}
DIAL_CODE = {"NZ": 64, "AU": 61, "GB": 44, "US": 1, "IE": 353, "CA": 1}
PLANS = np.array(["pro", "standard", "lite", "unlimited"])
PLAN_WEIGHTS = np.array([0.45, 0.30, 0.17, 0.08])
# How much ordinary users call, by market (weighted means ~1, so the data's size does not move): prohibited-use
# volume is judged against each cohort's own normal, so the markets must differ.
COUNTRY_CALLING = {"NZ": 0.9, "AU": 0.95, "GB": 1.0, "US": 1.25, "IE": 0.9, "CA": 1.1}
PLAN_CALLING = {"pro": 1.15, "standard": 0.85, "lite": 0.5, "unlimited": 1.8}


@dataclass
class Population:
    # accounts
    account_id: np.ndarray
    account_name: np.ndarray
    country: np.ndarray
    plan: np.ndarray
    declared_cc: np.ndarray
    agreed_on: np.ndarray  # datetime64[D] or NaT
    rate: np.ndarray  # float, nan = policy default
    plan_change_to: np.ndarray  # plan from the second month on ("" = none)
    # users
    user_id: np.ndarray
    user_account: np.ndarray  # index into accounts
    created_us: np.ndarray
    deactivated_us: np.ndarray  # int64, -1 = never
    user_number: np.ndarray  # int64 national digits
    activity: np.ndarray  # multiplier of the base volume (heavy tail)
    # special accounts (role -> account index)
    roles: dict[str, int]


def calling_multiplier(pop: Population) -> np.ndarray:
    """Per user: how much more (or less) than average the users of its country x plan call."""
    acc = np.array([COUNTRY_CALLING[c] * PLAN_CALLING[p] for c, p in zip(pop.country, pop.plan, strict=True)])
    return acc[pop.user_account]


def _us(d: np.datetime64) -> int:
    return int(np.datetime64(d, "us").astype(np.int64))


def build_population(rng: np.random.Generator, n_users: int, months: list[str]) -> Population:
    first = np.datetime64(months[0] + "-01", "D")
    last_end = np.datetime64(months[-1] + "-01", "M") + np.timedelta64(1, "M")
    last_end = np.datetime64(last_end, "D")

    # Special accounts first, then ordinary ones until every user has an account.
    special = [  # role, country, plan, agents, declared, agreed_on, rate
        ("cc_declared_agreed", "NZ", "pro", 10, True, months[min(1, len(months) - 1)] + "-15", np.nan),
        ("cc_declared_pending", "AU", "pro", 6, True, None, np.nan),
        ("cc_undeclared", "AU", "unlimited", 8, False, None, np.nan),
        ("cc_custom_rate", "GB", "pro", 5, True, "2024-06-01", 0.0075),
    ]
    sizes, countries, plans, declared, agreed, rates = [], [], [], [], [], []
    for _, c, p, n, d, a, r in special:
        sizes.append(n)
        countries.append(c)
        plans.append(p)
        declared.append(d)
        agreed.append(np.datetime64(a, "D") if a else np.datetime64("NaT", "D"))
        rates.append(r)
    remaining = n_users - sum(sizes)
    while remaining > 0:
        size = int(min(remaining, max(1, round(rng.pareto(1.3) * 3 + 1))))
        size = min(size, 60)
        sizes.append(size)
        countries.append(str(rng.choice(COUNTRIES, p=COUNTRY_WEIGHTS)))
        plans.append(str(rng.choice(PLANS, p=PLAN_WEIGHTS)))
        declared.append(False)
        agreed.append(np.datetime64("NaT", "D"))
        rates.append(np.nan)
        remaining -= size
    n_acc = len(sizes)
    acc_ids = np.array([f"acc-{i:05d}" for i in range(n_acc)])
    names = np.array([f"Customer {i:05d} Ltd" for i in range(n_acc)])
    plan_change = np.full(n_acc, "", dtype=object)
    if len(months) > 1:  # a few ordinary accounts change plan from the second month (snapshot choice matters)
        for i in rng.choice(np.arange(len(special), n_acc), size=min(5, n_acc - len(special)), replace=False):
            plan_change[i] = "pro" if plans[i] != "pro" else "standard"

    user_account = np.repeat(np.arange(n_acc), sizes)
    n = len(user_account)
    span_us = _us(last_end) - _us(first)
    created = _us(first) - rng.integers(30, 900, n) * 86_400_000_000
    joiners = rng.random(n) < 0.08
    created[joiners] = _us(first) + (rng.random(joiners.sum()) * span_us * 0.9).astype(np.int64)
    deactivated = np.full(n, -1, dtype=np.int64)
    leavers = (rng.random(n) < 0.05) & ~joiners
    deactivated[leavers] = _us(first) + (rng.random(leavers.sum()) * span_us).astype(np.int64)
    activity = rng.lognormal(mean=0.0, sigma=0.8, size=n)
    roles = {role: i for i, (role, *_) in enumerate(special)}
    for role in roles:  # agents are never joiners or leavers: stable contact centers
        members = user_account == roles[role]
        created[members] = _us(first) - 400 * 86_400_000_000
        deactivated[members] = -1
    return Population(
        account_id=acc_ids, account_name=names, country=np.array(countries), plan=np.array(plans),
        declared_cc=np.array(declared), agreed_on=np.array(agreed, dtype="datetime64[D]"),
        rate=np.array(rates, dtype=float), plan_change_to=plan_change,
        user_id=np.array([f"u-{i:06d}" for i in range(n)]), user_account=user_account,
        created_us=created, deactivated_us=deactivated,
        user_number=200_000_000 + np.arange(n, dtype=np.int64) * 7 + rng.integers(0, 7, n),
        activity=activity, roles=roles,
    )
