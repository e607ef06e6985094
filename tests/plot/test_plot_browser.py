"""Reports made by the CLI, opened in a real headless Chromium (Debian's chromium + chromedriver).

Three reports are made by ``shapiq-spex explain`` (its ``main``, in this process, with the offline
MiniLM sentiment model and small budgets): a 21-token review with ``--target all`` (a class
switch), a 202-word review and a 9-sentence review with sentence players. Each is opened at 1400
and 400 CSS px (400 as a phone: mobile viewport, touch) and checked for: no console errors, no
request leaving the file, the prediction, class and legend text of the run, every detail shown
on hover also reachable by keyboard focus (Tab) and by tap, text of at least 12 px, and nothing
wider than the screen. Full-page screenshots go to the test's tmp folder and to
``build/test-artefacts/`` (``report-<case>-<width>.png``, and ``report-<case>-400-tap-*.png`` of
the details after a tap); the end of the pytest run lists them.

The browser is installed by ``make browser`` (part of ``make install``/``make test``). Where it
is missing the tests fail, except where it cannot be installed (not root and no apt-get): there
they skip, saying so.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from browser import SHOTS, Browser, missing_parts
from report_texts import LONG, SENTENCES, SHORT

pytest.importorskip("torch", reason="the CLI's language-model games need the llm extra")
pytest.importorskip("transformers", reason="the CLI's language-model games need the llm extra")

pytestmark = pytest.mark.browser
os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the MiniLM model loads from its PyPI package

ARTEFACTS = Path(__file__).resolve().parents[2] / "build" / "test-artefacts"
WIDTHS = (1400, 400)
CASES = {
    "short": [SHORT, "--budget", "200", "--target", "all"],
    "long": ["--file", "long.txt", "--budget", "160"],  # files: written into the tmp folder
    "sentences": ["--file", "sentences.txt", "--players", "sentence", "--budget", "100"],
}


@pytest.fixture(scope="module")
def browser():
    missing = missing_parts()
    if missing:
        can_install = os.geteuid() == 0 or shutil.which("apt-get") is not None
        reason = f"headless Chromium is missing here ({', '.join(missing)})"
        if not can_install:
            pytest.skip(f"BROWSER TESTS SKIPPED: {reason}, and this is not root and has no apt-get")
        pytest.fail(f"{reason}: run `make browser` as root (apt-get install chromium "
                    "chromium-driver) and `.venv/bin/pip install selenium`")  # fmt: skip
    session = Browser()
    yield session
    session.quit()


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    """``{case: (html path, JSON document)}`` of reports written by ``shapiq-spex explain``."""
    import torch

    from shapiq_spex.cli.main import main

    folder = tmp_path_factory.mktemp("reports")
    (folder / "long.txt").write_text(LONG, encoding="utf-8")
    (folder / "sentences.txt").write_text(SENTENCES, encoding="utf-8")
    out = {}
    try:
        for case, args in CASES.items():
            args = [str(folder / a) if a.endswith(".txt") else a for a in args]
            status = main([
                "explain", *args, "--out", str(folder / f"{case}.html"), "--json",
                str(folder / f"{case}.json"), "--quiet", "--threads", "1",
            ])  # fmt: skip
            assert status == 0, case
            doc = json.loads((folder / f"{case}.json").read_text(encoding="utf-8"))
            out[case] = (folder / f"{case}.html", doc)
    finally:
        torch.set_num_threads(1)
    return out


# ---------------------------------------------------------------------------------- page scripts
VISIBLE_DETAIL_ELEMENTS = """
var view = document.querySelector('.spex-view:not([hidden])');
return Array.prototype.filter.call(view.querySelectorAll('.w, .row'), function (el) {
  return el.querySelector('template.d') !== null;
});
"""

ACTIVE_STATE = """
var el = document.activeElement;
var view = document.querySelector('.spex-view:not([hidden])');
var body = view.querySelector('.spex-detail .body');
var source = el && el.querySelector && el.querySelector(':scope > template.d');
return {
  key: el.classList.contains('row') ? 'row:' + el.getAttribute('data-players')
       : (el.classList.contains('w') ? 'w:' + el.getAttribute('data-p') : el.tagName),
  shows: source ? body.innerHTML === source.innerHTML : null
};
"""

SMALL_TEXT = """
var bad = [];
var walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
while (walker.nextNode()) {
  var node = walker.currentNode;
  if (!node.textContent.trim()) continue;
  var el = node.parentElement;
  if (el.closest('script, style, template') || !el.getClientRects().length) continue;
  var size = parseFloat(getComputedStyle(el).fontSize);
  if (size < 12) bad.push([el.tagName, el.className, node.textContent.slice(0, 30), size]);
}
return bad;
"""

OVERFLOW = """
var width = document.documentElement.clientWidth, over = [];
document.querySelectorAll('body *').forEach(function (el) {
  var r = el.getBoundingClientRect();
  if (r.width === 0 && r.height === 0) return;
  if (r.right > width + 0.5 || r.left < -0.5)
    over.push([el.tagName, el.className.baseVal === undefined ? el.className : '',
               Math.round(r.left), Math.round(r.right)]);
});
return {scroll: document.documentElement.scrollWidth, width: width, over: over.slice(0, 8)};
"""


def expected_texts(doc: dict, prediction: dict | None = None) -> list[str]:
    """What the answer section and the legend must say for the run of ``doc``."""
    p = prediction or doc["prediction"]
    labels, probs = p["labels"], p["probabilities"]
    best = max(range(len(probs)), key=probs.__getitem__)
    target = labels[p["target"]]
    kind = "predicted class" if p["target"] == best else "not the predicted class"
    return [
        f"The model predicts {labels[best]} (probability {probs[best]:.2f}).",
        f"Explained: the logit of {target} (class {p['target']}, the {kind}; unit: logit)."
        if p["target"] == best
        else f"Explained: the logit of {target} (class {p['target']}, {kind}; unit: logit).",
        f"red: raises the logit of {target}",
        "blue: lowers it",
        "Masking: every token of a removed"
        if p["masking"] == "mask_token"
        else "Masking: a removed",
        "Held-out R²" if doc["faithfulness_r2"] is not None else "not measured",
    ]


def check_page(session: Browser, path: Path, width: int) -> None:
    """Console, requests, fonts and overflow of the page at ``width``, details opened."""
    session.open(path, width)
    session.js("document.querySelectorAll('details').forEach(function (d) { d.open = true; })")
    errors = [m for m in session.console() if m["level"] in ("SEVERE", "WARNING")]
    assert errors == [], errors
    requests = session.requests()
    page_url = path.resolve().as_uri()
    assert page_url in [r["url"] for r in requests]
    # the page itself loads nothing but its own file (and data: URLs), and nothing at all goes
    # to the network (the browser's own start-up pages are chrome:// URLs)
    from_page = [r["url"] for r in requests if r["document"] == page_url]
    assert all(u.startswith(("file:", "data:")) for u in from_page), from_page
    network = [r["url"] for r in requests if r["url"].split(":")[0] in ("http", "https", "ws")]
    assert network == [], network
    assert session.js("return window.innerWidth") == width  # the viewport meta tag holds
    assert session.js("return window.visualViewport.scale") == 1
    assert session.js(SMALL_TEXT) == []
    overflow = session.js(OVERFLOW)
    assert overflow["scroll"] <= overflow["width"], overflow
    assert overflow["over"] == [], overflow


def keep(path: Path) -> Path:
    """Copy a screenshot to ``build/test-artefacts/`` (listed at the end of the run)."""
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    kept = ARTEFACTS / path.name
    shutil.copyfile(path, kept)
    SHOTS.append(kept)
    return kept


def shoot(session: Browser, name: str, tmp_path: Path) -> Path:
    path = session.screenshot(tmp_path / f"{name}.png")
    keep(path)
    return path


# ---------------------------------------------------------------------------------- tests
@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("case", list(CASES))
def test_report_reads_well_at_any_width(browser, reports, case, width, tmp_path):
    path, doc = reports[case]
    check_page(browser, path, width)
    text = browser.js("return document.body.innerText")
    for needle in expected_texts(doc):
        assert needle in " ".join(text.split()), needle
    unit = "sentence" if case == "sentences" else "word"
    n = len(doc["players"])
    marks = sum(not any(c.isalnum() for c in name) for name in doc["players"])
    if unit == "word" and marks:  # word players include punctuation: the heading says so
        assert f"The text ({n} players: {n - marks} words, {marks} punctuation mark" in text
    else:
        assert f"The text ({n} {unit}s)" in text
    if case == "sentences":  # sentences are given in full in the list
        listed = browser.js("return document.querySelector('.spex-top').innerText")
        first = doc["interactions"][0]["words"][0]
        assert first.strip() in " ".join(listed.split())
    shot = shoot(browser, f"report-{case}-{width}", tmp_path)
    assert shot.stat().st_size > 10_000


@pytest.mark.parametrize("case", list(CASES))
def test_every_hover_detail_is_reachable_by_focus(browser, reports, case):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    path, _ = reports[case]
    browser.open(path, 1400)
    elements = browser.js(VISIBLE_DETAIL_ELEMENTS)
    keys = set()
    for el in elements:
        players = el.get_attribute("data-players")
        keys.add(f"row:{players}" if players is not None else f"w:{el.get_attribute('data-p')}")
    assert len(keys) == len(elements) > 0
    # hover shows a detail (words at the start and every row of the list)
    rows = [el for el in elements if el.get_attribute("data-players") is not None]
    for el in [*elements[:3], *rows]:
        # scrolled first: the list column is sticky, so it moves while selenium scrolls
        browser.js("arguments[0].scrollIntoView({block: 'center'})", el)
        ActionChains(browser.driver).move_to_element(el).perform()
        shown = browser.js("return document.querySelector('.spex-view:not([hidden]) "
                           ".spex-detail .body').innerHTML")  # fmt: skip
        assert shown == browser.js("return arguments[0].querySelector('template.d').innerHTML", el)
    # Tab reaches every one of them, and focus shows the same detail as hover
    browser.js("document.activeElement.blur(); window.scrollTo(0, 0);")
    reached, wrong = set(), []
    for _ in range(len(elements) + 20):
        ActionChains(browser.driver).send_keys(Keys.TAB).perform()
        state = browser.js(ACTIVE_STATE)
        if state["key"] in keys:
            reached.add(state["key"])
            if not state["shows"]:
                wrong.append(state["key"])
        if reached == keys:
            break
    assert keys - reached == set()
    assert wrong == []


PANEL = """
var view = document.querySelector('.spex-view:not([hidden])');
var panel = view.querySelector('.spex-detail');
var r = panel.getBoundingClientRect();
return {top: r.top, bottom: r.bottom, left: r.left, right: r.right,
        h: window.innerHeight, w: window.innerWidth,
        same: panel.querySelector('.body').innerHTML ===
              arguments[0].querySelector('template.d').innerHTML};
"""


@pytest.mark.parametrize("case", ["short", "long", "sentences"])
def test_tap_on_a_phone_shows_the_details_on_screen(browser, reports, case, tmp_path):
    path, _ = reports[case]
    browser.open(path, 400, 800)
    view = ".spex-view:not([hidden])"
    rows = browser.driver.find_elements("css selector", f"{view} .row")
    words = browser.driver.find_elements("css selector", f"{view} .spex-text .w")
    # a finger, not a mouse (touch events): the first row, then the word of the last row at the
    # bottom of the screen, where the details would cover it
    last_row = rows[-1].get_attribute("data-players").split()[-1]
    word = next(w for w in words if w.get_attribute("data-p") == last_row)
    for n, el in enumerate((rows[0], word)):
        browser.tap(el, "center" if n == 0 else "end")
        state = browser.js(PANEL, el)
        assert state["same"], n
        assert 0 <= state["top"] < state["bottom"] <= state["h"]
        assert 0 <= state["left"] < state["right"] <= state["w"]
        # the panel covers the bottom of the screen, not what was tapped (scrolled up above it,
        # or to the top of the screen where it is taller than the room left)
        r = browser.js("var r = arguments[0].getBoundingClientRect(); return [r.top, r.bottom]",
                       el)  # fmt: skip
        assert r[0] >= 0, (r, state)
        assert r[1] <= state["top"] or r[0] <= 8.5, (r, state)
        assert browser.js(SMALL_TEXT) == []  # the panel's text too
        shot = tmp_path / f"report-{case}-400-tap-{'row' if n == 0 else 'word'}.png"
        browser.driver.save_screenshot(str(shot))
        keep(shot)
        # Close hides the details (and frees the bottom of the screen for the next tap)
        browser.tap(browser.driver.find_element("css selector", f"{view} .spex-detail .close"))
        assert not browser.js(f"return document.querySelector('{view} .spex-detail').offsetHeight")
    assert [m for m in browser.console() if m["level"] in ("SEVERE", "WARNING")] == []


def test_class_switch_shows_the_other_class(browser, reports):
    path, doc = reports["short"]
    assert len(doc["other_classes"]) == 1  # --target all on a two-class model
    other = doc["other_classes"][0]
    browser.open(path, 1400)
    buttons = browser.driver.find_elements("css selector", ".spex-switch button")
    labels = doc["prediction"]["labels"]
    assert [b.text for b in buttons] == [
        labels[doc["prediction"]["target"]], labels[other["prediction"]["target"]]]  # fmt: skip
    buttons[1].click()
    assert browser.js("return document.querySelectorAll('.spex-view:not([hidden])').length") == 1
    assert (
        browser.js("return document.querySelector('.spex-view:not([hidden])').dataset.view") == "1"
    )
    text = " ".join(browser.js("return document.body.innerText").split())
    for needle in expected_texts(other):
        assert needle in text, needle
    assert buttons[1].get_attribute("aria-pressed") == "true"
    assert buttons[0].get_attribute("aria-pressed") == "false"
    assert browser.console() == []


ARCS = """
var view = document.querySelector('.spex-view:not([hidden])');
var box = view.querySelector('.spex-box').getBoundingClientRect();
var out = [];
view.querySelectorAll('svg.spex-arcs path').forEach(function (p) {
  var b = p.getBoundingClientRect();
  out.push({top: b.top - box.top, bottom: b.bottom - box.top, left: b.left, right: b.right});
});
var members = arguments[0].getAttribute('data-players').split(' ').map(function (q) {
  var r = view.querySelector('.spex-text .w[data-p="' + q + '"]').getClientRects()[0];
  return {top: r.top - box.top, bottom: r.bottom - box.top, height: r.height};
});
return {arcs: out, members: members};
"""


@pytest.mark.parametrize("width", WIDTHS)
def test_arcs_are_drawn_only_within_one_line(browser, reports, width):
    drawn = 0
    for case in ("short", "long"):
        path, _ = reports[case]
        browser.open(path, width)
        rows = browser.js(
            "return Array.prototype.filter.call(document.querySelectorAll("
            "'.spex-view:not([hidden]) .row'), function (r) {"
            " return r.getAttribute('data-players').indexOf(' ') > 0; })"
        )
        for row in rows:
            browser.js("arguments[0].focus()", row)
            state = browser.js(ARCS, row)
            members = state["members"]
            lines = {round(m["top"]) for m in members}
            assert len(state["arcs"]) <= len(members) - 1
            for arc in state["arcs"]:
                drawn += 1
                height = members[0]["height"]
                # above the words it joins, never through a line of text
                assert arc["bottom"] <= max(m["top"] for m in members) + 1.5
                assert arc["bottom"] - arc["top"] <= 0.8 * height + 1
            if len(lines) == len(members):  # every member on its own line: numbers, no arcs
                assert state["arcs"] == []
    assert drawn > 0  # some pair shares a line and is joined


def test_two_reports_in_one_notebook_page_work_apart(browser, reports, tmp_path):
    """Jupyter shows ``_repr_html_`` fragments side by side in one page: each keeps to itself."""
    from plot_values import WORDS, make_iv

    from shapiq_spex.plot import TextExplanation

    first = TextExplanation(make_iv(), WORDS, k=4)._repr_html_()
    second = TextExplanation(make_iv(index="k-SII"), WORDS, k=6)._repr_html_()
    page = tmp_path / "notebook.html"
    page.write_text(
        '<!DOCTYPE html><html><head><meta charset="utf-8"><meta name="viewport" '
        'content="width=device-width, initial-scale=1"><style>p { font-size: 9px }</style>'
        f'</head><body><div class="cell">{first}</div><div class="cell">{second}</div>'
        "</body></html>",
        encoding="utf-8",
    )
    browser.open(page, 1400)
    assert browser.js("return document.querySelectorAll('.spex-report[data-bound]').length") == 2
    rows = browser.driver.find_elements("css selector", ".spex-report .row")
    assert len(rows) == 10
    rows[0].click()
    states = browser.js(
        "return Array.prototype.map.call(document.querySelectorAll('.spex-report'), function (r) {"
        " return r.querySelectorAll('.on').length; })"
    )
    assert states[0] > 0
    assert states[1] == 0
    assert browser.js(SMALL_TEXT) == []  # the notebook's own 9 px rule does not reach in
    assert browser.console() == []
