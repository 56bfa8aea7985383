"""The shipped model on the five seed articles: what an analyst sees from `models/CURRENT`."""

from __future__ import annotations

from pathlib import Path

import pytest

from service.contract.responses import classification_body
from service.model.classifier import ArticleInput, classify_articles
from service.model.lifecycle import load_verified_model

ROOT = Path(__file__).resolve().parent.parent
SEEDS = sorted((ROOT.parent / "shared" / "seeds").glob("*.txt"))
# English function words, written out here independently of the model's own stop list, so the
# test fails if a function word ever reaches an explanation however the features are built.
FUNCTION_WORDS = {"a", "an", "the", "and", "or", "but", "nor", "so", "yet", "for", "of", "to", "in", "on", "at",
    "by", "with", "from", "into", "onto", "upon", "about", "above", "below", "over", "under", "between", "among",
    "amongst", "through", "during", "before", "after", "since", "until", "till", "within", "without", "against",
    "toward", "towards", "across", "along", "around", "behind", "beside", "besides", "beyond", "despite", "except",
    "inside", "outside", "near", "off", "out", "up", "down", "via", "per", "amid", "amidst", "unlike", "like",
    "than", "as", "if", "whether", "while", "whereas", "although", "though", "because", "unless", "once", "when",
    "where", "which", "who", "whom", "whose", "what", "that", "this", "these", "those", "it", "its", "itself",
    "he", "him", "his", "she", "her", "hers", "they", "them", "their", "theirs", "we", "us", "our", "ours", "you",
    "your", "yours", "i", "me", "my", "mine", "is", "are", "was", "were", "be", "been", "being", "am", "do",
    "does", "did", "done", "have", "has", "had", "having", "will", "would", "shall", "should", "can", "could",
    "may", "might", "must", "also", "not", "no", "very", "just", "only", "too", "there", "here", "then", "thus",
    "hence", "however", "therefore", "moreover", "furthermore", "meanwhile", "otherwise", "nevertheless", "still",
    "even", "ever", "both", "either", "neither", "each", "every", "all", "any", "some", "many", "much", "more",
    "most", "few", "several", "such", "own", "same", "other", "another"}


@pytest.fixture(scope="module")
def shipped():
    return load_verified_model(ROOT / "models")


def test_the_five_seeds_are_there() -> None:
    assert len(SEEDS) == 5, f"expected the five seed articles in {ROOT.parent / 'shared' / 'seeds'}"


@pytest.mark.parametrize("seed", SEEDS, ids=lambda p: p.stem)
def test_explanations_of_the_seeds_name_no_function_word(shipped, seed: Path) -> None:
    (result,) = classify_articles(shipped.classifier, [ArticleInput(seed.read_text(encoding="utf-8"))], explain=True)
    assert result.explanation, "every in-scope seed has labels to explain"
    for label, terms in result.explanation.items():
        assert terms, label
        for term, _ in terms:
            assert not set(term.split()) & FUNCTION_WORDS, f"{label}: '{term}' holds a function word"


@pytest.mark.parametrize("seed", SEEDS, ids=lambda p: p.stem)
def test_the_seeds_name_their_partners_with_offsets_into_the_text(shipped, seed: Path) -> None:
    text = seed.read_text(encoding="utf-8")
    (result,) = classify_articles(shipped.classifier, [ArticleInput(text)])
    body = classification_body(result, shipped.version, None, shipped.classifier.rule.scope_threshold)
    assert body["in_scope"]["label"] is True
    names = [p["name"] for p in body["partners"]]
    assert names and set(names) <= {"Japan", "China"} and "Pakistan" not in names
    for partner in body["partners"]:
        assert 0 < partner["salience"] <= 1 and partner["evidence"]
        assert {m["paragraph"] for m in partner["mentions"]} == set(partner["evidence"])
        for mention in partner["mentions"]:
            paragraph = body["paragraphs"][mention["paragraph"]]
            assert paragraph["start"] <= mention["start"] < mention["end"] <= paragraph["end"]
            assert text[mention["start"]:mention["end"]] == mention["text"]


FURNITURE = ["Advertisement", "Share this story: Facebook | X | WhatsApp", "Also read: Gold prices climb for third day",
             "KSE-100 78,412 ▲ 0.6% | USD/PKR 278.15", "Follow us on Google News"]


def test_pasted_page_furniture_gets_no_topic_and_no_weight(shipped) -> None:
    body = (ROOT / "data" / "articles" / "cn-ipp-dues-jwg-2024.txt").read_text(encoding="utf-8")
    paragraphs = [block.split("\n", 1)[1].replace("\n", " ") for block in body.split("\n\n@ ")[1:]]
    clean = "\n\n".join(paragraphs)
    pasted = "\n\n".join([FURNITURE[0], paragraphs[0], FURNITURE[1], *paragraphs[1:3], FURNITURE[2],
                          *paragraphs[3:], FURNITURE[3], FURNITURE[4]])
    plain, with_furniture = classify_articles(shipped.classifier, [ArticleInput(clean), ArticleInput(pasted)])
    flagged = [p for p in with_furniture.labels.paragraphs if p.furniture]
    assert len(flagged) == len(FURNITURE)
    assert all(p.topics == [] and p.stance == "neutral" for p in flagged)
    assert not any(p.furniture for p in plain.labels.paragraphs)
    assert with_furniture.labels.stance == plain.labels.stance == "critical"
    assert [t for t, _ in with_furniture.labels.topics] == [t for t, _ in plain.labels.topics]
    for stance, score in plain.labels.stance_scores.items():
        assert abs(with_furniture.labels.stance_scores[stance] - score) < 0.05, stance
