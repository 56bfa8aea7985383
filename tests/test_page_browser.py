"""The analyst's page in a real browser: Debian's Chromium, driven by Playwright, against a real uvicorn.

The server is a subprocess on 127.0.0.1 serving a copy of the tiny model, with an API key that
protects every endpoint, so each scenario also exercises the page's key handling. Outside CI a
machine without Chromium or Playwright skips these tests; with CI=true it fails, loudly.

Run as a script, this file writes the README's screenshot from the shipped model:
`.venv/bin/python -m tests.test_page_browser` (docs/page.png, 1280 px wide; --help for options).
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest

from tests.live_server import free_port, wait_ready
from tests.partner_texts import CHINA_TEXT, JAPAN_TEXT

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

ROOT = Path(__file__).resolve().parent.parent
STATIC = ROOT / "service" / "api" / "static"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
API_KEY = "page-test-key"
MAX_TEXT_CHARS = 20_000
TITLE = "Pakistan and Japan renew resolve to deepen economic partnership"
OUT_OF_SCOPE_TEXT = (
    "Lahore Qalandars beat Karachi Kings by six wickets in the final at the Gaddafi Stadium on Sunday.\n\n"
    "Chasing 181, the home side reached the target with an over to spare after a century stand for the "
    "third wicket. Fans celebrated late into the night on Mall Road.\n\n"
    "The city's traffic police said roads around the stadium would reopen by Monday morning.")
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
SCREENSHOT_ARTICLE = ROOT.parent / "shared" / "seeds" / "002_17d101479c6c7db1.txt"

# ---------------------------------------------------------------- a real server and a real browser

class BrowserUnavailable(RuntimeError):
    pass


@contextmanager
def live_server(model_dir: Path, work_dir: Path, env: dict[str, str]) -> Iterator[str]:
    """uvicorn in a subprocess on a free loopback port; always stopped, even when a test fails."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("PAKREL_")}
    clean.update(PAKREL_MODEL_DIR=str(model_dir), PAKREL_FEEDBACK_DIR=str(work_dir / "feedback"),
                 PAKREL_LOG_LEVEL="WARNING", **env)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log_path = work_dir / "uvicorn.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "service.api.app:app", "--host", "127.0.0.1", "--port", str(port)],
            cwd=ROOT, env=clean, stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_ready(url, process, log_path)
            yield url
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


@contextmanager
def chromium() -> Iterator[Browser]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        raise BrowserUnavailable(f"Python Playwright is not installed ({exc}): pip install playwright==1.65.2") from exc
    with sync_playwright() as playwright:
        try:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        except Exception as exc:
            raise BrowserUnavailable(f"Chromium did not start from {CHROMIUM} ({exc}); "
                                     "install it with `apt-get install chromium`") from exc
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """Session-scoped so that pytest starts it before the tiny model is trained: a missing browser shows at once."""
    try:
        with chromium() as started:
            yield started
    except BrowserUnavailable as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true and the browser tests cannot run: {exc}", pytrace=False)
        pytest.skip(str(exc))


@pytest.fixture(scope="module")
def server(tiny_models_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    work = tmp_path_factory.mktemp("page-server")
    shutil.copytree(tiny_models_dir, work / "models")
    env = {"PAKREL_API_KEY": API_KEY, "PAKREL_PROTECT_ALL": "true", "PAKREL_MAX_TEXT_CHARS": str(MAX_TEXT_CHARS)}
    with live_server(work / "models", work, env) as url:
        yield url


@pytest.fixture
def api(server: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server, headers={"X-API-Key": API_KEY}, timeout=30) as client:
        yield client


def _open_page(browser: Browser, url: str, *, key: str | None, width: int = 1280, height: int = 900) -> Page:
    context = browser.new_context(viewport={"width": width, "height": height}, accept_downloads=True)
    context.set_default_timeout(10_000)
    if key is not None:
        context.add_init_script(f"sessionStorage.setItem('pakrel.apiKey', {json.dumps(key)})")
    page = context.new_page()
    page.js_errors = []  # type: ignore[attr-defined]
    page.on("pageerror", lambda error: page.js_errors.append(str(error)))  # type: ignore[attr-defined]
    page.goto(url)
    return page


@pytest.fixture
def page(browser: Browser, server: str) -> Iterator[Page]:
    """The page with the API key already in this tab's sessionStorage, as after the first prompt."""
    opened = _open_page(browser, server, key=API_KEY)
    yield opened
    errors = opened.js_errors  # type: ignore[attr-defined]
    opened.context.close()
    assert errors == [], f"the page raised JavaScript errors: {errors}"


def _codebook_order(api: httpx.Client) -> tuple[dict[str, int], dict[str, str]]:
    codebook = api.get("/v1/labels").json()["codebook"]
    labels = codebook["topics"] + codebook["stances"]
    return {label["id"]: i for i, label in enumerate(labels)}, {label["id"]: label["name"] for label in labels}


def _classify_in_page(page: Page, text: str, title: str = "") -> None:
    from playwright.sync_api import expect

    page.fill("#title", title)
    page.fill("#text", text)
    page.press("#text", "Control+Enter")
    expect(page.locator("#reading")).to_be_visible()


# ---------------------------------------------------------------- scenarios

def test_page_and_its_files_come_from_the_package_with_no_outside_reference(client) -> None:
    page = client.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    policy = page.headers["content-security-policy"]
    assert "default-src 'none'" in policy and "connect-src 'self'" in policy and "script-src 'self'" in policy
    assert 'src="/static/app.js"' in page.text and 'href="/static/style.css"' in page.text
    bodies = [page.text]
    modules = ("app.js", "api.js", "dom.js", "article.js", "corrections.js", "batch.js", "partners.js")
    imported = set(re.findall(r'from "\./([a-z]+\.js)"', "".join((STATIC / m).read_text() for m in modules)))
    assert imported == set(modules) - {"app.js"}, "every module the page imports is served, and no other"
    for name, kind in [*((m, "text/javascript") for m in modules), ("style.css", "text/css")]:
        asset = client.get(f"/static/{name}")
        assert asset.status_code == 200 and asset.headers["content-type"].startswith(kind)
        assert asset.headers["cache-control"] == "no-cache" and asset.headers["etag"]
        bodies.append(asset.text)
    for body in bodies:
        assert re.search(r"https?://|url\(|@import", body) is None
    missing = client.get("/static/index.html")
    assert missing.status_code == 404
    assert missing.json() == {"error": "not_found",
                              "message": "no static file 'index.html'; the page's files are app.js, api.js, dom.js, "
                                         "article.js, corrections.js, batch.js, partners.js, style.css"}
    assert client.get("/static/..%2Fapp.py").status_code == 404
    assert "/" not in client.get("/openapi.json").json()["paths"]


def test_analyst_classifies_reads_evidence_and_stores_a_stance_correction(
        browser: Browser, server: str, api: httpx.Client, seed_text: str) -> None:
    from playwright.sync_api import expect

    page = _open_page(browser, server, key=None)
    expect(page.locator("#key-dialog")).to_be_visible()
    page.fill("#api-key", API_KEY)
    page.press("#api-key", "Enter")
    expect(page.locator("#key-dialog")).to_be_hidden()
    _classify_in_page(page, seed_text, TITLE)

    expected = api.post("/v1/classify", json={"text": seed_text, "title": TITLE}).json()
    order, names = _codebook_order(api)
    checked_topics = page.eval_on_selector_all("#topic-rows input:checked", "els => els.map(e => e.value)")
    assert sorted(checked_topics) == sorted(t["label"] for t in expected["topics"])
    assert page.locator('input[name="stance-choice"]:checked').get_attribute("value") == expected["stance"]["label"]
    assert page.locator("#uncertain-badge").is_visible() == expected["uncertain"]
    top = expected["topics"][0]
    expect(page.locator(f'.label-row[data-label="{top["label"]}"] .score')).to_have_text(f"{top['score']:.2f}")
    shown = page.eval_on_selector_all("#paragraphs .para-text", "els => els.map(e => e.textContent)")
    assert shown == [seed_text[p["start"]:p["end"]] for p in expected["paragraphs"]]

    page.click(f'.label-row[data-label="{top["label"]}"] .evidence-button')
    highlighted = page.eval_on_selector_all("#paragraphs .para.is-evidence", "els => els.map(e => +e.dataset.index)")
    assert highlighted == expected["evidence"]["topics"][top["label"]] and highlighted
    expect(page.locator("#evidence-text")).to_contain_text(f"Evidence for {names[top['label']]}")

    new_stance = next(s for s in sorted(order, key=order.get, reverse=True)
                      if s in expected["stance"]["scores"] and s != expected["stance"]["label"])
    page.check(f'input[name="stance-choice"][value="{new_stance}"]')
    last = expected["paragraphs"][-1]
    para_stance = next(s for s in expected["stance"]["scores"] if s != last["stance"]["label"])
    page.select_option(f"#para-stance-{last['index']}", para_stance)
    expect(page.locator("#change-summary")).to_contain_text(f"Changed: stance, ¶{last['index'] + 1}")
    page.fill("#note", "Quoted officials only; the article itself is critical.")
    page.fill("#annotator", "analyst-7")
    page.click("#send-correction")
    expect(page.locator("#correction-status")).to_have_text("Stored as correction #1. Thank you.")

    records = api.get("/v1/feedback").json()["records"]
    assert len(records) == 1
    record = records[0]
    assert record["id"] == 1 and UUID.match(record["client_id"])

    def by_codebook(labels: Iterable[str]) -> list[str]:
        return sorted(labels, key=order.get)

    assert {k: v for k, v in record.items() if k not in ("id", "client_id", "created")} == {
        "level": "article", "text": seed_text, "title": TITLE,
        "topics": by_codebook(t["label"] for t in expected["topics"]), "stance": new_stance,
        "in_scope": expected["in_scope"]["label"],
        "paragraphs": [{"index": p["index"], "topics": by_codebook(t["label"] for t in p["topics"]),
                        "stance": para_stance if p is last else p["stance"]["label"]} for p in expected["paragraphs"]],
        "note": "Quoted officials only; the article itself is critical.", "annotator": "analyst-7",
        "model_version": expected["model_version"], "contributor": "default",  # the name of PAKREL_API_KEY
    }

    page.click("#send-correction")
    expect(page.locator("#correction-status")).to_contain_text("Already stored as correction #1")
    assert len(api.get("/v1/feedback").json()["records"]) == 1

    page.reload()
    expect(page.locator("#codebook-body dl").first).to_be_attached()
    expect(page.locator("#key-dialog")).to_be_hidden()
    expect(page.locator("#annotator")).to_have_value("analyst-7")
    assert page.js_errors == []  # type: ignore[attr-defined]
    page.context.close()


def _term_key(text: str) -> str:
    """How the page matches an explained term in the text: lower case, digits as 0, words split at punctuation."""
    return " ".join(re.sub(r"\d", "0", word) for word in re.findall(r"[^\W_]+", text.lower()))


def test_explain_lists_and_marks_the_terms_behind_the_selected_label(
        page: Page, api: httpx.Client, seed_text: str, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    (tmp_path / "article.txt").write_text(seed_text, encoding="utf-8")
    page.set_input_files("#open-file", str(tmp_path / "article.txt"))
    expect(page.locator("#text")).to_have_value(seed_text)
    page.check("#explain")
    page.press("#text", "Control+Enter")
    expect(page.locator("#reading")).to_be_visible()
    expected = api.post("/v1/classify?explain=true", json={"text": seed_text}).json()
    top = expected["topics"][0]["label"]
    terms = [t["term"] for t in expected["explanation"][top]]
    listed = page.locator(f'.label-row[data-label="{top}"] .terms .term')
    expect(listed).to_have_text(terms)
    all_keys = {_term_key(t["term"]) for label in expected["explanation"].values() for t in label}

    def marks() -> list[str]:
        return page.eval_on_selector_all("#paragraphs mark", "els => els.map(e => e.textContent)")

    assert marks() and {_term_key(m) for m in marks()} <= all_keys
    page.click(f'.label-row[data-label="{top}"] .evidence-button')
    selected = {_term_key(m) for m in marks()}
    assert selected and selected <= {_term_key(t) for t in terms}


def test_batch_of_two_files_gives_a_sortable_table_and_csv_and_jsonl_equal_to_the_api(
        page: Page, api: httpx.Client, seed_text: str, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    files = {"japan-dialogue.txt": seed_text, "cricket-final.txt": OUT_OF_SCOPE_TEXT}
    for name, text in files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    page.click("#tab-batch")
    page.set_input_files("#batch-files", [str(tmp_path / name) for name in files])
    expect(page.locator("#batch-summary")).to_have_text("2 articles ready: japan-dialogue.txt, cricket-final.txt.")
    page.click("#batch-run")
    expect(page.locator("#batch-progress-text")).to_have_text("Done: 2 classified")
    expect(page.locator("#results-body tr")).to_have_count(2)

    expected = api.post("/v1/classify/batch",
                        json={"items": [{"id": n, "text": t} for n, t in files.items()]}).json()["results"]
    with page.expect_download() as csv_download:
        page.click("#download-csv")
    with Path(csv_download.value.path()).open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert _csv_numbers(rows) == [_expected_csv_row(e) for e in expected]
    with page.expect_download() as jsonl_download:
        page.click("#download-jsonl")
    lines = Path(jsonl_download.value.path()).read_text(encoding="utf-8").splitlines()
    assert [json.loads(line) for line in lines] == expected

    def ids() -> list[str]:
        return page.eval_on_selector_all("#results-body td.id", "els => els.map(e => e.textContent)")

    page.click('th[data-key="id"] button')
    assert ids() == ["cricket-final.txt", "japan-dialogue.txt"]
    expect(page.locator('th[data-key="id"]')).to_have_attribute("aria-sort", "ascending")
    page.click('th[data-key="id"] button')
    assert ids() == ["japan-dialogue.txt", "cricket-final.txt"]

    page.click('button[aria-label="Open japan-dialogue.txt with its evidence"]')
    expect(page.locator("#panel-article")).to_be_visible()
    expect(page.locator("#paragraphs .para")).to_have_count(len(expected[0]["paragraphs"]))


def test_batch_reads_a_jsonl_file_and_names_the_lines_it_skips(page: Page, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    lines = [json.dumps({"id": "a-1", "text": OUT_OF_SCOPE_TEXT}), "{not json", json.dumps({"id": "a-3", "text": " "}),
             "", json.dumps({"id": 4, "text": OUT_OF_SCOPE_TEXT, "title": "Final"})]
    (tmp_path / "articles.jsonl").write_text("\n".join(lines), encoding="utf-8")
    page.click("#tab-batch")
    page.set_input_files("#batch-files", str(tmp_path / "articles.jsonl"))
    expect(page.locator("#batch-summary")).to_have_text("2 articles ready: a-1, 4.")
    expect(page.locator("#batch-warnings")).to_contain_text("articles.jsonl line 2: not valid JSON")
    expect(page.locator("#batch-warnings")).to_contain_text('articles.jsonl line 3: needs a non-empty "text" string')
    page.click("#batch-run")
    expect(page.locator("#results-body td.id")).to_have_text(["a-1", "4"])


def test_errors_reach_the_analyst_instead_of_being_swallowed(page: Page, api: httpx.Client) -> None:
    from playwright.sync_api import expect

    too_long = "Pakistan and China signed an agreement. " * (MAX_TEXT_CHARS // 40 + 10)
    refusal = api.post("/v1/classify", json={"text": too_long})
    assert refusal.status_code == 413
    page.fill("#text", too_long)
    page.click("#classify-button")
    expect(page.locator("#classify-error")).to_have_text(refusal.json()["message"])

    page.route("**/v1/classify*", lambda route: route.abort())
    page.fill("#text", OUT_OF_SCOPE_TEXT)
    page.press("#text", "Control+Enter")
    expect(page.locator("#classify-error")).to_contain_text("Cannot reach the service at http://127.0.0.1:")
    page.unroute("**/v1/classify*")

    page.route("**/health/ready", lambda route: route.fulfill(
        status=503, json={"status": "not_ready", "model_version": None, "reason": "loading model 20990101-000000",
                          "last_reload_error": None}))
    page.reload()
    expect(page.locator("#banner")).to_contain_text("The model is not ready yet: loading model 20990101-000000.")
    expect(page.locator("#status-text")).to_have_text("Model not ready")


def test_a_refused_correction_shows_the_api_message(page: Page, seed_text: str) -> None:
    from playwright.sync_api import expect

    _classify_in_page(page, seed_text)
    page.route("**/v1/feedback", lambda route: route.fulfill(status=422, json={
        "error": "invalid_feedback", "message": "stance: unknown label 'x'; valid: a, b", "fields": []}))
    page.click("#send-correction")
    expect(page.locator("#correction-status")).to_have_text("Not stored: stance: unknown label 'x'; valid: a, b")


def _csv_numbers(rows: list[dict[str, str]]) -> list[dict]:
    """The page's CSV with its numbers read as numbers (JavaScript writes 1 where Python writes 1.0)."""
    for row in rows:
        row["scope_score"], row["stance_score"] = float(row["scope_score"]), float(row["stance_score"])
        row["partner_salience"] = [float(s) for s in row["partner_salience"].split(";") if s]
    return rows


def _expected_csv_row(e: dict) -> dict:
    return {
        "id": e["id"], "in_scope": str(e["in_scope"]["label"]).lower(), "scope_score": e["in_scope"]["score"],
        "topics": ";".join(t["label"] for t in e["topics"]), "stance": e["stance"]["label"],
        "stance_score": e["stance"]["scores"][e["stance"]["label"]],
        "partners": ";".join(p["name"] for p in e["partners"]),
        "partner_stances": ";".join(p["stance"]["label"] for p in e["partners"]),
        "partner_salience": [p["salience"] for p in e["partners"]],
        "uncertain": str(e["uncertain"]).lower(), "model_version": e["model_version"], "error": ""}


# ---------------------------------------------------------------- partners

TRILATERAL_TEXT = (
    "ISLAMABAD: Pakistan, Japan and China held their first trilateral dialogue on Monday, as Japanese and Chinese "
    "envoys met Pakistani ministers.\n\n"
    "Japan pledged new grants for schools in Pakistan, and Tokyo said its partnership with Pakistan would deepen.\n\n"
    "Advertisement\n\n"
    "China said CPEC would expand, and Beijing promised Pakistan new power plants under its partnership with "
    "Pakistan.\n\n"
    "Pakistan's foreign minister thanked Japan and China for their support.")

# Each mark with its paragraph and its offset in the submitted text, measured in the page's own DOM.
_MARKED_SPANS = """els => els.map(mark => {
  const item = mark.closest(".para");
  const range = document.createRange();
  range.setStart(item.querySelector(".para-text"), 0);
  range.setEnd(mark, 0);
  return [+item.dataset.index, range.toString().length, mark.textContent];
})"""


_INDICES = "els => els.map(e => +e.dataset.index)"


def _percent(value: float) -> str:
    return f"{math.floor(value * 100 + 0.5)}%"  # JavaScript's Math.round, not Python's round-half-even


def test_partner_chips_show_salience_and_stance_and_a_click_marks_the_mentions(page: Page, api: httpx.Client) -> None:
    from playwright.sync_api import expect

    _classify_in_page(page, TRILATERAL_TEXT)
    expected = api.post("/v1/classify", json={"text": TRILATERAL_TEXT}).json()
    partners = expected["partners"]
    assert {"Japan", "China"} <= {p["name"] for p in partners}
    _, names = _codebook_order(api)
    chips = page.locator("#partner-chips .partner-chip")
    expect(chips).to_have_count(len(partners))
    expect(chips.locator(".partner-name")).to_have_text([p["name"] for p in partners])
    expect(chips.locator(".salience-value")).to_have_text([_percent(p["salience"]) for p in partners])
    expect(chips.locator(".stance-tag")).to_have_text([names[p["stance"]["label"]] for p in partners])
    assert chips.locator(".stance-tag").evaluate_all("els => els.map(e => e.dataset.stance)") == [
        p["stance"]["label"] for p in partners]

    paragraph_starts = {p["index"]: p["start"] for p in expected["paragraphs"]}
    for partner in partners:
        chip = page.locator(f'.partner-chip[data-partner="{partner["name"]}"]')
        chip.click()
        expect(chip).to_have_attribute("aria-pressed", "true")
        marks = page.locator("#paragraphs mark.mention").evaluate_all(_MARKED_SPANS)
        assert [(i, paragraph_starts[i] + offset, text) for i, offset, text in marks] == [
            (m["paragraph"], m["start"], m["text"]) for m in partner["mentions"]]
        assert all(TRILATERAL_TEXT[m["start"]:m["end"]] == m["text"] for m in partner["mentions"])
        assert page.eval_on_selector_all("#paragraphs .para.is-evidence", _INDICES) == partner["evidence"]
        expect(page.locator("#evidence-text")).to_contain_text(f"Evidence for {partner['name']}: ")
        expect(page.locator("#evidence-text")).to_contain_text(f"{len(partner['mentions'])} mentions marked")
    shown = page.eval_on_selector_all("#paragraphs .para-text", "els => els.map(e => e.textContent)")
    assert shown == [TRILATERAL_TEXT[p["start"]:p["end"]] for p in expected["paragraphs"]]

    last = page.locator(f'.partner-chip[data-partner="{partners[-1]["name"]}"]')
    last.focus()
    page.keyboard.press("Enter")  # the keyboard toggles a chip too, and focus stays on it
    expect(last).to_have_attribute("aria-pressed", "false")
    expect(last).to_be_focused()
    expect(page.locator("#paragraphs mark.mention")).to_have_count(0)
    page.keyboard.press("Space")
    expect(page.locator("#paragraphs mark.mention")).to_have_count(len(partners[-1]["mentions"]))

    furniture = [p["index"] for p in expected["paragraphs"] if p["furniture"]]
    assert furniture
    assert page.eval_on_selector_all("#paragraphs .para.is-furniture", _INDICES) == furniture
    expect(page.locator("#paragraphs .para.is-furniture .furniture-tag")).to_have_text(
        ["page furniture"] * len(furniture))


def test_batch_shows_filters_and_groups_partners_and_downloads_them(
        page: Page, api: httpx.Client, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    files = {"japan.txt": JAPAN_TEXT, "china.txt": CHINA_TEXT, "trilateral.txt": TRILATERAL_TEXT,
             "cricket.txt": OUT_OF_SCOPE_TEXT}
    for name, text in files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    page.click("#tab-batch")
    page.set_input_files("#batch-files", [str(tmp_path / name) for name in files])
    page.click("#batch-run")
    expect(page.locator("#batch-progress-text")).to_have_text("Done: 4 classified")
    expected = api.post("/v1/classify/batch",
                        json={"items": [{"id": n, "text": t} for n, t in files.items()]}).json()["results"]
    partners = {e["id"]: [p["name"] for p in e["partners"]] for e in expected}
    assert "Japan" in partners["japan.txt"] and "China" in partners["china.txt"] and partners["cricket.txt"] == []
    _, names = _codebook_order(api)

    def cells() -> list[list[str]]:
        return page.eval_on_selector_all("#results-body tr:not(.group-row)", """rows => rows.map(row => [
            row.querySelector("td.id").textContent,
            ...[...row.querySelectorAll(".partner-item")].map(item => item.textContent)])""")

    assert cells() == [[e["id"], *(p["name"] + names[p["stance"]["label"]] for p in e["partners"])]
                       for e in expected]

    counts: dict[str, int] = {}
    for listed in partners.values():
        for name in listed:
            counts[name] = counts.get(name, 0) + 1
    by_count = sorted(counts, key=lambda name: (-counts[name], name))
    options = page.eval_on_selector_all("#partner-filter option", "els => els.map(e => [e.value, e.textContent])")
    assert options == [["", "All partners"], *([n, f"{n} ({counts[n]})"] for n in by_count)]

    page.select_option("#partner-filter", "Japan")
    about_japan = [e["id"] for e in expected if "Japan" in partners[e["id"]]]
    assert [row[0] for row in cells()] == about_japan
    expect(page.locator("#shown-count")).to_have_text(
        f"Showing {len(about_japan)} articles about Japan of 4; the downloads hold every article.")

    page.select_option("#partner-filter", "")
    page.check("#group-by-partner")
    groups = page.eval_on_selector_all("#results-body tr", """rows => rows.map(row =>
        row.classList.contains("group-row") ? "group:" + row.dataset.partner
                                            : row.querySelector("td.id").textContent)""")
    assert groups == [item for name in by_count
                      for item in [f"group:{name}", *(e["id"] for e in expected if name in partners[e["id"]])]] + \
        ["group:", *(e["id"] for e in expected if not partners[e["id"]])]
    page.uncheck("#group-by-partner")

    page.click('th[data-key="partners"] button')
    order = list(partners)
    assert [row[0] for row in cells()] == sorted(order, key=lambda i: (", ".join(partners[i]), order.index(i)))

    with page.expect_download() as csv_download:
        page.click("#download-csv")
    with Path(csv_download.value.path()).open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert _csv_numbers(rows) == [_expected_csv_row(e) for e in expected]
    with page.expect_download() as jsonl_download:
        page.click("#download-jsonl")
    lines = Path(jsonl_download.value.path()).read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["partners"] for line in lines] == [e["partners"] for e in expected]


# ---------------------------------------------------------------- the README's screenshot

def take_screenshot(out: Path, width: int, height: int) -> None:
    """The shipped model on the seed article, with the topic whose evidence starts highest on the page selected."""
    from playwright.sync_api import expect

    text = SCREENSHOT_ARTICLE.read_text(encoding="utf-8")
    with tempfile.TemporaryDirectory() as work, live_server(ROOT / "models", Path(work), {}) as url, \
            chromium() as started:
        evidence = httpx.post(f"{url}/v1/classify", json={"text": text, "title": TITLE}, timeout=30).json()["evidence"]
        topic = min(evidence["topics"], key=lambda t: (evidence["topics"][t][0], -len(evidence["topics"][t])))
        page = _open_page(started, url, key=None, width=width, height=height)
        expect(page.locator("#codebook-body dl").first).to_be_attached()
        _classify_in_page(page, text, TITLE)
        page.click(f'.label-row[data-label="{topic}"] .evidence-button')
        page.wait_for_timeout(800)  # let a smooth scroll to the evidence finish before returning to the top
        page.evaluate("window.scrollTo(0, 0)")
        page.mouse.move(0, 0)
        page.wait_for_timeout(200)
        out.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(out))
        errors = page.js_errors  # type: ignore[attr-defined]
        if errors:
            raise RuntimeError(f"the page raised JavaScript errors: {errors}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Screenshot the analyst's page with a classified seed article.")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "page.png")
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=1000)
    args = parser.parse_args(argv)
    take_screenshot(args.out, args.width, args.height)
    print(f"wrote {args.out} ({args.width}x{args.height})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
