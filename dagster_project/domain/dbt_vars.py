"""dbt vars for one month: a pure function of the partition key and the policy (unit-tested)."""

from __future__ import annotations

import re
from typing import Any

from dagster_project.domain.policy import Policy

_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


def month_start(partition_key: str) -> str:
    """'2026-01' -> '2026-01-01'. Rejects anything that is not a YYYY-MM month."""
    if not _MONTH.match(partition_key or ""):
        raise ValueError(f"not a month partition key (YYYY-MM): {partition_key!r}")
    return f"{partition_key}-01"


def dbt_vars_for_month(partition_key: str, policy: Policy, applied: str = "in_force") -> dict[str, Any]:
    """Everything a dbt run of one month needs: the month and the policy version it is computed with
    (domain/policy_versions.py), and how that version came to apply (`in_force` or `restated`)."""
    return {"month": month_start(partition_key), **policy.dbt_vars(), "policy_applied": applied}
