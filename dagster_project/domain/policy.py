"""Load and validate the one policy configuration; expose its version and the dbt vars derived from it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

METRICS = ("calls", "call_minutes", "team_chats", "messages")
OFFERINGS = ("calling", "chat", "messaging")


class PolicyError(ValueError):
    """The policy file is invalid; the message names the key at fault."""


@dataclass(frozen=True)
class Policy:
    version: str
    billing_initial_seconds: int
    billing_subsequent_seconds: int
    metrics: dict[str, dict[str, Any]]
    free_offerings: list[dict[str, Any]]
    estimates: dict[str, dict[str, float]]
    min_cohort_size: int
    threshold_multiple: float
    severe_multiple: float
    contact_center_minutes_per_user: float
    prohibited_use: dict[str, Any]
    raw: dict[str, Any]

    def dbt_vars(self) -> dict[str, Any]:
        """The policy as dbt vars: the only way dbt learns any threshold, rate or increment."""
        return {
            "policy_version": self.version,
            "billing_initial_seconds": self.billing_initial_seconds,
            "billing_subsequent_seconds": self.billing_subsequent_seconds,
            "min_cohort_size": self.min_cohort_size,
            "threshold_multiple": self.threshold_multiple,
            "severe_multiple": self.severe_multiple,
            "contact_center_minutes_per_user": self.contact_center_minutes_per_user,
            "prohibited_use": self.prohibited_use,
            "policy_metrics": [
                {"metric": m, "offering": cfg["offering"], "floor": float(cfg.get("floor", 0))}
                for m, cfg in self.metrics.items()
            ],
            "policy_excess_rates": [
                {"metric": m, "currency": cur, "rate": rate}
                for m, cfg in self.metrics.items()
                for cur, rate in rates_by_currency(cfg.get("excess_unit_rate")).items()
            ],
            "policy_surcharge_rates": [
                {"currency": cur, "rate": rate}
                for cur, rate in rates_by_currency(self.raw["contact_center"]["default_rate_per_minute"]).items()
            ],
            "policy_free_offerings": [
                {"country": r["country"], "plan": r["plan"], "offering": o}
                for r in self.free_offerings
                for o in r["offerings"]
            ],
            "policy_estimates": [
                {"plan": plan, "metric": m, "estimated_value": float(v)}
                for plan, per_metric in self.estimates.items()
                for m, v in per_metric.items()
            ],
        }

    def with_overrides(self, **overrides: Any) -> Policy:
        """A copy with some top-level numbers replaced (used by `fairuse simulate`)."""
        raw = yaml.safe_load(yaml.safe_dump(self.raw))
        for key, value in overrides.items():
            if value is None:
                continue
            if key == "min_cohort_size":
                raw["cohorts"]["min_cohort_size"] = value
            elif key in ("threshold_multiple", "severe_multiple"):
                raw["thresholds"][key] = value
            else:
                raise PolicyError(f"unknown override {key!r}")
        if any(v is not None for v in overrides.values()):
            raw["version"] = f"{raw['version']}+sim"
        return parse_policy(raw)


def rates_by_currency(value: Any) -> dict[str, float]:
    """A rate is a number (any currency) or a mapping currency -> number with an optional `default`.
    Returns {currency or '*': rate}."""
    if value is None:
        return {}
    if isinstance(value, dict):
        return {("*" if k == "default" else str(k)): float(v) for k, v in value.items()}
    return {"*": float(value)}


def _rate(value: Any, where: str) -> None:
    if value is None:
        return
    items = value.items() if isinstance(value, dict) else [("", value)]
    for k, v in items:
        _num(v, f"{where}.{k}" if k else where)


def _req(d: dict, key: str, where: str) -> Any:
    if not isinstance(d, dict) or key not in d:
        raise PolicyError(f"policy: missing key '{where}{key}'")
    return d[key]


def _num(value: Any, where: str, *, positive: bool = False, integer: bool = False) -> Any:
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    if integer:
        ok = ok and float(value).is_integer()
    if not ok or (positive and value <= 0) or value < 0:
        kind = "a positive" if positive else "a non-negative"
        raise PolicyError(f"policy: '{where}' must be {kind} {'integer' if integer else 'number'}, got {value!r}")
    return int(value) if integer else float(value)


# Every prohibited-use pattern: its thresholds (all required, all positive). Keys ending in _share or _ratio are
# fractions (<= 1); the other min_ keys (counts) and lengths in seconds are whole. PATTERNS: the one list of patterns.
PROHIBITED_USE_KEYS = {
    "auto_dialing": ("min_outbound_calls", "cohort_multiple", "min_gaps", "min_regular_gap_share",
                     "max_session_median_share", "min_concurrent_outbound_calls", "min_parallel_calls",
                     "min_api_share", "min_peak_calls_per_hour"),
    "outbound_telemarketing": ("min_new_number_calls", "cohort_multiple", "min_new_number_share",
                               "max_new_number_answer_ratio", "min_session_calls"),
    "forwarding_to_multi_line": ("min_forwarded_calls", "cohort_multiple", "min_concurrent_forwarded_calls",
                                 "min_overlapping_forwarded_calls"),
    "voicemail_blasting": ("min_voicemail_drops", "cohort_multiple", "window_seconds", "min_voicemails_in_window"),
    "bulk_call_in_line": ("min_direct_inbound_calls", "cohort_multiple", "min_concurrent_inbound_calls",
                          "min_overlapping_inbound_calls"),
    "message_blasting": ("min_new_recipients", "cohort_multiple", "min_new_recipient_share", "max_reply_ratio",
                         "burst_window_seconds"),
}
PATTERNS = tuple(PROHIBITED_USE_KEYS)  # the prohibited-use patterns, in the policy's order
PROHIBITED_USE_SHARED_KEYS = ("short_call_seconds", "session_gap_seconds", "regular_gap_tolerance_seconds",
                              "regular_gap_tolerance_share")
_WHOLE_SECONDS = ("short_call_seconds", "session_gap_seconds", "window_seconds", "burst_window_seconds")


def _prohibited_use_value(value: Any, where: str) -> float | int:
    """Positive; fractions (`*_share`, `*_ratio`) <= 1; counts of calls, gaps or drops and window lengths whole."""
    key = where.rsplit(".", 1)[-1]
    fraction = key.endswith(("_share", "_ratio"))
    whole = key in _WHOLE_SECONDS or (key.startswith("min_") and not fraction and not key.endswith("_per_hour"))
    out = _num(value, where, positive=True, integer=whole)
    if fraction and out > 1:
        raise PolicyError(f"policy: '{where}' is a fraction and must be <= 1, got {value!r}")
    if key == "cohort_multiple" and out < 1:
        raise PolicyError(f"policy: '{where}' must be >= 1 (a multiple of the cohort's median), got {value!r}")
    return out


def _prohibited_use(section: dict) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in PROHIBITED_USE_SHARED_KEYS:
        out[key] = _prohibited_use_value(_req(section, key, "prohibited_use."), f"prohibited_use.{key}")
    for pattern, keys in PROHIBITED_USE_KEYS.items():
        cfg = _req(section, pattern, "prohibited_use.")
        unknown = sorted(set(cfg) - set(keys)) if isinstance(cfg, dict) else []
        if unknown:
            raise PolicyError(f"policy: unknown key(s) {unknown} in 'prohibited_use.{pattern}'")
        out[pattern] = {k: _prohibited_use_value(_req(cfg, k, f"prohibited_use.{pattern}."),
                                                 f"prohibited_use.{pattern}.{k}") for k in keys}
    return out


def parse_policy(raw: dict[str, Any]) -> Policy:
    if not isinstance(raw, dict):
        raise PolicyError("policy: the file must hold a mapping")
    version = str(_req(raw, "version", ""))
    bi = _req(raw, "billing_increment", "")
    i1 = _num(_req(bi, "initial_seconds", "billing_increment."), "billing_increment.initial_seconds",
              positive=True, integer=True)
    i2 = _num(_req(bi, "subsequent_seconds", "billing_increment."), "billing_increment.subsequent_seconds",
              positive=True, integer=True)
    metrics = _req(raw, "metrics", "")
    if set(metrics) != set(METRICS):
        raise PolicyError(f"policy: 'metrics' must define exactly {list(METRICS)}, got {sorted(metrics)}")
    for m, cfg in metrics.items():
        if _req(cfg, "offering", f"metrics.{m}.") not in OFFERINGS:
            raise PolicyError(f"policy: 'metrics.{m}.offering' must be one of {list(OFFERINGS)}")
        _num(cfg.get("floor", 0), f"metrics.{m}.floor")
        _rate(cfg.get("excess_unit_rate"), f"metrics.{m}.excess_unit_rate")
    free = _req(raw, "free_offerings", "")
    for i, r in enumerate(free):
        for k in ("country", "plan", "offerings"):
            _req(r, k, f"free_offerings[{i}].")
        bad = [o for o in r["offerings"] if o not in OFFERINGS]
        if bad:
            raise PolicyError(f"policy: 'free_offerings[{i}].offerings' has unknown {bad}")
    estimates = raw.get("estimates") or {}
    for plan, per_metric in estimates.items():
        for m, v in per_metric.items():
            if m not in METRICS:
                raise PolicyError(f"policy: 'estimates.{plan}.{m}' is not a metric")
            _num(v, f"estimates.{plan}.{m}")
    cohorts = _req(raw, "cohorts", "")
    th = _req(raw, "thresholds", "")
    cc = _req(raw, "contact_center", "")
    tm = _num(_req(th, "threshold_multiple", "thresholds."), "thresholds.threshold_multiple", positive=True)
    _rate(_req(cc, "default_rate_per_minute", "contact_center."), "contact_center.default_rate_per_minute")
    sm = _num(_req(th, "severe_multiple", "thresholds."), "thresholds.severe_multiple", positive=True)
    if sm < tm:
        raise PolicyError("policy: 'thresholds.severe_multiple' must be >= 'thresholds.threshold_multiple'")
    return Policy(
        version=version,
        billing_initial_seconds=i1,
        billing_subsequent_seconds=i2,
        metrics=metrics,
        free_offerings=free,
        estimates=estimates,
        min_cohort_size=_num(_req(cohorts, "min_cohort_size", "cohorts."), "cohorts.min_cohort_size",
                             integer=True),
        threshold_multiple=tm,
        severe_multiple=sm,
        contact_center_minutes_per_user=_num(
            _req(cc, "minutes_per_user", "contact_center."), "contact_center.minutes_per_user", positive=True),
        prohibited_use=_prohibited_use(_req(raw, "prohibited_use", "")),
        raw=raw,
    )


def load_policy(path: str | Path) -> Policy:
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text())
    except FileNotFoundError as e:
        raise PolicyError(f"policy: file not found: {path}") from e
    except yaml.YAMLError as e:
        raise PolicyError(f"policy: {path} is not valid YAML: {e}") from e
    return parse_policy(raw)
