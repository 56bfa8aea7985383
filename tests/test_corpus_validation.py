"""Corpus validation: every error kind is reported with its place and fix, all at once."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from service.model.codebook import load_codebook
from training.stats import corpus_stats
from training.validation import CorpusInvalid, load_corpus, validate_corpus

ROOT = Path(__file__).resolve().parent.parent

GOOD = """+++
id = "{id}"
title = "Pakistan and Japan sign a grant for schools"
style = "wire"
date = "2025-01-02"
source = "team"
batch = "t1"
event = "other"
partners = ["Japan"]
in_scope = true
topics = ["development_aid"]
stance = "supportive"
+++

@ supportive | development_aid, diplomacy
Japan will fund twenty schools in Sindh under a grant signed on Monday, officials said.

@ neutral | -
By our staff reporter
"""


def make_corpus(tmp_path: Path, files: dict[str, str]) -> Path:
    data = tmp_path / "data"
    (data / "articles").mkdir(parents=True)
    shutil.copy(ROOT / "data" / "codebook.toml", data / "codebook.toml")
    shutil.copy(ROOT / "data" / "partners.toml", data / "partners.toml")
    for name, text in files.items():
        (data / "articles" / f"{name}.txt").write_text(text, encoding="utf-8")
    return data


def messages(data: Path) -> list[str]:
    corpus, problems = validate_corpus(data)
    assert corpus is None
    return [f"{Path(p.where).name}:{p.line}: {p.message}" for p in problems]


def test_valid_article_loads(tmp_path: Path) -> None:
    corpus = load_corpus(make_corpus(tmp_path, {"a-1": GOOD.format(id="a-1")}))
    (article,) = corpus.articles
    assert article.id == "a-1"
    assert [(p.stance, p.topics) for p in article.paragraphs] == [
        ("supportive", ("development_aid", "diplomacy")), ("neutral", ())]
    assert article.paragraphs[0].line == 15


def test_unknown_labels_name_the_closest_valid_one(tmp_path: Path) -> None:
    text = GOOD.format(id="a-1").replace("@ supportive | development_aid, diplomacy",
                                         "@ suportive | developmentaid, diplomacy")
    assert messages(make_corpus(tmp_path, {"a-1": text})) == [
        "a-1.txt:15: unknown stance 'suportive': did you mean 'supportive'? valid: supportive, neutral, critical",
        "a-1.txt:15: unknown topic 'developmentaid': did you mean 'development_aid'? valid: diplomacy, trade, "
        "investment_finance, development_aid, infrastructure, energy_climate, defense, security, "
        "regional_conflict, people_exchange",
        "a-1.txt:2: article topic 'development_aid' is carried by no paragraph: label the paragraphs that "
        "discuss it, or drop it from the header",
    ]


def test_missing_stance_empty_and_duplicate_paragraphs(tmp_path: Path) -> None:
    text = GOOD.format(id="a-1") + (
        "\n@ | trade\nTrade rose.\n"
        "\n@ neutral | trade\n\n"
        "\n@ neutral | development_aid\nJapan will fund twenty schools in Sindh under a grant signed on Monday, "
        "officials said.\n")
    assert messages(make_corpus(tmp_path, {"a-1": text})) == [
        "a-1.txt:21: missing stance: put one of supportive, neutral, critical before the '|'",
        "a-1.txt:24: empty paragraph: write its text on the lines after the '@' line, or delete the label",
        "a-1.txt:27: duplicate paragraph: same text as line 15; delete one",
    ]


def test_duplicate_paragraph_across_files_is_reported_but_short_bylines_may_repeat(tmp_path: Path) -> None:
    problems = messages(make_corpus(tmp_path, {"a-1": GOOD.format(id="a-1"), "a-2": GOOD.format(id="a-2")}))
    assert len(problems) == 1
    assert problems[0].startswith("a-2.txt:15: duplicate paragraph: same text as ")
    assert problems[0].endswith("a-1.txt:15; delete one")


@pytest.mark.parametrize(("text", "expected"), [
    ("no header here\n", "a-1.txt:1: malformed file: must start with a '+++' line opening the TOML header"),
    ("+++\nid = \"a-1\"\n", "a-1.txt:1: malformed file: the header is never closed; add a '+++' line after it"),
    ("+++\nid = = 3\n+++\n@ neutral | -\nx\n",
     "a-1.txt:2: malformed header: Invalid value (at line 1, column 6) (header lines are counted from line 2)"),
    ("+++\n" + GOOD.split("+++\n")[1] + "+++\nA paragraph without a label line.\n",
     "a-1.txt:14: text before the first label line: start each paragraph with '@ <stance> | <topics>'"),
    (GOOD.format(id="a-1").replace("@ neutral | -", "@ neutral"),
     "a-1.txt:18: malformed label line: write '@ <stance> | <topic>, <topic>' ('-' for no topic), "
     "or '@ furniture' for pasted page furniture"),
])
def test_malformed_files(tmp_path: Path, text: str, expected: str) -> None:
    assert expected in messages(make_corpus(tmp_path, {"a-1": text.replace("{id}", "a-1")}))


def test_header_problems_are_all_listed(tmp_path: Path) -> None:
    text = (GOOD.format(id="wrong-name").replace('style = "wire"', 'style = "wyre"')
            .replace("in_scope = true", "in_scop = true"))
    assert messages(make_corpus(tmp_path, {"a-1": text})) == [
        "a-1.txt:2: unknown header field 'in_scop': did you mean 'in_scope'? valid: id, title, style, source, "
        "batch, event, partners, in_scope, topics, stance, date",
        "a-1.txt:2: missing header field 'in_scope': add `in_scope = ...` (see data/README.md)",
    ]
    text = GOOD.format(id="wrong-name").replace('style = "wire"', 'style = "wyre"')
    assert messages(make_corpus(tmp_path / "b", {"a-1": text})) == [
        "a-1.txt:2: id 'wrong-name' must equal the file name; rename the file to wrong-name.txt or change the id",
        "a-1.txt:2: unknown style 'wyre': did you mean 'wire'? valid: wire, news, press_release, op_ed, "
        "editorial, analysis, interview, explainer, feature, blog, transcript, brief",
    ]


def test_unknown_partners_are_reported_with_the_canonical_name_or_the_closest_one(tmp_path: Path) -> None:
    text = GOOD.format(id="a-1").replace('partners = ["Japan"]', 'partners = ["Japn", "UAE", "Pakistan"]')
    assert messages(make_corpus(tmp_path, {"a-1": text})) == [
        "a-1.txt:9: unknown partner 'Japn': did you mean 'Japan'? (canonical names: data/partners.toml and pycountry)",
        "a-1.txt:9: unknown partner 'UAE': it is a form of 'United Arab Emirates'; write the canonical "
        "'United Arab Emirates'",
        "a-1.txt:9: partner 'Pakistan' is Pakistan itself, never a partner; remove it",
    ]


def test_furniture_paragraphs_load_without_labels_and_cannot_make_an_article_alone(tmp_path: Path) -> None:
    text = GOOD.format(id="a-1").replace("@ neutral | -\nBy our staff reporter",
                                         "@ furniture\nAdvertisement\n\n@ neutral | -\nBy our staff reporter")
    (article,) = load_corpus(make_corpus(tmp_path, {"a-1": text})).articles
    assert [(p.text, p.stance, p.topics, p.furniture) for p in article.paragraphs] == [
        ("Japan will fund twenty schools in Sindh under a grant signed on Monday, officials said.", "supportive",
         ("development_aid", "diplomacy"), False),
        ("Advertisement", "neutral", (), True),
        ("By our staff reporter", "neutral", (), False),
    ]
    only_furniture = GOOD.format(id="a-2").split("@ supportive")[0] + "@ furniture\nShare this story\n"
    only_furniture = only_furniture.replace('topics = ["development_aid"]', "topics = []")
    assert messages(make_corpus(tmp_path / "b", {"a-2": only_furniture})) == [
        "a-2.txt:2: only furniture paragraphs: an article needs at least one labelled paragraph",
    ]


def test_batch_and_event_are_checked_against_the_codebook(tmp_path: Path) -> None:
    text = (GOOD.format(id="a-1").replace('batch = "t1"', 'batch = "Batch 1"')
            .replace('event = "other"', 'event = "sanctions_export_control"'))
    assert messages(make_corpus(tmp_path, {"a-1": text})) == [
        "a-1.txt:2: batch 'Batch 1' must name the writing batch in lowercase letters, digits and '-'",
        "a-1.txt:2: unknown event 'sanctions_export_control': did you mean 'sanctions_export_controls'? valid: "
        + ", ".join(load_codebook(ROOT / "data" / "codebook.toml").event_ids),
    ]
    text = GOOD.format(id="a-1").replace('event = "other"', 'event = "sanctions_export_controls"')
    assert messages(make_corpus(tmp_path / "b", {"a-1": text})) == [
        "a-1.txt:2: event 'sanctions_export_controls' allows article stance critical, not 'supportive': "
        "fix the stance or choose another event",
    ]


def test_out_of_scope_article_must_have_no_topics_and_neutral_stance(tmp_path: Path) -> None:
    text = GOOD.format(id="a-1").replace("in_scope = true", "in_scope = false")
    assert messages(make_corpus(tmp_path, {"a-1": text})) == [
        "a-1.txt:2: out-of-scope article with topics: set topics = [] (paragraph labels stay)",
        "a-1.txt:2: out-of-scope article must have stance 'neutral'",
    ]


def test_problems_in_several_files_are_reported_together_and_nothing_is_loaded(tmp_path: Path) -> None:
    data = make_corpus(tmp_path, {
        "a-1": GOOD.format(id="a-1"),
        "a-2": GOOD.format(id="a-2").replace("@ neutral | -", "@ neutrl | -").replace("twenty", "ten"),
        "a-3": GOOD.format(id="a-3").replace("@ supportive |", "@ critcal |").replace("twenty", "five"),
    })
    with pytest.raises(CorpusInvalid) as caught:
        load_corpus(data)
    assert [Path(p.where).name for p in caught.value.problems] == ["a-2.txt", "a-3.txt"]
    assert str(caught.value).endswith("2 problem(s) found; fix them and run `make validate` again.")


def test_validate_command_exits_non_zero_with_the_report(tmp_path: Path) -> None:
    data = make_corpus(tmp_path, {"a-1": GOOD.format(id="a-1").replace("@ neutral | -", "@ neutrl | -")})
    run = subprocess.run([sys.executable, "-m", "training", "--data", str(data), "validate"],
                         capture_output=True, text=True, cwd=tmp_path, check=False)
    assert run.returncode == 1
    assert run.stderr.splitlines() == [
        "data/articles/a-1.txt:18: unknown stance 'neutrl': did you mean 'neutral'? valid: supportive, "
        "neutral, critical",
        "1 problem(s) found; fix them and run `make validate` again.",
    ]


def test_shipped_corpus_is_valid_and_meets_its_balance_targets() -> None:
    stats = corpus_stats(load_corpus(ROOT / "data"))
    assert stats["articles"] >= 450 and stats["labelled_paragraphs"] >= 4000
    assert stats["census_gaps"] == {}, "every event x stance cell the codebook allows needs 5 articles"
    assert len(stats["batches"]) >= 19 and max(stats["batches"].values()) <= 0.15 * stats["articles"]
    assert stats["furniture_paragraphs"] >= 100
    assert stats["sources"]["seed"] == 5 and stats["sources"]["team"] >= 440
    assert min(stats["paragraph_topics"].values()) >= 70, stats["paragraph_topics"]
    assert min(stats["paragraph_stance"].values()) >= 200, stats["paragraph_stance"]
    in_scope = stats["in_scope_articles"]
    assert stats["article_stance"]["critical"] >= 0.30 * in_scope
    assert stats["article_stance"]["neutral"] >= 0.20 * in_scope
    assert stats["out_of_scope_articles"] >= 15
    assert len(stats["partners"]) >= 50
    assert stats["paragraphs_without_topic"] > 0


def test_stats_json_has_the_documented_keys() -> None:
    run = subprocess.run([sys.executable, "-m", "training", "stats", "--json"], capture_output=True, text=True,
                         cwd=ROOT, check=True)
    stats = json.loads(run.stdout)
    assert {"articles", "paragraphs", "paragraph_topics", "paragraph_stance", "article_stance",
            "out_of_scope_articles", "partners"} <= set(stats)
    assert stats == corpus_stats(load_corpus(ROOT / "data"))
