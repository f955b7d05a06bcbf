"""The docs site in headless Chromium (issue 12, Must show): the lab's English and Korean
pages and a check rule's page show their content, the language switch leads from each lab
page to the other, a Korean search in the site's own search box finds the Korean lab page, and
the browser sends nothing anywhere but 127.0.0.1.

The site is built as `make docs` builds it (mkdocs build --strict, tests/docs_site.py) and
served by a plain http.server on 127.0.0.1 (the search runs in a web worker, which a page
from file:// may not start). Chromium is driven through the DevTools protocol on a pipe
(tests/browser.py): the page's DOM, the same that `--dump-dom` prints, is read once its
scripts have run, which the search needs. Screenshots are kept in .artifacts/ (git-ignored):
site-lab-en.png, site-lab-ko.png, site-check-ML4-SIZE.png and site-search-ko.png.

"Nothing but 127.0.0.1": every request Chromium makes goes either to the site's server or to a
recording proxy on 127.0.0.1 that answers 502 to all, and no name resolves. Chromium's net log
(`--log-net-log`) shows every request: all those the pages made went to the site; what the
proxy saw is Chromium's own services (no document initiated them), as in
test_report_in_browser.py.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import SimpleHTTPRequestHandler
from pathlib import Path
from urllib.parse import quote, urlsplit

import pytest

from tests.browser import (
    CHROMIUM,
    Chromium,
    off_the_network,
    proxied_hosts,
    recording_proxy,
    serving,
    url_requests,
)
from tests.docs_site import built_site

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / ".artifacts"
README_KO = REPO / "labs" / "lab4" / "README.ko.md"
KOREAN_WORD = "스테이지"  # "stage", in the Korean README's title and text

pytestmark = pytest.mark.skipif(CHROMIUM is None,
                                reason="Chromium is not installed: `make chromium` installs it")


class SiteHandler(SimpleHTTPRequestHandler):
    """Serves the built site and records each request's path and status."""

    served: list[tuple[str, int]]

    def log_request(self, code="-", size="-") -> None:
        self.served.append((self.path, int(code) if str(code).isdigit() else 0))

    def log_message(self, *args) -> None:
        pass


@dataclass
class Visit:
    browser: Chromium
    base: str  # http://127.0.0.1:<port>
    served: list[tuple[str, int]]
    net_log: Path
    seen: list[str] = field(default_factory=list)

    def open(self, path: str) -> str:
        """Opens a page of the site and returns its DOM once Material's scripts have run."""
        self.browser.open(self.base + path)
        self.browser.wait_for("document.readyState === 'complete'"
                              " && !!document.querySelector('article.md-content__inner')")
        return self.browser.evaluate("document.documentElement.outerHTML")

    def text(self) -> str:
        return self.browser.evaluate("document.querySelector('article').innerText")

    def status_of(self, path: str) -> int:
        return [code for served, code in self.served if served == path][-1]


@contextmanager
def visiting(tmp_path: Path, site: Path | None = None) -> Iterator[Visit]:
    """The site (or another folder) served on 127.0.0.1 and a browser that reaches nothing
    else; after the block, the net log is checked (see the module's docstring)."""
    site = site or built_site()
    served: list[tuple[str, int]] = []
    handler = functools.partial(type("Handler", (SiteHandler,), {"served": served}),
                                directory=str(site))
    net_log = tmp_path / "net-log.json"
    with recording_proxy() as (proxy_port, seen), serving(handler) as port:
        with Chromium(f"--user-data-dir={tmp_path / 'profile'}", f"--log-net-log={net_log}",
                      *off_the_network(proxy_port, loopback_too=False),
                      window=(1280, 1600)) as browser:
            yield Visit(browser, f"http://127.0.0.1:{port}", served, net_log, seen)
        assert_only_the_site_was_reached(net_log, f"http://127.0.0.1:{port}", seen)


def assert_only_the_site_was_reached(net_log: Path, site: str, seen: list[str]) -> None:
    own_hosts: set[str] = set()
    to_site = 0
    for request in url_requests(net_log):
        url = request["url"]
        if url.startswith(site + "/"):
            to_site += 1
        elif request.get("initiator") == "not an origin":  # Chromium's own
            own_hosts.add(urlsplit(url).hostname or "")
        else:
            raise AssertionError(f"a page requested {url} (initiator {request.get('initiator')})")
    assert to_site > 0
    assert proxied_hosts(seen) <= own_hosts, (proxied_hosts(seen), own_hosts)


def screenshot(visit: Visit, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = visit.browser.screenshot(ARTIFACTS / name)
    print(f"screenshot: {path}")
    return path


def language_link(visit: Visit, language: str) -> str:
    """Where the header's language switch entry for `language` leads: its URL's path."""
    path = visit.browser.evaluate(
        f"(a => a && new URL(a.href).pathname)"
        f"(document.querySelector('a.md-select__link[hreflang={language}]'))")
    assert path, f"no language switch to {language!r}"
    return path


def korean_title() -> str:
    return next(line[2:] for line in README_KO.read_text(encoding="utf-8").splitlines()
                if line.startswith("# "))


def test_the_lab_pages_and_a_check_page_show_their_content_and_switch_language(tmp_path):
    with visiting(tmp_path) as visit:
        # the English lab page
        dom = visit.open("/labs/lab4/")
        assert visit.status_of("/labs/lab4/") == 200
        assert '<html lang="en"' in dom
        text = visit.text()
        assert text.startswith("Lab 4 — Multi-stage builds")
        for words in ("Before you start", "4.6 — Lab: the greeter", "Pass mark: 70 %"):
            assert words in text
        assert "404" not in visit.browser.evaluate("document.title")
        screenshot(visit, "site-lab-en.png")
        # its switch leads to the Korean page: the same page, in Korean
        korean = language_link(visit, "ko")
        assert korean == "/ko/labs/lab4/"
        assert language_link(visit, "en") == "/labs/lab4/"

        dom = visit.open(korean)
        assert visit.status_of(korean) == 200
        assert '<html lang="ko"' in dom
        text = visit.text()
        assert text.startswith(korean_title())
        for words in ("시작하기 전에", "연습", "통과 기준: 70 %"):
            assert words in text
        screenshot(visit, "site-lab-ko.png")
        # and back
        assert language_link(visit, "en") == "/labs/lab4/"
        assert visit.open(language_link(visit, "en"))
        assert visit.text().startswith("Lab 4 — Multi-stage builds")

        # a check rule's page, reached from the lab's exercise page as a learner would
        dom = visit.open("/labs/lab4/lab/")
        assert '>ML4-SIZE</a>' in dom
        target = visit.browser.evaluate(
            "new URL([...document.querySelectorAll('article a')]"
            ".find(a => a.textContent === 'ML4-SIZE').href).pathname")
        assert target == "/checks/ML4-SIZE/"
        visit.open(target)
        assert visit.status_of(target) == 200
        text = visit.text()
        assert text.startswith("ML4-SIZE")
        assert "max_mb" in text
        screenshot(visit, "site-check-ML4-SIZE.png")


def test_a_korean_search_finds_the_korean_lab_page(tmp_path):
    readme_ko = README_KO.read_text(encoding="utf-8")
    readme_en = (REPO / "labs" / "lab4" / "README.md").read_text(encoding="utf-8")
    assert KOREAN_WORD in readme_ko and KOREAN_WORD not in readme_en

    # The index the search loads: both languages, lunr's Korean support, the word on the
    # Korean lab page.
    index = json.loads((built_site() / "search" / "search_index.json").read_text("utf-8"))
    assert "ko" in index["config"]["lang"]
    entry = next(doc for doc in index["docs"] if doc["location"] == "ko/labs/lab4/")
    assert KOREAN_WORD in entry["title"] + entry["text"]

    # The site's own search box, as a learner uses it: Material reads `?q=` into it.
    with visiting(tmp_path) as visit:
        visit.open(f"/ko/labs/lab4/?q={quote(KOREAN_WORD)}")
        assert visit.browser.wait_for(
            "document.querySelectorAll('.md-search-result__item').length") >= 1
        results = visit.browser.evaluate(
            "[...document.querySelectorAll('.md-search-result__item > a')]"
            ".map(a => [new URL(a.href).pathname, a.querySelector('h1, h2').textContent])")
        assert visit.browser.evaluate("document.querySelector('.md-search__input').value") \
            == KOREAN_WORD
        screenshot(visit, "site-search-ko.png")
    first_path, first_title = results[0]
    assert first_path == "/ko/labs/lab4/"
    assert first_title == korean_title()
    # the Korean pages are what it finds: the English ones have no such word
    assert all(path.startswith("/ko/") for path, _ in results), results


def test_a_request_from_a_page_to_elsewhere_is_seen(tmp_path):
    """The check of the tests above can fail: a page on the same server that loads an image
    from another host is caught, and the proxy is where its request ended."""
    folder = tmp_path / "canary"
    folder.mkdir()
    (folder / "index.html").write_text(
        '<!doctype html><title>canary</title>'
        '<img src="http://dockerlab.example.edu/canary.png" alt="">', encoding="utf-8")
    with pytest.raises(AssertionError, match="a page requested http://dockerlab.example.edu/"):
        with visiting(tmp_path, folder) as visit:
            visit.browser.open(visit.base + "/")
            visit.browser.wait_for("document.images[0].complete")
    assert "GET http://dockerlab.example.edu/canary.png HTTP/1.1" in visit.seen
