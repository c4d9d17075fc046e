"""Which policy version each month is computed with: every version in force, each from its effective month.

The history is data in the warehouse: `audit.policy_months` holds, per built month, the version it was computed
with, how it came to apply and the version's full content (so that it can be recomputed under it);
`audit.policy_versions` sums it up per version (effective month, content hash, first and last month computed).
The configured file (`--policy`, FAIRUSE_POLICY_FILE, the shipped file) is the newest version; with
`effective_from` it is in force from that month on, the versions before it stay in force for earlier months.

A month is computed with
- the version it was computed with before, when it was built already (a re-run: late data, the sensor, a
  backfill): `in_force` or `restated` as it was;
- else the latest known version (stored or configured) whose effective_from is not after the month;
- the version an operator names (`fairuse run --restate-under VERSION`, the run tag RESTATE_TAG): `restated`,
  unless it is the version in force for the month anyway.

Refused, in one line, before any work: a configured version whose name is stored with other content (a changed
policy gets a new version), a new version without effective_from (or with one already taken) once versions
are stored, and a build while the build database holds months with no policy record (built by the code before
policy versions: they are rebuilt from the raw data first, never priced without rates).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from dagster_project.domain.policy import Policy, PolicyError, parse_policy
from dagster_project.domain.settings import Settings

RESTATE_TAG = "fairuse/restate_under"  # a run tag: the version an operator restates the run's month under
IN_FORCE, RESTATED = "in_force", "restated"
_BEFORE_ANY = "0000-00"  # the effective month of a version without effective_from (a first version)

HISTORY_SQL = ("select cast(month as string), policy_version, effective_from, content_hash, applied, content "
               "from audit.policy_months")


@dataclass(frozen=True)
class Stored:
    policy: Policy
    content_hash: str


@dataclass
class History:
    """The versions stored in the warehouse and the version of each built month (YYYY-MM)."""

    versions: dict[str, Stored] = field(default_factory=dict)
    months: dict[str, tuple[str, str]] = field(default_factory=dict)  # month -> (version, applied)

    def add_rows(self, rows: list[tuple]) -> None:
        for month, version, _effective, content_hash, applied, content in rows:
            if version not in self.versions:
                policy = parse_policy(json.loads(content), f"stored policy {version}")
                self.versions[version] = Stored(policy, content_hash)
            self.months[month[:7]] = (version, applied)


def _published_rows(warehouse: Path) -> list[tuple]:
    if not warehouse.exists():
        return []
    with duckdb.connect(str(warehouse), read_only=True) as con:
        found = con.execute("select count(*) from information_schema.tables where table_schema = 'audit' "
                            "and table_name = 'policy_months'").fetchone()[0]
        return con.execute(HISTORY_SQL).fetchall() if found else []


def _build_rows(s: Settings, busy_ok: bool, table: str = "policy_months", sql: str = HISTORY_SQL) -> list[tuple]:
    """The build database's rows of `sql` on audit.`table` (months built since the last publish included); none
    before its first build or without the table. `busy_ok`: none either while another process writes it (a
    check before waiting for the warehouse)."""
    from dagster_project.domain.engine import engine_for

    if s.engine == "duckdb":
        if not s.build_db.exists():
            return []
        with duckdb.connect() as con:
            try:
                con.execute("attach ? as build (read_only)", [str(s.build_db)])
            except duckdb.IOException:
                if busy_ok:
                    return []
                raise
            found = con.execute("select count(*) from information_schema.tables where table_catalog = 'build' "
                                "and table_schema = 'audit' and table_name = ?", [table]).fetchone()[0]
            return con.execute(sql.replace("audit.", "build.audit.")).fetchall() if found else []
    try:
        return engine_for(s).build_query(s, sql)
    except Exception:  # noqa: BLE001 -- Spark: no such table yet (first build); a real fault shows in dbt next
        return []


def read_history(s: Settings, busy_ok: bool = False) -> History:
    """The published warehouse's history, then the build database's (newer where both have a month).
    `busy_ok`: the published history only when another run writes the build database (the CLI's early check;
    the run checks again, holding the warehouse)."""
    history = History()
    history.add_rows(_published_rows(s.warehouse))
    history.add_rows(_build_rows(s, busy_ok))
    return history


def unrecorded_months(s: Settings, busy_ok: bool = False) -> list[str]:
    """Months (YYYY-MM) of the build database with no row in audit.policy_months: built by the code before
    policy versions. fct_account_enforcement is rebuilt over every month and prices each with its own month's
    rates, which such a month lacks (its data test on audit.policy_months fails the build)."""
    built = {m[:7] for (m,) in _build_rows(s, busy_ok, "load_balance",
                                           "select distinct cast(month as string) from audit.load_balance")}
    return sorted(built - {row[0][:7] for row in _build_rows(s, busy_ok)})


def check_recorded(s: Settings, months: list[str], busy_ok: bool = False) -> None:
    """PolicyError (one line) when a month of the build database other than the first of `months` (YYYY-MM, the
    months about to be built, in order) has no policy record: building would rebuild every month's charges, those
    of such a month without rates."""
    first = min(months)
    missing = [m for m in unrecorded_months(s, busy_ok) if m != first]
    if not missing:
        return
    which = (f"month {missing[0]} was" if len(missing) == 1
             else f"months {missing[0]}..{missing[-1]} were")
    raise PolicyError(
        f"{which} built before policy versions (no policy record): building {first} would price "
        f"{'it' if len(missing) == 1 else 'them'} without rates; move the build folder {s.build_db.parent} aside "
        f"and run again: the published months are rebuilt from the raw data first; nothing was built")


def check_configured(configured: Policy, history: History, source: str = "policy") -> None:
    """PolicyError (one line) when the configured file cannot join the history."""
    stored = history.versions.get(configured.version)
    if stored is not None:
        if stored.content_hash != configured.content_hash():
            months = sorted(m for m, (v, _) in history.months.items() if v == configured.version)
            raise PolicyError(f"{source}: version {configured.version} already exists with different content "
                              f"(months {months[0]}..{months[-1]} were computed with it): a changed policy needs "
                              f"a new version")
        return
    if not history.versions:
        return
    if configured.effective_from is None:
        raise PolicyError(f"{source}: effective_from: missing key: version {configured.version} is new and "
                          f"versions are in force already ({_listing(history)}); give the first month "
                          f"(YYYY-MM) it applies to")
    for name, other in history.versions.items():
        if other.policy.effective_from == configured.effective_from:
            raise PolicyError(f"{source}: effective_from {configured.effective_from} is already that of "
                              f"version {name}: one version per effective month")


def _listing(history: History) -> str:
    return ", ".join(f"{v} from {s.policy.effective_from or 'the first month'}"
                     for v, s in sorted(history.versions.items(), key=lambda kv: _effective(kv[1].policy)))


def _effective(policy: Policy) -> str:
    return policy.effective_from or _BEFORE_ANY


def known_versions(configured: Policy, history: History) -> dict[str, Policy]:
    return {**{v: s.policy for v, s in history.versions.items()}, configured.version: configured}


def in_force(month: str, versions: dict[str, Policy]) -> Policy:
    """The latest version whose effective_from is not after `month` (YYYY-MM)."""
    candidates = [p for p in versions.values() if _effective(p) <= month]
    if not candidates:
        first = min(versions.values(), key=_effective)
        raise PolicyError(f"policy: no version is in force for {month} (the first, {first.version}, applies from "
                          f"{first.effective_from})")
    return max(candidates, key=_effective)


def policy_for_month(month: str, configured: Policy, history: History, restate_under: str | None = None,
                     source: str = "policy") -> tuple[Policy, str]:
    """The version `month` (YYYY-MM) is computed with and how it applies (IN_FORCE or RESTATED)."""
    check_configured(configured, history, source)
    versions = known_versions(configured, history)
    if restate_under:
        if restate_under not in versions:
            raise PolicyError(f"--restate-under {restate_under}: no such policy version (known: "
                              f"{', '.join(sorted(versions))})")
        chosen = versions[restate_under]
        return chosen, IN_FORCE if chosen.version == in_force(month, versions).version else RESTATED
    if month in history.months:
        version, applied = history.months[month]
        return versions[version], applied
    return in_force(month, versions), IN_FORCE


def month_versions(con: duckdb.DuckDBPyConnection) -> dict[str, tuple[str, str]]:
    """month (YYYY-MM) -> (version, applied) from a warehouse connection; {} before its first build."""
    found = con.execute("select count(*) from information_schema.tables where table_schema = 'audit' "
                        "and table_name = 'policy_months'").fetchone()[0]
    if not found:
        return {}
    return {m[:7]: (v, a) for m, v, a in con.execute(
        "select cast(month as varchar), policy_version, applied from audit.policy_months").fetchall()}
