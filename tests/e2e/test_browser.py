"""In a real browser: `rai ui` after `rai demo`, and the trend report opened from disk.

Headless Debian chromium driven by Playwright (never Playwright's own browser
download). Screenshots land in test-artifacts/browser/ for people to look at.
"""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import pytest

from rai_pipelines.catalog import load_catalog
from rai_pipelines.report.queries import key_metrics
from tests.support import RAI, ROOT, free_port, run_rai, wait_until_serving

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--no-first-run", "--disable-sync"]
SHOTS = Path(os.environ.get("RAI_TEST_ARTIFACTS", ROOT / "test-artifacts")) / "browser"



@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    # No skip: without the browser this test must fail, and `make test` installs it (scripts/ensure-tools).
    assert Path(CHROMIUM).exists(), f"{CHROMIUM} is missing; run scripts/ensure-tools"
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def ui(demo_home):
    """`rai ui` (dagster dev: webserver + daemon) on the demo's state."""
    port = free_port()
    log = demo_home.parent / "rai-ui.log"
    env = {**os.environ, "RAI_HOME": str(demo_home), "RAI_PROFILE": "local"}
    env.pop("DAGSTER_HOME", None)
    proc = subprocess.Popen([RAI, "ui", "--port", str(port), "--no-mlflow"], cwd=demo_home.parent, env=env,
                            stdout=log.open("w"), stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(f"{url}/server_info", proc, log)
        yield url
    finally:
        proc.terminate()  # rai ui stops dagster dev, which stops the webserver and the daemon
        try:
            proc.wait(timeout=90)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            raise


def _page(browser, url):
    page = browser.new_page(viewport={"width": 1600, "height": 1000})
    # Dagster's first-visit newsletter dialog can open at any moment (late on a loaded machine): whenever it
    # covers the page, Playwright dismisses it before the next action.
    skip = page.get_by_role("button", name="Skip")
    page.add_locator_handler(skip, lambda: skip.click())
    page.goto(url, wait_until="networkidle")
    return page


def test_asset_graph_lists_the_evaluations_and_the_gate_page_shows_its_verdict(ui, browser, demo_home):
    catalog = load_catalog(ROOT / "assets")
    system = catalog.system("acs_employment")
    expected = [f"{s.name}_evaluation" for s in catalog.evaluation_suites(system)] + ["release_gate", "drift"]

    page = _page(browser, f"{ui}/locations/rai_pipelines/asset-groups/{system.name}")
    listed = page.locator("body")
    for name in expected:
        page.get_by_text(name, exact=True).first.wait_for(timeout=120_000)
    page.screenshot(path=SHOTS / "asset-graph.png")
    assert all(name in listed.inner_text() for name in expected)

    page = _page(browser, f"{ui}/assets/{system.name}/release_gate")
    shown_id = page.locator("tr", has=page.get_by_text("decision_id", exact=True)).first
    shown_id.wait_for(timeout=120_000)
    decision_id = shown_id.inner_text().split()[-1]
    verdict = run_rai("query", f"select verdict from gate_decisions where decision_id = '{decision_id}'", "--format", "csv",
                      home=demo_home, check=True).stdout.splitlines()
    assert len(verdict) == 2, f"the page's decision {decision_id!r} is not in the warehouse"
    assert verdict[1] in page.locator("tr", has=page.get_by_text("verdict", exact=True)).first.inner_text()
    page.screenshot(path=SHOTS / "release-gate.png", full_page=True)
    # The reasons table: each check with its observed value, interval and threshold.
    page.locator("tr", has=page.get_by_text("reasons", exact=True)).first.get_by_text("Show Markdown").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_text("observed [95% interval]").wait_for(timeout=120_000)
    assert "equal_opportunity_sex" in dialog.inner_text()
    page.wait_for_timeout(1000)  # the dialog fades in
    page.screenshot(path=SHOTS / "release-gate-reasons.png")


def test_trend_report_renders_its_plots_and_kpi_tiles(browser, demo_home, tmp_path):
    out = tmp_path / "report"
    proc = run_rai("report", "trends", "--out", str(out), home=demo_home, check=True)
    assert str(out / "index.html") in proc.stdout
    html = (out / "index.html").read_text()
    assert "<script src=" not in html  # self-contained: plotly.js is inlined, nothing is fetched

    page = browser.new_page(viewport={"width": 1500, "height": 1100})
    requested = []
    page.on("request", lambda r: requested.append(r.url))
    page.goto((out / "index.html").as_uri(), wait_until="load")
    page.locator(".plot .main-svg").first.wait_for(timeout=60_000)
    plots = page.locator(".js-plotly-plot")
    # ACS: judged metrics, verdicts, drift, attributions. (The car-loan system's plots depend on which of its weeks
    # have labels.)
    assert page.locator("#system-acs_employment .js-plotly-plot").count() == 4 and plots.count() >= 4
    # Each plot drew its data: lines with points, verdict markers, heatmap cells.
    keys = [k for k in key_metrics(load_catalog(ROOT / "assets")) if k.system == "acs_employment"]
    assert page.locator("#plot-1 .subplot").count() >= len(keys)
    assert page.locator("#plot-1 .scatterlayer .trace").count() >= len(keys) * 3
    assert page.locator("#plot-2 .scatterlayer .point").count() >= 3
    assert page.locator("#plot-3 .heatmaplayer image, #plot-3 .hm image").count() >= 1
    assert page.locator("#plot-4 .scatterlayer .trace").count() >= 3 * 3  # 3 versions x their top features
    tiles = {t.get_attribute("data-kpi") for t in page.locator(".tile.kpi").all()}
    assert {"gate pass rate", "gate fail rate", "evaluation coverage", "evidence completeness"} <= tiles
    assert page.locator("table.lineage tbody tr").count() >= 3
    page.screenshot(path=SHOTS / "trend-report.png", full_page=True)
    assert all(u.startswith("file://") for u in requested), [u for u in requested if not u.startswith("file://")]
