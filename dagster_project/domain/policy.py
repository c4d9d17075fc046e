"""The one policy configuration as a schema (pydantic): load, validate, expose its version and dbt vars.

`PolicyFile` declares every section and key with its type and range; an unknown key is refused at every level
(with "did you mean ...?" for a near miss), a required key is required. An error is ONE line naming the key's full
path, e.g. `metrics.calls.excess_unit_rates: unknown key (did you mean excess_unit_rate?)` (PolicyError).

Adding a key: declare it on its section's model with a default (`Field(default, description=...)`): a policy
written before the key existed still validates, and docs/POLICY.md's generated tables show the default. A new
section: a `_Section` subclass and a field with `default_factory` on `PolicyFile`.

Countries, plans and currencies named in the policy are data, not schema: `named_reference_values` lists them for
the check against a month's reference snapshots (domain/policy_reference.py).
"""

from __future__ import annotations

import difflib
import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    model_validator,
)
from pydantic_core import PydanticCustomError

OFFERINGS = ("calling", "chat", "messaging")
Offering = Literal["calling", "chat", "messaging"]


class PolicyError(ValueError):
    """The policy file is invalid; the message names the key at fault."""


class _Section(BaseModel):
    """A mapping of the policy file: unknown keys refused with the nearest declared key suggested."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    @model_validator(mode="before")
    @classmethod
    def _known_keys(cls, data: Any) -> Any:
        if isinstance(data, dict):
            known = list(cls.model_fields)
            for key in data:
                if key not in known:
                    near = difflib.get_close_matches(str(key), known, n=1, cutoff=0.6)
                    hint = f" (did you mean {near[0]}?)" if near else f" (known: {', '.join(known)})"
                    raise PydanticCustomError("unknown_key", "unknown key{hint}", {"key": key, "hint": hint})
        return data


# ---------------------------------------------------------------- value types

Count = Annotated[int, Field(gt=0)]  # a whole number > 0 (calls, gaps, seconds)
Positive = Annotated[float, Field(gt=0)]
NonNegative = Annotated[float, Field(ge=0)]
Fraction = Annotated[float, Field(gt=0, le=1)]  # a share or ratio, 0 < x <= 1
Multiple = Annotated[float, Field(ge=1)]  # a multiple of a cohort's median, >= 1


def _iso_code(kind: str, lookup: str) -> Any:
    """A validator that the code (already in the right shape) is one ISO assigns: pycountry's ISO 4217 and 3166
    tables, so a well-formed typo (GPB for GBP) is refused rather than a cohort or a rate left unused."""

    def check(value: str) -> str:
        import pycountry

        if value not in ("default", "*") and getattr(pycountry, kind).get(**{lookup: value}) is None:
            name = "ISO 4217 currency" if kind == "currencies" else "ISO 3166 alpha-2 country"
            raise PydanticCustomError("unknown_code", f"{value!r} is not an {name} code")  # shape checked: no braces
        return value

    return AfterValidator(check)


Currency = Annotated[str, StringConstraints(pattern=r"^([A-Z]{3}|default)$"), _iso_code("currencies", "alpha_3")]
Country = Annotated[str, StringConstraints(pattern=r"^([A-Z]{2}|\*)$"), _iso_code("countries", "alpha_2")]
# A rate: a number (any currency) or a mapping currency (ISO 4217, e.g. GBP) -> number with an optional `default`.
Rate = NonNegative | dict[Currency, NonNegative]


def _version_text(value: Any) -> Any:
    return str(value) if isinstance(value, int | float) and not isinstance(value, bool) else value


# ---------------------------------------------------------------- sections


class BillingIncrement(_Section):
    initial_seconds: Count = Field(description="I1: seconds billed for the first chunk of a call")
    subsequent_seconds: Count = Field(description="I2: seconds of each later chunk")


class MetricRule(_Section):
    offering: Offering = Field(description="the offering the metric belongs to (policed only where it is free)")
    floor: NonNegative = Field(0.0, description="a user is never flagged below this monthly value")
    excess_unit_rate: Rate | None = Field(None, description="charge per unit above the threshold; none = no charge")


class Metrics(_Section):
    """The policed metrics: exactly those the pipeline computes (int_user_metrics__monthly)."""

    calls: MetricRule
    call_minutes: MetricRule
    team_chats: MetricRule
    messages: MetricRule


class FreeOffering(_Section):
    country: Country = Field(
        description='ISO 3166 alpha-2 country of the accounts, or "*" for any')
    plan: Annotated[str, StringConstraints(min_length=1)] = Field(description="the accounts' plan")
    offerings: Annotated[list[Offering], Field(min_length=1)] = Field(description="what is free for them")


class Estimate(_Section):
    """A plan's estimated monthly use per user; a metric left out has no estimate."""

    calls: NonNegative | None = Field(None, description="estimated calls per user and month")
    call_minutes: NonNegative | None = Field(None, description="estimated billable call minutes per user and month")
    team_chats: NonNegative | None = Field(None, description="estimated team chats per user and month")
    messages: NonNegative | None = Field(None, description="estimated messages per user and month")


class Cohorts(_Section):
    min_cohort_size: Annotated[int, Field(ge=0)] = Field(
        description="other users a cohort level needs (country x plan, then plan, then all)")


class Thresholds(_Section):
    threshold_multiple: Positive = Field(description='"materially exceed": ratio to the reference at least this')
    severe_multiple: Positive = Field(description="severity `severe` from this ratio (>= threshold_multiple)")

    @model_validator(mode="after")
    def _severe_not_below(self) -> Thresholds:
        if self.severe_multiple < self.threshold_multiple:
            raise PydanticCustomError("severe_below", "must be >= thresholds.threshold_multiple ({t}), got {s}",
                                      {"key": "severe_multiple", "t": self.threshold_multiple,
                                       "s": self.severe_multiple})
        return self


class ContactCenter(_Section):
    minutes_per_user: Positive = Field(description="inbound + outbound minutes per user that make a contact center")
    default_rate_per_minute: Rate = Field(description="surcharge per minute when the account has no rate of its own")


class AutoDialing(_Section):
    min_outbound_calls: Count = Field(description="volume floor: outbound calls in the month")
    cohort_multiple: Multiple = Field(description="volume also >= this x the cohort median user's")
    min_gaps: Count = Field(description="regularity judged on at least this many gaps between outbound calls")
    min_regular_gap_share: Fraction = Field(description="share of machine-regular gaps")
    max_session_median_share: Fraction = Field(
        description="... or within dialing sessions whose median gap is at most this share of the session gap")
    min_concurrent_outbound_calls: Count = Field(description="outbound calls in progress at once")
    min_parallel_calls: Count = Field(description="... on at least this many calls of the month")
    min_api_share: Fraction = Field(description="share of calls placed through the API")
    min_peak_calls_per_hour: Positive = Field(
        description="outbound calls started within any 60 minutes (sliding: [t, t + 3600 s))")


class OutboundTelemarketing(_Section):
    min_new_number_calls: Count = Field(description="volume floor: calls to numbers new to the account")
    cohort_multiple: Multiple = Field(description="volume also >= this x the cohort median user's")
    min_new_number_share: Fraction = Field(description="share of outbound calls to new numbers")
    max_new_number_answer_ratio: Fraction = Field(description="answered / attempted, of calls to new numbers")
    min_session_calls: Count = Field(description="the traits are also judged per session of this many calls")


class ForwardingToMultiLine(_Section):
    min_forwarded_calls: Count = Field(description="volume floor: forwarded calls")
    cohort_multiple: Multiple = Field(description="volume also >= this x the cohort median user's")
    min_concurrent_forwarded_calls: Count = Field(description="calls forwarded to one number in talk at once")
    min_overlapping_forwarded_calls: Count = Field(description="... on at least this many calls of the month")


class VoicemailBlasting(_Section):
    min_voicemail_drops: Count = Field(description="volume floor: voicemail drops")
    cohort_multiple: Multiple = Field(description="volume also >= this x the cohort median user's")
    window_seconds: Count = Field(
        description="the sliding window the drops are counted in: [t, t + this) after a drop at t")
    min_voicemails_in_window: Count = Field(description="drops started within one window")


class BulkCallInLine(_Section):
    min_direct_inbound_calls: Count = Field(description="volume floor: direct (not forwarded) inbound calls")
    cohort_multiple: Multiple = Field(description="volume also >= this x the cohort median user's")
    min_concurrent_inbound_calls: Count = Field(description="direct inbound calls in talk at once")
    min_overlapping_inbound_calls: Count = Field(description="... on at least this many calls of the month")


class MessageBlasting(_Section):
    min_new_recipients: Count = Field(description="volume floor: numbers the user messaged first this month")
    cohort_multiple: Multiple = Field(description="volume also >= this x the cohort median user's")
    min_new_recipient_share: Fraction = Field(description="share of the numbers messaged that are new")
    max_reply_ratio: Fraction = Field(description="share of the new numbers that wrote back this month")
    burst_window_seconds: Count = Field(
        description="evidence only: the most messages sent in [t, t + this) after one sent at t")


class ProhibitedUse(_Section):
    short_call_seconds: Count = Field(description="an answered call this short or shorter is a short call")
    session_gap_seconds: Count = Field(description="a longer gap between outbound calls ends a dialing session")
    regular_gap_tolerance_seconds: Positive = Field(description="a gap is regular within max(this, share x median)")
    regular_gap_tolerance_share: Fraction = Field(description="... of the user's median gap")
    auto_dialing: AutoDialing
    outbound_telemarketing: OutboundTelemarketing
    forwarding_to_multi_line: ForwardingToMultiLine
    voicemail_blasting: VoicemailBlasting
    bulk_call_in_line: BulkCallInLine
    message_blasting: MessageBlasting


class PolicyFile(_Section):
    """policy/fair_use_policy.yaml as a whole."""

    version: Annotated[str, BeforeValidator(_version_text), StringConstraints(min_length=1)] = Field(
        description="stamped on every row computed with the file; bump it on every change")
    effective_from: Annotated[str, StringConstraints(pattern=r"^\d{4}-(0[1-9]|1[0-2])$")] | None = Field(
        None, description="first month (YYYY-MM) computed with this version; earlier months keep the versions in "
                          "force for them (none: every month, for the first version only)")
    billing_increment: BillingIncrement
    metrics: Metrics
    free_offerings: list[FreeOffering]
    estimates: dict[Annotated[str, StringConstraints(min_length=1)], Estimate] = Field(
        default_factory=dict, description="per plan: estimated monthly use per user and metric")
    cohorts: Cohorts
    thresholds: Thresholds
    contact_center: ContactCenter
    prohibited_use: ProhibitedUse


# The metrics the pipeline computes and the prohibited-use patterns, in the policy's order (from the schema).
METRICS = tuple(Metrics.model_fields)
_PATTERN_MODELS = {name: f.annotation for name, f in ProhibitedUse.model_fields.items()
                   if isinstance(f.annotation, type) and issubclass(f.annotation, _Section)}
PROHIBITED_USE_KEYS = {name: tuple(model.model_fields) for name, model in _PATTERN_MODELS.items()}
PATTERNS = tuple(PROHIBITED_USE_KEYS)
PROHIBITED_USE_SHARED_KEYS = tuple(k for k in ProhibitedUse.model_fields if k not in PROHIBITED_USE_KEYS)


# ---------------------------------------------------------------- errors as one line


# The tags pydantic puts in an error's location for a member of a union or a constrained type (not keys).
_TAG = re.compile(r"^(constrained-|function-)|[\[\],]|^(float|int|str|bool|none)$")


def _path(loc: tuple) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif not _TAG.search(str(part)):
            out += f".{part}" if out else str(part)
    return out


def _n(x: Any) -> Any:
    return int(x) if isinstance(x, float) and x.is_integer() else x


_KIND = {
    "missing": lambda e: "missing key",
    "unknown_key": lambda e: e["msg"],
    "extra_forbidden": lambda e: "unknown key",
    "greater_than": lambda e: f"must be a positive number (> {_n(e['ctx']['gt'])}), got {e['input']!r}",
    "greater_than_equal": lambda e: f"must be >= {_n(e['ctx']['ge'])}, got {e['input']!r}",
    "less_than_equal": lambda e: f"is a fraction and must be <= {_n(e['ctx']['le'])}, got {e['input']!r}",
    "int_type": lambda e: f"must be a whole number (integer), got {e['input']!r}",
    "int_from_float": lambda e: f"must be a whole number (integer), got {e['input']!r}",
    "float_type": lambda e: f"must be a number, got {e['input']!r}",
    "string_type": lambda e: f"must be text, got {e['input']!r}",
    "literal_error": lambda e: f"must be one of {e['ctx']['expected']}, got {e['input']!r}",
    "model_type": lambda e: f"must be a mapping of keys, got {e['input']!r}",
    "model_attributes_type": lambda e: f"must be a mapping of keys, got {e['input']!r}",
    "dict_type": lambda e: f"must be a mapping, got {e['input']!r}",
    "list_type": lambda e: f"must be a list, got {e['input']!r}",
    "too_short": lambda e: f"must not be empty, got {e['input']!r}",
}


def _describe(e: dict) -> str:
    if e["type"] == "string_pattern_mismatch":
        what = {"country": 'an ISO 3166 alpha-2 country code in capitals (e.g. GB) or "*"',
                "effective_from": "a month YYYY-MM (e.g. 2027-01)"}.get(
            str(e["loc"][-1]), "an ISO 4217 currency code in capitals (e.g. GBP) or `default`")
        return f"must be {what}, got {e['input']!r}"
    return _KIND.get(e["type"], lambda e: e["msg"])(e)


def _one_line(err: ValidationError) -> str:
    """The first error, as `path.to.key: what is wrong`. For a value that may take two forms (a rate), the
    error of the form that was written (a mapping or a number)."""
    errors = err.errors()
    e = errors[0]
    if e["type"] == "float_type" and isinstance(e["input"], dict):  # a rate written as a mapping: its own errors
        nested = [x for x in errors if len(x["loc"]) > len(e["loc"]) and x["loc"][:len(e["loc"]) - 1] == e["loc"][:-1]]
        e = nested[0] if nested else e
    loc = tuple(e["loc"])
    if "key" in (e.get("ctx") or {}):  # our own errors name the key within the mapping at `loc`
        loc = (*loc, e["ctx"]["key"])
    return f"{_path(loc) or 'policy'}: {_describe(e)}"


# ---------------------------------------------------------------- the Policy the pipeline uses


@dataclass(frozen=True)
class Policy:
    version: str
    effective_from: str | None
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
    model: PolicyFile

    def content(self) -> str:
        """The version's full content (every key, defaults included) as canonical JSON: what is stored with it."""
        return json.dumps(self.model.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))

    def content_hash(self) -> str:
        """sha256 of `content()`: a version's name must always mean this content."""
        return hashlib.sha256(self.content().encode("utf-8")).hexdigest()

    def dbt_vars(self) -> dict[str, Any]:
        """The policy as dbt vars: the only way dbt learns any threshold, rate or increment."""
        return {
            "policy_version": self.version,
            "policy_effective_from": self.effective_from or "",
            "policy_content_hash": self.content_hash(),
            "policy_content": self.content(),
            "billing_initial_seconds": self.billing_initial_seconds,
            "billing_subsequent_seconds": self.billing_subsequent_seconds,
            "min_cohort_size": self.min_cohort_size,
            "threshold_multiple": self.threshold_multiple,
            "severe_multiple": self.severe_multiple,
            "contact_center_minutes_per_user": self.contact_center_minutes_per_user,
            "prohibited_use": self.prohibited_use,
            "policy_metrics": [
                {"metric": m, "offering": cfg["offering"], "floor": float(cfg["floor"])}
                for m, cfg in self.metrics.items()
            ],
            "policy_excess_rates": [
                {"metric": m, "currency": cur, "rate": rate}
                for m, cfg in self.metrics.items()
                for cur, rate in rates_by_currency(cfg.get("excess_unit_rate")).items()
            ],
            "policy_surcharge_rates": [
                {"currency": cur, "rate": rate}
                for cur, rate in rates_by_currency(self.model.contact_center.default_rate_per_minute).items()
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
        """A copy with some top-level numbers replaced (used by `fairuse simulate`), validated again."""
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

    def settings_table(self) -> list[tuple[str, Any, bool]]:
        """Every key the policy sets, as (full path, value, written in the file), defaults included."""
        written = {path for path, _ in _leaves(self.raw)}
        return [(path, value, path in written) for path, value in _leaves(self.model.model_dump(mode="json"))]


def describe(policy: Policy, source: str | Path) -> str:
    """What `fairuse policy check` prints: the file is valid, and every key with the value it takes."""
    rows = policy.settings_table()
    lines = [f"{source}: valid (version {policy.version}; {len(rows)} keys, "
             f"{sum(not w for _, _, w in rows)} from their defaults)"]
    width = max(len(p) for p, _, _ in rows)
    for path, value, written in rows:
        shown = "-" if value is None else json.dumps(value) if isinstance(value, dict | list) else value
        lines.append(f"  {path:<{width}}  {shown}{'' if written else '   (default)'}")
    return "\n".join(lines)


def _leaves(value: Any, path: str = ""):
    if isinstance(value, dict) and value and not _is_rate_mapping(path):
        for k, v in value.items():
            yield from _leaves(v, f"{path}.{k}" if path else str(k))
    elif isinstance(value, list) and value and isinstance(value[0], dict):
        for i, v in enumerate(value):
            yield from _leaves(v, f"{path}[{i}]")
    else:
        yield path, value


def _is_rate_mapping(path: str) -> bool:
    return path.endswith(("excess_unit_rate", "default_rate_per_minute"))


def rates_by_currency(value: Any) -> dict[str, float]:
    """A rate is a number (any currency) or a mapping currency -> number with an optional `default`.
    Returns {currency or '*': rate}."""
    if value is None:
        return {}
    if isinstance(value, dict):
        return {("*" if k == "default" else str(k)): float(v) for k, v in value.items()}
    return {"*": float(value)}


def named_reference_values(policy: Policy) -> dict[str, dict[str, set[str]]]:
    """Countries, plans and currencies the policy names, each with the keys naming it:
    {"country": {"NZ": {"free_offerings[3].country"}}, "plan": {...}, "currency": {...}}."""
    out: dict[str, dict[str, set[str]]] = {"country": {}, "plan": {}, "currency": {}}
    m = policy.model
    for i, r in enumerate(m.free_offerings):
        if r.country != "*":
            out["country"].setdefault(r.country, set()).add(f"free_offerings[{i}].country")
        out["plan"].setdefault(r.plan, set()).add(f"free_offerings[{i}].plan")
    for plan in m.estimates:
        out["plan"].setdefault(plan, set()).add(f"estimates.{plan}")
    rates = {f"metrics.{name}.excess_unit_rate": getattr(m.metrics, name).excess_unit_rate for name in METRICS}
    rates["contact_center.default_rate_per_minute"] = m.contact_center.default_rate_per_minute
    for where, rate in rates.items():
        for cur in rates_by_currency(rate):
            if cur != "*":
                out["currency"].setdefault(cur, set()).add(f"{where}.{cur}")
    return out


def parse_policy(raw: Any, source: str = "policy") -> Policy:
    """Validate a policy (the YAML as Python values); PolicyError in one line naming the key:
    `<source>: <path.to.key>: <what is wrong>`."""
    if not isinstance(raw, dict):
        raise PolicyError(f"{source}: the file must hold a mapping of sections")
    try:
        model = PolicyFile.model_validate(raw)
    except ValidationError as e:
        raise PolicyError(f"{source}: {_one_line(e)}") from None
    return Policy(
        version=model.version,
        effective_from=model.effective_from,
        billing_initial_seconds=model.billing_increment.initial_seconds,
        billing_subsequent_seconds=model.billing_increment.subsequent_seconds,
        metrics={name: getattr(model.metrics, name).model_dump() for name in METRICS},
        free_offerings=[r.model_dump() for r in model.free_offerings],
        estimates={plan: e.model_dump(exclude_none=True) for plan, e in model.estimates.items()},
        min_cohort_size=model.cohorts.min_cohort_size,
        threshold_multiple=model.thresholds.threshold_multiple,
        severe_multiple=model.thresholds.severe_multiple,
        contact_center_minutes_per_user=model.contact_center.minutes_per_user,
        prohibited_use=model.prohibited_use.model_dump(),
        raw=raw,
        model=model,
    )


def _key_written_twice(node: yaml.Node | None, path: str = "") -> str | None:
    """The first key written twice in one mapping, as `full.path (lines N and M)`: plain YAML keeps the last one
    silently, so a second `threshold_multiple` further down would win over the one its author reads."""
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            key = str(key_node.value)
            where = f"{path}.{key}" if path else key
            if key in seen:
                return f"{where} (lines {seen[key]} and {key_node.start_mark.line + 1})"
            seen[key] = key_node.start_mark.line + 1
            found = _key_written_twice(value_node, where)
            if found:
                return found
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            found = _key_written_twice(item, f"{path}[{i}]")
            if found:
                return found
    return None


def load_policy(path: str | Path) -> Policy:
    path = Path(path)
    try:
        loader = yaml.SafeLoader(path.read_text())
        try:  # parsed once: the node tree for the duplicate-key check, then built into data (as yaml.safe_load)
            node = loader.get_single_node()
            twice = _key_written_twice(node)
            raw = loader.construct_document(node) if node is not None else None
        finally:
            loader.dispose()
    except FileNotFoundError as e:
        raise PolicyError(f"policy: file not found: {path}") from e
    except yaml.YAMLError as e:
        raise PolicyError(f"policy {path}: not valid YAML: {' '.join(str(e).split())}") from e
    if twice:
        raise PolicyError(f"policy {path}: {twice}: a key written twice (YAML would keep the last silently)")
    return parse_policy(raw, f"policy {path}")
