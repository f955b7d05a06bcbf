"""The class report opened in headless Chromium (issue 10, Must show): the histogram, the
pass rate per check and the image sizes are drawn where an instructor sees them, and the
page makes no network request. No engine; Chromium (`make chromium`, a dependency of
`make test`) is the browser.

The screenshot is kept as an artifact: .artifacts/class-report.png (and the page beside it,
.artifacts/class-report.html), at the repository's root, ignored by git.

How "no network request" is seen. Chromium writes a net log (`--log-net-log`): every URL
request it makes, with the origin that initiated it and the site it was made for. The page
is opened from a file, so a request made for it names the file:// site and the page's
(opaque, "null") origin; Chromium's own services (component updates, accounts), which
headless Chromium calls whatever the flags, name neither, and are not the page's. Besides,
every request goes to a recording proxy on 127.0.0.1 that answers 502 to all, and names
resolve to nothing, so no traffic leaves the machine; what the proxy saw must be Chromium's
own services too. A page that does fetch is seen by both (test_a_fetch_from_the_page_is_seen).
"""

from __future__ import annotations

import copy
import json
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

import numpy
import pytest
from PIL import Image

from grader.classroom.records import ERROR, GRADED, LearnerRecord
from grader.classroom.report import render_report
from grader.spec import load_lab
from tests.browser import (
    CHROMIUM,
    off_the_network,
    proxied_hosts,
    recording_proxy,
    url_requests,
)

REPO = Path(__file__).resolve().parents[2]
RESULTS = REPO / "tests" / "fixtures" / "learner-results"
ARTIFACTS = REPO / ".artifacts"
WINDOW = (1280, 2400)
CSP = '<meta http-equiv="Content-Security-Policy"'

pytestmark = pytest.mark.skipif(CHROMIUM is None,
                                reason="Chromium is not installed: `make chromium` installs it")


@pytest.fixture
def proxy():
    """A recording proxy on 127.0.0.1 (tests/browser.py): its port, and the request lines
    it saw."""
    with recording_proxy() as (port, seen):
        yield port, seen


def open_in_chromium(page: Path, proxy_port: int, work: Path, *action: str) -> tuple[str, Path]:
    """Runs headless Chromium on `page` with `action` (--screenshot=…, --dump-dom): what it
    printed, and its net log. Each run gets a fresh profile."""
    net_log = work / f"net-log-{len(list(work.glob('net-log-*')))}.json"
    command = [
        CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
        f"--window-size={WINDOW[0]},{WINDOW[1]}",
        f"--user-data-dir={work / 'profile'}-{net_log.stem}",
        # Every request goes through the recorder, loopback too, and no name resolves:
        # the only address Chromium reaches is 127.0.0.1.
        *off_the_network(proxy_port, loopback_too=True),
        f"--log-net-log={net_log}",
        *action, page.as_uri(),
    ]
    run = subprocess.run(command, check=True, capture_output=True, text=True, timeout=120,
                         cwd=work)
    return run.stdout, net_log


def requests(net_log: Path) -> tuple[list[str], set[str]]:
    """From a net log: the URLs requested for the page, and the hosts Chromium's own
    services called (a request no document initiated, made for no file:// site)."""
    for_page: list[str] = []
    own_hosts: set[str] = set()
    for params in url_requests(net_log):
        if (params.get("initiator") != "not an origin"
                or "file://" in params.get("network_isolation_key", "")):
            for_page.append(params["url"])
        else:
            own_hosts.add(urlsplit(params["url"]).hostname or "")
    return for_page, own_hosts


def assert_no_request_for_the_page(net_logs: list[Path], seen: list[str]) -> None:
    """No run requested anything for the page, and all the recorder saw (in every run of
    the test) was Chromium's own services."""
    own_hosts: set[str] = set()
    for net_log in net_logs:
        for_page, hosts = requests(net_log)
        assert for_page == [], net_log
        own_hosts |= hosts
    assert proxied_hosts(seen) <= own_hosts


def a_class() -> list[LearnerRecord]:
    """12 learners: reference solutions and unmodified starters, whose images differ a
    little from one learner to the next as a class's do, and one who could not be graded."""
    solution = json.loads((RESULTS / "solution.json").read_text(encoding="utf-8"))
    starter = json.loads((RESULTS / "starter.json").read_text(encoding="utf-8"))
    names = ["ada", "alan", "barbara", "dennis", "edsger", "frances", "grace", "john",
             "katherine", "ken", "margaret"]
    records = []
    for index, name in enumerate(names):
        result = copy.deepcopy(solution if index % 3 == 0 else starter)
        scale = 0.8 + 0.45 * ((index * 0.618) % 1)
        for exercise in result["exercises"]:
            for check in exercise["checks"]:
                measured = check["measured"]
                if "size_bytes" in measured:
                    measured["size_bytes"] = round(measured["size_bytes"] * scale)
                    for layer in measured["layers"]:
                        layer["bytes"] = round(layer["bytes"] * scale)
        records.append(LearnerRecord(name, GRADED, f"{index:064x}", 40 + index,
                                     f"2026-03-02T09:{index:02d}:00+00:00", result=result))
    records.append(LearnerRecord("linus", ERROR, "f" * 64, 0.3, "2026-03-02T09:59:00+00:00",
                                 error="git clone failed: repository not found"))
    return records


@pytest.fixture(scope="module")
def report_html() -> str:
    return render_report(load_lab(REPO / "labs" / "lab4" / "lab.yml"), a_class())


def drawn_pixels(shown: Image.Image, hidden: Image.Image) -> tuple[int, int]:
    """Pixels that differ between the page and the page with one chart hidden (where the
    chart is drawn), and how many of them are in colour (its bars and marks, not grey)."""
    shown_pixels = numpy.asarray(shown, dtype=numpy.int16)
    changed = numpy.abs(shown_pixels - numpy.asarray(hidden, dtype=numpy.int16)).max(axis=2) > 24
    colourful = shown_pixels.max(axis=2) - shown_pixels.min(axis=2) > 60
    return int(changed.sum()), int((changed & colourful).sum())


def test_the_report_shows_its_charts_and_fetches_nothing(report_html, proxy, tmp_path):
    port, seen = proxy
    ARTIFACTS.mkdir(exist_ok=True)
    page, screenshot = ARTIFACTS / "class-report.html", ARTIFACTS / "class-report.png"
    page.write_text(report_html, encoding="utf-8")
    screenshot.unlink(missing_ok=True)
    net_logs = [open_in_chromium(page, port, tmp_path, f"--screenshot={screenshot}")[1]]
    print(f"screenshot: {screenshot}")
    shown = Image.open(screenshot).convert("RGB")
    assert shown.size == WINDOW

    # Visible: hiding a chart changes the screenshot where it was, by a chart's worth of
    # coloured pixels (its bars, dots and lines), within the first 2400 pixels of the page.
    for chart, minimum in (("histogram", 4_000), ("sizes", 1_000), ("checks", 40_000)):
        hidden_page = tmp_path / f"without-{chart}.html"
        hidden_page.write_text(report_html.replace(
            "</head>", f"<style>#{chart} svg {{ visibility: hidden }}</style></head>", 1),
            encoding="utf-8")
        hidden_shot = tmp_path / f"without-{chart}.png"
        net_logs.append(open_in_chromium(hidden_page, port, tmp_path,
                                         f"--screenshot={hidden_shot}")[1])
        changed, colourful = drawn_pixels(shown, Image.open(hidden_shot).convert("RGB"))
        assert colourful >= minimum, (chart, changed, colourful)

    # In the DOM Chromium built: each chart is an SVG under its heading, with its marks
    # and its text.
    dom, net_log = open_in_chromium(page, port, tmp_path, "--dump-dom")
    net_logs.append(net_log)
    for element, end, heading, text in (
            ('id="histogram"', "</figure>", "Score histogram", "pass mark 70 %"),
            ('id="checks"', "</section>", "Pass rate per check", "ML4-SIZE  final image"),
            ('id="sizes"', "</section>", "Final image size per exercise", "budget 30 MB")):
        part = dom[dom.index(element):]
        part = part[:part.index(end)]
        assert f"<h2>{heading}</h2>" in part
        assert part.count("<svg ") == 1 and part.count("<path ") >= 10, element
        assert text in part, element
    assert dom.count('aria-label="Image size by layer') == 2 * 11  # each learner's layers

    assert_no_request_for_the_page(net_logs, seen)


def with_canaries(html: str, port: int) -> str:
    """The page with an image and a style sheet from the recorder, as a careless template
    or a learner's text let through would add."""
    canaries = (f'<img src="http://127.0.0.1:{port}/canary.png" alt="">'
                f'<link rel="stylesheet" href="http://127.0.0.1:{port}/canary.css">')
    return html.replace("<main>", f"<main>{canaries}", 1)


def without_policy(html: str) -> str:
    """The page without its Content-Security-Policy, which would block the canaries."""
    start = html.index(CSP)
    return html[:start] + html[html.index(">", start) + 1:]


def test_a_fetch_from_the_page_is_seen(report_html, proxy, tmp_path):
    """The check above can fail: the same report, its policy taken out so that nothing
    but the observers stands between the page and the network, fetches two canaries, and
    both the net log and the recorder see them. Without the canaries, it fetches nothing:
    the markup itself is clean, not only the policy strict."""
    port, seen = proxy
    clean = tmp_path / "no-policy.html"
    clean.write_text(without_policy(report_html), encoding="utf-8")
    _, net_log = open_in_chromium(clean, port, tmp_path, "--dump-dom")
    assert_no_request_for_the_page([net_log], seen)

    fetching = tmp_path / "canaries.html"
    fetching.write_text(with_canaries(without_policy(report_html), port), encoding="utf-8")
    _, net_log = open_in_chromium(fetching, port, tmp_path, "--dump-dom")
    canaries = {f"http://127.0.0.1:{port}/canary.png", f"http://127.0.0.1:{port}/canary.css"}
    for_page, _ = requests(net_log)
    assert set(for_page) == canaries
    assert {f"GET {url} HTTP/1.1" for url in canaries} <= set(seen)


def test_the_reports_policy_blocks_a_fetch_that_slipped_in(report_html, proxy, tmp_path):
    """Escaping keeps learners' markup out; should a fetch slip in anyway, the report's
    Content-Security-Policy (default-src 'none') stops it before any request."""
    port, seen = proxy
    page = tmp_path / "canaries-with-policy.html"
    page.write_text(with_canaries(report_html, port), encoding="utf-8")
    _, net_log = open_in_chromium(page, port, tmp_path, "--dump-dom")
    assert_no_request_for_the_page([net_log], seen)
    assert not [line for line in seen if "canary" in line]
