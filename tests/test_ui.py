"""A real-browser check of the Dagster UI: `dagster dev` on localhost, opened in headless Chromium.

It verifies that the asset catalog lists the pipeline's assets and groups, and that the automation page lists the
schedule and the sensor; it saves a screenshot of the lineage graph (tests/artifacts/asset_graph.png).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.slow  # end-to-end: real Dagster, dbt and DuckDB runs

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACTS = REPO / "tests" / "artifacts"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--virtual-time-budget=30000", "--window-size=1600,1000"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def webserver(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ui")
    home = tmp / "dagster_home"
    home.mkdir()
    shutil.copy(REPO / "dagster_home.yaml", home / "dagster.yaml")
    port = _free_port()
    env = {**os.environ, "DAGSTER_HOME": str(home), "FAIRUSE_RAW_DIR": str(tmp / "raw"),
           "FAIRUSE_WAREHOUSE": str(tmp / "warehouse.duckdb"), "FAIRUSE_EXPORTS_DIR": str(tmp / "exports")}
    # What operators run (`make ui`): dagster dev, with its daemon and code server.
    dagster = Path(sys.executable).with_name("dagster")
    proc = subprocess.Popen([str(dagster), "dev", "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)], cwd=REPO,
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 180
        while True:
            try:
                urllib.request.urlopen(f"{url}/server_info", timeout=2)
                break
            except OSError:
                if time.time() > deadline or proc.poll() is not None:
                    raise RuntimeError("the Dagster webserver did not start") from None
                time.sleep(1)
        yield url, tmp
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:  # dagster dev's daemon can be mid-tick on a busy machine
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)


def _chromium(tmp: Path, *args: str) -> str:
    profile = tmp / f"profile-{time.monotonic_ns()}"
    proc = subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args], capture_output=True, text=True,
                          timeout=180)
    return proc.stdout


@pytest.mark.skipif(CHROMIUM is None, reason="Debian chromium is not installed (.ci/run installs it)")
def test_asset_catalog_lists_the_pipeline(webserver):
    url, tmp = webserver
    # The catalog renders the rows in view only: a tall window shows every asset at once.
    dom = _chromium(tmp, "--window-size=1600,8000", "--dump-dom", f"{url}/assets")
    for name in ("fct_user_monthly_usage", "fct_fair_use_flags", "fct_contact_center_surcharge",
                 "fct_prohibited_use_flags", "load_balance", "finance_exports", "warehouse", "report", "calls"):
        assert name in dom, name
    ARTIFACTS.mkdir(exist_ok=True)
    _chromium(tmp, f"--screenshot={ARTIFACTS / 'asset_graph.png'}", f"{url}/asset-groups")
    assert (ARTIFACTS / "asset_graph.png").stat().st_size > 10_000


@pytest.mark.skipif(CHROMIUM is None, reason="Debian chromium is not installed (.ci/run installs it)")
def test_automation_lists_schedule_and_sensor(webserver):
    url, tmp = webserver
    dom = _chromium(tmp, "--dump-dom", f"{url}/automation")
    assert "monthly_pipeline_schedule" in dom
    assert "late_data_sensor" in dom
