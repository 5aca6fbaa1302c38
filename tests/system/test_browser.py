"""The dashboard in a real headless Chromium: every page renders, the Sankey and map draw, exports work.

Starts `grokviz app --store PATH --port P` (what a user runs) on a free localhost port and drives it with
Playwright (Debian's /usr/bin/chromium; skipped when it is missing). One screenshot per page
goes to $GROKVIZ_ARTIFACTS (default /tmp/grokviz-artifacts), outside the repository.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from grokviz.api import Run
from grokviz.store.layout import Store

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
PAGES = ("", "memorization", "pathways", "map", "grokking", "inspector", "health", "compare")
pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]
if not Path(CHROMIUM).exists():
    pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium, or `make browser`)", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api")


def artifacts() -> Path:
    folder = Path(os.environ.get("GROKVIZ_ARTIFACTS", "/tmp/grokviz-artifacts"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def serve(store_root: Path, log: Path, *extra: str):
    """Start the app (`grokviz app`) on a free port; yield its base URL; stop it and what it started."""
    port = free_port()
    command = [sys.executable, "-m", "grokviz", "app", "--store", str(store_root), "--port", str(port), *extra]
    env = {k: v for k, v in os.environ.items() if k != "GROKVIZ_STORE"}  # the CLI argument must do it
    with open(log, "w") as out:  # its own session, so the whole group (grokviz app and streamlit) stops after
        proc = subprocess.Popen(command, cwd=log.parent, env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2)
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError(f"streamlit did not start:\n{log.read_text()[-2000:]}") from None
                time.sleep(0.3)
        yield f"http://localhost:{port}"
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def app_url(small_store, tmp_path_factory):
    yield from serve(small_store.root, tmp_path_factory.mktemp("logs") / "streamlit.log")


@pytest.fixture(scope="module")
def demo_url(demo_store, tmp_path_factory):
    yield from serve(demo_store.root, tmp_path_factory.mktemp("logs") / "streamlit-demo.log")


def projected(store) -> tuple[int, int, int]:
    """Points the map draws at its last checkpoint, and how many of them have per-token routes."""
    with Run(store, "demo") as run:
        points, samples = run.analysis("projection"), run.samples()
    last = points[points["step"] == points["step"].max()]
    with_tokens = samples.loc[samples["has_tokens"], "sample_id"]
    return len(last), int(last["sample_id"].isin(with_tokens).sum()), int(points["step"].max())


def open_page(browser, url: str, viewport=(1500, 1400)):
    """A new tab on `url`, waited until the script finished and its figures drew; (page, seconds)."""
    page = browser.new_page(viewport={"width": viewport[0], "height": viewport[1]}, accept_downloads=True)
    start = time.monotonic()
    page.goto(url)
    page.wait_for_selector("[data-testid='stMainBlockContainer'] h2", timeout=60_000)
    page.wait_for_function("!document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=60_000)
    page.wait_for_function("[...document.querySelectorAll('[data-testid=\"stPlotlyChart\"]')]"
                           ".every(c => c.querySelector('.main-svg'))", timeout=60_000)
    return page, time.monotonic() - start


def wait_for_sankeys(page, count: int = 2) -> None:
    """Until `count` Sankeys have drawn their nodes."""
    page.wait_for_function(f"[...document.querySelectorAll('g.sankey')].filter(g => g.querySelector('.sankey-node'))"
                           f".length >= {count}", timeout=30_000)


def test_every_page_renders(browser, app_url):
    timings = {}
    for path in PAGES:
        page, seconds = open_page(browser, f"{app_url}/{path}")
        timings[path or "overview"] = round(seconds, 2)
        page.screenshot(path=str(artifacts() / f"{path or 'overview'}.png"), full_page=True)
        assert page.locator("[data-testid='stException']").count() == 0, path
        assert "· tiny" in page.locator("h2").first.inner_text()
        page.close()
    print("seconds to render:", timings)


def test_sankey_draws_both_checkpoints(browser, app_url):
    page, _ = open_page(browser, f"{app_url}/pathways")
    wait_for_sankeys(page)
    sankeys = page.locator("g.sankey")
    assert sankeys.count() == 2
    for i in range(2):
        nodes = sankeys.nth(i).locator(".sankey-node")
        assert nodes.count() > 3 and nodes.first.bounding_box()["height"] > 0
        assert sankeys.nth(i).locator("path.sankey-link").count() > 3
    page.close()


def test_map_draws_every_projected_point(browser, demo_store, demo_url):
    n_points, _, _ = projected(demo_store)
    page, _ = open_page(browser, f"{demo_url}/map")
    page.wait_for_selector(".scatterlayer path.point", timeout=30_000)
    assert page.locator(".scatterlayer path.point").count() == n_points
    page.close()


def test_map_box_selection_feeds_pathways(browser, demo_store, demo_url):
    """On the analysed demo: the map draws, a box selection is kept and offered on the Pathways page."""
    n_points, n_with_tokens, _ = projected(demo_store)
    page, _ = open_page(browser, f"{demo_url}/map?color=group", viewport=(1500, 1600))
    page.wait_for_selector(".scatterlayer path.point", timeout=30_000)
    assert page.locator(".scatterlayer path.point").count() == n_points
    page.screenshot(path=str(artifacts() / "map-demo.png"), full_page=True)
    page.locator(".modebar-btn[data-val='select']").first.click()
    box = page.locator(".js-plotly-plot .nsewdrag").first.bounding_box()
    page.mouse.move(box["x"] + 2, box["y"] + 2)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] - 2, box["y"] + box["height"] - 2, steps=8)
    page.mouse.up()
    page.get_by_text(f"{n_points} samples selected").wait_for(timeout=30_000)
    page.get_by_text("Their pathways (Sankey)").click()
    try:  # a loaded machine takes a while to leave the map page: wait for the Pathways page's header
        page.locator("h2", has_text="Pathways").first.wait_for(timeout=90_000)
        page.get_by_text("the map selection").click(timeout=60_000)
    except Exception:
        page.screenshot(path=str(artifacts() / "map-selection-failed.png"), full_page=True)
        raise
    page.get_by_text(f"{n_with_tokens} of {n_points} (those with per-token routing) samples").first.wait_for(timeout=30_000)
    wait_for_sankeys(page)  # then the rerun settles: the previous draw's Sankeys go, two stay
    page.wait_for_function("document.querySelectorAll('g.sankey').length === 2", timeout=60_000)
    page.close()


def test_link_reopens_view_and_toolbar_saves_svg(browser, app_url):
    page, _ = open_page(browser, f"{app_url}/pathways?step=200&layers=1-2&topn=3")
    wait_for_sankeys(page)
    link = page.locator("[data-testid='stSidebar'] code").inner_text().replace("\n", "")
    assert "/pathways?" in link and "step=200" in link and "layers=1-2" in link
    assert {t.split()[0] for t in page.locator("g.sankey").first.locator(".sankey-node text").all_text_contents()} <= {"L1", "L2"}
    page.get_by_text("SVG", exact=True).click()
    page.wait_for_timeout(1500)
    plot = page.locator(".js-plotly-plot").first
    plot.hover()
    with page.expect_download(timeout=30_000) as download:
        plot.locator(".modebar-btn[data-title='Download plot']").click()
    assert download.value.suggested_filename.endswith(".svg")
    page.close()
    again, _ = open_page(browser, link)  # a new session from the copied link shows the same view
    wait_for_sankeys(again)
    assert again.locator("[data-testid='stSidebar'] code").inner_text().replace("\n", "") == link
    assert again.locator("g.sankey text.sankey-title, g.infolayer .gtitle").first.text_content().endswith("step 200")
    again.close()


def test_meeting_report_downloads_standalone_html(browser, app_url, tmp_path):
    page, _ = open_page(browser, f"{app_url}/")
    with page.expect_download(timeout=60_000) as download:
        page.get_by_role("button", name="Meeting report (HTML)").click()
    target = tmp_path / download.value.suggested_filename
    download.value.save_as(target)
    html = target.read_text()
    assert target.name == "grokviz-tiny-report.html" and html.count("window.PlotlyConfig") == 1
    assert html.count("<section>") >= 3
    page.close()


def wait_for_story(page) -> None:
    page.wait_for_selector("text=accuracy and pathway distance per task", timeout=1_500_000)
    page.wait_for_function("[...document.querySelectorAll('[data-testid=\"stPlotlyChart\"]')]"
                           ".some(c => c.querySelector('.main-svg'))", timeout=120_000)


@pytest.mark.timeout(1800)  # a quick demo build (under a minute on 2 idle cores)
def test_an_empty_store_shows_the_demo_building_then_its_story_without_a_reload(browser, tmp_path_factory):
    """The page on an empty store waits; `grokviz demo` starts writing into the store; the page
    shows the build's progress, then the story when the build lands, with no reload."""
    root = tmp_path_factory.mktemp("live") / "data"
    Store(root)  # an empty store
    for url in serve(root, root.parent / "streamlit-live.log"):
        page = browser.new_page(viewport={"width": 1500, "height": 1400})
        page.goto(url)
        page.get_by_text("has no runs yet").wait_for(timeout=120_000)
        build = subprocess.Popen([sys.executable, "-m", "grokviz", "demo", "--store", str(root), "--quick", "--quiet"],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        started = time.monotonic()
        page.get_by_text("building the demo").first.wait_for(timeout=120_000)
        seen = time.monotonic() - started
        page.screenshot(path=str(artifacts() / "live-building.png"), full_page=True)
        wait_for_story(page)
        assert build.wait(timeout=600) == 0
        page.screenshot(path=str(artifacts() / "live-done.png"), full_page=True)
        assert page.locator("[data-testid='stException']").count() == 0
        print(f"build progress on the page {seen:.1f} s after the build started")
        page.close()


@pytest.mark.timeout(1800)
def test_app_build_demo_opens_at_once_and_fills_in(browser, tmp_path_factory):
    """`grokviz app --build-demo` on an empty store: the dashboard answers before the build is done
    and shows the story when it lands, with no reload."""
    root = tmp_path_factory.mktemp("live-cli") / "data"
    started = time.monotonic()
    for url in serve(root, root.parent / "streamlit-live.log", "--build-demo", "--quick"):
        opened = time.monotonic() - started
        status = root / "runs" / "demo" / "build.json"
        assert not status.exists() or json.loads(status.read_text())["stage"] != "done"  # served first
        page = browser.new_page(viewport={"width": 1500, "height": 1400})
        page.goto(url)
        wait_for_story(page)
        assert page.locator("[data-testid='stException']").count() == 0
        print(f"server up after {opened:.1f} s; story after {time.monotonic() - started:.0f} s")
        page.close()
