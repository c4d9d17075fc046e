"""The documentation for its readers: README.md (the front door) and the guides under docs/.

Fast: no internal issue numbers; every relative link and anchor resolves; each reader's guide is one click from
the README; every shell block is runnable or explicitly marked to skip; the dbt exposures name exactly the tables
their code reads; every mart and audit table and column is described.
Slow: every documented shell block runs, in the order a reader meets them, on a fresh copy of the repository
(`make demo` sized down by DEMO_ARGS), and `make docs` works on a fresh copy without data."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest

from tests.conftest import REPO

# The order a reader meets them: the front door, then each reader's guide.
GUIDES = ["analysts", "operators", "finance", "policy-owners", "developers"]
READING_ORDER = [REPO / "README.md", *(REPO / "docs" / f"{g}.md" for g in GUIDES)]
LINK = re.compile(r"\]\(([^)\s]+)\)")


def linked_docs(start: Path = REPO / "README.md") -> list[Path]:
    """Every text file of the repository a reader reaches by following relative links from the README (Markdown
    files are followed further): the guides, but also e.g. tests/conformance/README.md and the policy file."""
    seen, todo = set(), [start]
    while todo:
        doc = todo.pop()
        if doc in seen:
            continue
        seen.add(doc)
        if doc.suffix != ".md":
            continue
        for target in LINK.findall(doc.read_text()):
            path = target.partition("#")[0]
            dest = (doc.parent / path).resolve() if path and not re.match(r"^[a-z]+:", target) else None
            if dest and dest.is_file() and dest.is_relative_to(REPO) and dest.suffix in (".md", ".yaml", ".yml"):
                todo.append(dest)
    return sorted(seen)


USER_DOCS = sorted({REPO / "README.md", REPO / "BENCHMARKS.md", REPO / "SPARK_BENCH_NOTES.md",
                    *(REPO / "docs").glob("*.md"), *(d for d in linked_docs() if d.suffix == ".md")})
# The dbt project's descriptions (models, columns, exposures: the docs site and the warehouse's comments).
DBT_DOCS = sorted(p for ext in ("yml", "md") for p in (REPO / "dbt_models").rglob(f"*.{ext}")
                  if not {"target", "dbt_packages"} & set(p.relative_to(REPO / "dbt_models").parts))

ISSUE_NUMBER = re.compile(r"\b(issues?|PR|pull request)\s*#?\d+|(^|\s)#\d+\b", re.IGNORECASE)
FENCE = re.compile(r"^```(sh|bash|shell|console)\s*$")
MARKER = re.compile(r"^<!-- docs-test: (.*?) -->$")
SKIP = re.compile(r"^skip \((.+)\)$")
DEMO_ARGS = "--users 200 --months 2026-09..2026-10 --calls-per-user 20"


@dataclass
class Block:
    doc: Path
    line: int  # of the opening fence, 1-based
    text: str
    skip: str | None  # the reason, when marked to skip

    def where(self) -> str:
        return f"{self.doc.relative_to(REPO)}:{self.line}"


def shell_blocks(doc: Path) -> list[Block]:
    """The sh/bash/shell/console blocks of a Markdown file, each with the marker on the line before it."""
    lines = doc.read_text().split("\n")
    blocks, i = [], 0
    while i < len(lines):
        if FENCE.match(lines[i]):
            start, body = i, []
            i += 1
            while i < len(lines) and lines[i].strip() != "```":
                body.append(lines[i])
                i += 1
            if FENCE.match(lines[start]).group(1) == "console":  # only the prompts' lines are commands
                body = [ln[2:] for ln in body if ln.startswith("$ ")]
            marker = MARKER.match(lines[start - 1]) if start else None
            skip = SKIP.match(marker.group(1)).group(1) if marker and SKIP.match(marker.group(1)) else None
            blocks.append(Block(doc, start + 1, "\n".join(body), skip))
        i += 1
    return blocks


def github_anchors(doc: Path) -> set[str]:
    """The anchors a Markdown file has on GitHub: its headings' slugs and explicit <a id=...>."""
    text = doc.read_text()
    anchors = set(re.findall(r'<a id="([^"]+)"', text))
    seen: dict[str, int] = {}
    for heading in re.findall(r"^#{1,6} +(.+?)\s*$", text, re.MULTILINE):
        slug = re.sub(r"[^\w\- ]", "", heading.replace("`", "").lower()).replace(" ", "-")
        n = seen.get(slug, 0)
        seen[slug] = n + 1
        anchors.add(slug if n == 0 else f"{slug}-{n}")
    return anchors


# ---------------------------------------------------------------------------------------------------------------
# Fast


def test_no_internal_issue_numbers_in_the_documentation():
    docs = sorted({*USER_DOCS, *linked_docs(), *DBT_DOCS})
    found = [f"{doc.relative_to(REPO)}:{n}: {line.strip()}"
             for doc in docs for n, line in enumerate(doc.read_text().split("\n"), 1)
             if ISSUE_NUMBER.search(line)]
    assert not found, "internal issue numbers mean nothing to a reader:\n" + "\n".join(found)


def test_the_issue_number_check_reads_every_linked_doc_and_the_dbt_descriptions():
    linked = {str(d.relative_to(REPO)) for d in linked_docs()}
    assert {"README.md", "docs/operators.md", "docs/WATCH.md", "tests/conformance/README.md",
            "policy/fair_use_policy.yaml"} <= linked
    dbt = {str(d.relative_to(REPO)) for d in DBT_DOCS}
    assert "dbt_models/models/exposures.yml" in dbt and "dbt_models/models/marts/watch/_watch.yml" in dbt
    assert not any("/target/" in d for d in dbt)


def test_the_issue_number_check_finds_one():
    assert ISSUE_NUMBER.search("The Spark engine (issue 11)") and ISSUE_NUMBER.search("fixed in #12")
    assert not ISSUE_NUMBER.search("CONTRACT §3.4, 26 M events, policy version 2026-10")


def test_every_relative_link_and_anchor_resolves():
    broken = []
    for doc in USER_DOCS:
        for target in LINK.findall(doc.read_text()):
            if re.match(r"^[a-z]+:", target):
                continue  # https:, mailto:
            path, _, anchor = target.partition("#")
            dest = (doc.parent / path).resolve() if path else doc
            if not dest.exists():
                broken.append(f"{doc.relative_to(REPO)}: {target} (no such file)")
            elif anchor and dest.suffix == ".md" and anchor not in github_anchors(dest):
                broken.append(f"{doc.relative_to(REPO)}: {target} (no such heading)")
    assert not broken, "\n".join(broken)


def test_each_readers_guide_is_one_click_from_the_readme():
    links = {t.partition("#")[0] for t in LINK.findall((REPO / "README.md").read_text())}
    wanted = {f"docs/{g}.md" for g in GUIDES} | {"docs/POLICY.md", "docs/CONTRACT.md", "docs/DEPLOYING.md",
                                                 "BENCHMARKS.md"}
    assert wanted <= links, f"not linked from the README: {sorted(wanted - links)}"
    assert len((REPO / "README.md").read_text().split("\n")) <= 180, "the README is the front door: keep it short"


def test_every_shell_block_is_runnable_or_marked_to_skip():
    problems = []
    for doc in USER_DOCS:
        lines = doc.read_text().split("\n")
        for n, line in enumerate(lines):
            marker = MARKER.match(line)
            if marker and not (SKIP.match(marker.group(1)) and n + 1 < len(lines) and FENCE.match(lines[n + 1])):
                problems.append(f"{doc.relative_to(REPO)}:{n + 1}: a marker is `<!-- docs-test: skip (why) -->` "
                                "on the line before a sh block")
        for block in shell_blocks(doc):
            if doc not in READING_ORDER and block.skip is None:
                problems.append(f"{block.where()}: only the README and the guides' blocks run; mark it to skip")
            if not block.text.strip():
                problems.append(f"{block.where()}: an empty block")
    assert not problems, "\n".join(problems)
    runnable = [b for doc in READING_ORDER for b in shell_blocks(doc) if b.skip is None]
    assert len(runnable) >= 10 and any("make demo" in b.text for b in runnable)


def _manifest() -> dict:
    from dagster_project.domain.dbt_project import ensure_manifest

    return json.loads(ensure_manifest().read_text())


def _relations(manifest: dict) -> dict[str, str]:
    """`schema.table` as code names it -> the model's unique_id."""
    return {f"{n['schema']}.{n['alias']}": uid for uid, n in manifest["nodes"].items()
            if n["resource_type"] == "model" and n["schema"] in ("marts", "audit")}


def _tables_read(*paths: Path) -> set[str]:
    return {m.group(0) for p in paths for m in re.finditer(r"\b(marts|audit)\.[a-z_]+\b", p.read_text())}


def test_exposures_name_the_tables_their_code_reads():
    manifest = _manifest()
    relations = _relations(manifest)
    exposures = {e["name"]: e for e in manifest["exposures"].values()}
    for e in exposures.values():
        assert e["description"].strip() and e["depends_on"]["nodes"], e["name"]
        assert set(e["depends_on"]["nodes"]) <= set(manifest["nodes"]), e["name"]

    def depends(name: str) -> set[str]:
        return set(exposures[name]["depends_on"]["nodes"])

    def read_by(*paths: Path) -> set[str]:
        tables = _tables_read(*paths)
        assert tables <= set(relations), f"not a published model: {sorted(tables - set(relations))}"
        return {relations[t] for t in tables}

    code = REPO / "dagster_project" / "domain"
    assert depends("finance_exports") == read_by(code / "exports.py")
    assert depends("monthly_report") == read_by(code / "report" / "data.py")
    assert depends("customer_notices") < depends("monthly_report")  # notices are built from the report's data
    queries = sorted((REPO / "dagster_project" / "analyst" / "queries").glob("*.sql"))
    assert queries
    for q in queries:
        assert f"sql_{q.stem}" in exposures, f"named query {q.stem}: add exposure sql_{q.stem} (exposures.yml)"
        assert depends(f"sql_{q.stem}") == read_by(q), q.name
    assert {n for n in exposures if n.startswith("sql_")} == {f"sql_{q.stem}" for q in queries}


def test_every_mart_and_audit_table_and_column_is_described():
    manifest = _manifest()
    missing = []
    for uid in _relations(manifest).values():
        node = manifest["nodes"][uid]
        if not node["description"].strip():
            missing.append(f"{node['name']}: no description")
        if not node["columns"]:
            missing.append(f"{node['name']}: no columns documented")
        missing += [f"{node['name']}.{c}: no description" for c, col in node["columns"].items()
                    if not col["description"].strip()]
    assert not missing, "\n".join(missing)


# ---------------------------------------------------------------------------------------------------------------
# Slow: the commands themselves, on a fresh copy


def fresh_copy(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """The repository's files as a clone would have them (tracked and new, not ignored: no data, no target),
    in a temporary folder, with modification times kept; the environment sharing this checkout's .venv
    (a link: `make install` finds it up to date) while Python imports the copy's code (PYTHONPATH), so every
    path the code derives from its own location is the copy's."""
    copy = tmp_path / "fairuse"
    files = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=REPO,
                           capture_output=True, check=True).stdout.decode().split("\0")
    for rel in filter(None, files):
        src = REPO / rel
        if src.is_file():
            (copy / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, copy / rel)
    (copy / ".venv").symlink_to(REPO / ".venv")
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("FAIRUSE_", "DAGSTER_", "PYTEST_")) and k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    env.update(PATH=f"{copy / '.venv' / 'bin'}:{env.get('PATH', '/usr/bin:/bin')}", PYTHONPATH=str(copy),
               VIRTUAL_ENV=str(copy / ".venv"), DEMO_ARGS=DEMO_ARGS, FAIRUSE_HASH_KEY="docs-test-key")
    return copy, env


def run_block(block: Block, copy: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "-euo", "pipefail", "-c", block.text], cwd=copy, env=env, capture_output=True,
                          text=True, timeout=900)


@pytest.mark.slow
def test_make_docs_on_a_fresh_copy_without_data(tmp_path):
    copy, env = fresh_copy(tmp_path)
    assert not (copy / "data" / "build").exists()
    done = subprocess.run(["make", "docs"], cwd=copy, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    page = copy / "dbt_models" / "target" / "docs" / "static_index.html"
    assert f"dbt docs: {page} (descriptions only" in done.stdout
    html = page.read_text()
    assert "finance_exports" in html and "sql_am_i_over" in html and "fct_account_enforcement" in html


@pytest.mark.slow
def test_every_documented_command_runs_on_a_fresh_copy(tmp_path):
    copy, env = fresh_copy(tmp_path)
    ran = []
    for doc in READING_ORDER:
        for block in shell_blocks(doc):
            if block.skip:
                continue
            done = run_block(block, copy, env)
            assert done.returncode == 0, (
                f"{block.where()}: exit {done.returncode}\n{block.text}\n--- stdout\n{done.stdout[-3000:]}"
                f"\n--- stderr\n{done.stderr[-3000:]}")
            assert "Traceback" not in done.stderr, f"{block.where()}\n{done.stderr[-3000:]}"
            ran.append(block.where())
    assert any(w.startswith("docs/analysts.md") for w in ran) and any(w.startswith("docs/finance.md") for w in ran)
    # what the docs promised is there: the demo's months published, the docs site with column types
    assert (copy / "data" / "exports" / "2026-10" / "manifest.json").is_file()
    assert (copy / "ladder.csv").read_text().startswith("account_id,")
    assert (copy / "data" / "reports" / "2026-11" / "watch.html").is_file()  # the watch of a generated November
    assert (copy / "dbt_models" / "target" / "docs" / "static_index.html").is_file()
    # every column of every published table is documented (the models' .yml against the real tables)
    manifest = json.loads((copy / "dbt_models" / "target" / "docs" / "manifest.json").read_text())
    documented = {f"{n['schema']}.{n['alias']}": set(n["columns"]) for n in manifest["nodes"].values()
                  if n["resource_type"] == "model"}
    with duckdb.connect(str(copy / "data" / "warehouse.duckdb"), read_only=True) as con:
        actual: dict[str, set[str]] = {}
        for schema, table, column in con.execute(
                "select table_schema, table_name, column_name from information_schema.columns "
                "where table_schema in ('marts', 'audit')").fetchall():
            actual.setdefault(f"{schema}.{table}", set()).add(column)
    assert actual and {t: c - documented.get(t, set()) for t, c in actual.items() if c - documented.get(t, set())} == {}
