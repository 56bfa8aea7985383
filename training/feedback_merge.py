"""Merges analysts' corrections (the service's feedback store) into the corpus for training.

Rules, in the order records were stored (a later correction of the same text wins):
- A paragraph correction whose text is a corpus paragraph overrides that paragraph's labels.
- A paragraph correction of a new text becomes a one-paragraph article (needs topics and stance).
- An article correction of a corpus article overrides its article labels, and any paragraph
  labels it carries.
- An article correction of a new text becomes a new article when it labels every paragraph.
New articles each form their own cross-validation group. Every record is validated against the
codebook; a rejected one is reported with its reason and never used.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from service.feedback.store import FeedbackRecord, read_feedback
from service.model.codebook import Codebook
from service.model.paragraphs import split_paragraphs
from training.corpus import Article, Paragraph, normalise_text
from training.validation import Corpus


@dataclass
class FeedbackReport:
    used: list[int] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    new_articles: int = 0
    # Corrections used, by the name of the API key that posted them ("local": loopback, no key configured).
    contributors: dict[str, int] = field(default_factory=dict)

    def summary(self) -> str:
        by = ", ".join(f"{name} {count}" for name, count in sorted(self.contributors.items()))
        return (f"{len(self.used)} correction(s) used ({self.new_articles} new article(s)"
                f"{'; by ' + by if by else ''}), {len(self.rejected)} rejected")

    def as_dict(self) -> dict[str, Any]:
        return {"used": len(self.used), "used_ids": self.used, "new_articles": self.new_articles,
                "contributors": dict(sorted(self.contributors.items())), "rejected": self.rejected}


def merge_feedback(corpus: Corpus, folder: Path | str) -> tuple[Corpus, FeedbackReport]:
    """`folder`: the SQLite store's folder or the PostgreSQL store's URL."""
    report = FeedbackReport()
    records = read_feedback(folder)
    if not records:
        return corpus, report
    articles = {a.id: a for a in corpus.articles}
    where = _paragraph_index(corpus.articles)
    by_text = {_article_key([p.text for p in a.paragraphs]): a.id for a in corpus.articles}
    for record in records:
        problem = _invalid(record, corpus.codebook)
        if problem is None:
            problem = _apply(record, corpus.codebook, articles, where, by_text, report)
        if problem is None:
            report.used.append(record.id)
            name = record.contributor or "unnamed"
            report.contributors[name] = report.contributors.get(name, 0) + 1
        else:
            report.rejected.append(f"#{record.id}: {problem}")
    return Corpus(corpus.codebook, tuple(articles.values())), report


def _paragraph_index(articles) -> dict[str, tuple[str, int]]:
    return {normalise_text(p.text): (a.id, i) for a in articles for i, p in enumerate(a.paragraphs)}


def _article_key(texts: list[str]) -> str:
    return "\n".join(normalise_text(t) for t in texts)


def _invalid(record: FeedbackRecord, codebook: Codebook) -> str | None:
    """Same checks as the corpus validator, for labels that arrived through the API."""
    topics = list(record.topics or []) + [t for p in record.paragraphs or [] for t in p.get("topics") or []]
    stances = [record.stance] + [p.get("stance") for p in record.paragraphs or []]
    unknown = sorted({t for t in topics if t not in codebook.topic_ids})
    if unknown:
        return f"unknown topic(s) {', '.join(unknown)}"
    bad = sorted({s for s in stances if s is not None and s not in codebook.stance_ids})
    if bad:
        return f"unknown stance(s) {', '.join(bad)}"
    if record.topics is None and record.stance is None and record.in_scope is None and not record.paragraphs:
        return "carries no label"
    if not record.text.strip():
        return "empty text"
    return None


def _apply(record, codebook, articles, where, by_text, report) -> str | None:
    if record.level == "paragraph":
        return _apply_paragraph(record, codebook, articles, where, report)
    return _apply_article(record, codebook, articles, by_text, report)


def _apply_paragraph(record, codebook, articles, where, report) -> str | None:
    key = normalise_text(record.text)
    if key in where:
        article_id, index = where[key]
        article = articles[article_id]
        old = article.paragraphs[index]
        new = replace(old, topics=tuple(record.topics) if record.topics is not None else old.topics,
                      stance=record.stance or old.stance)
        paragraphs = list(article.paragraphs)
        paragraphs[index] = new
        articles[article_id] = _consistent(replace(article, paragraphs=tuple(paragraphs)), codebook)
        return None
    if record.topics is None or record.stance is None:
        return "a new paragraph needs both topics and stance"
    in_scope = record.in_scope if record.in_scope is not None else bool(record.topics)
    article = _new_article(record, codebook, [record.text], [(tuple(record.topics), record.stance)],
                           in_scope, tuple(record.topics), record.stance)
    articles[article.id] = article
    where[key] = (article.id, 0)
    report.new_articles += 1
    return None


def _apply_article(record, codebook, articles, by_text, report) -> str | None:
    texts = [record.text[s.start:s.end] for s in split_paragraphs(record.text)]
    labels = {int(p["index"]): p for p in record.paragraphs or []}
    if any(i < 0 or i >= len(texts) for i in labels):
        return f"paragraph index out of range (the text has {len(texts)} paragraphs)"
    article_id = by_text.get(_article_key(texts))
    if article_id is not None:
        article = articles[article_id]
        paragraphs = [_relabel(p, labels.get(i, {})) for i, p in enumerate(article.paragraphs)]
        updated = replace(article, paragraphs=tuple(paragraphs),
                          in_scope=article.in_scope if record.in_scope is None else record.in_scope,
                          topics=article.topics if record.topics is None else tuple(record.topics),
                          stance=record.stance or article.stance)
        articles[article_id] = _consistent(updated, codebook)
        return None
    complete = all(i in labels and labels[i].get("topics") is not None and labels[i].get("stance")
                   for i in range(len(texts)))
    if not complete or record.in_scope is None or record.stance is None or record.topics is None:
        return (f"a new article needs topics, stance, in_scope and the labels of all {len(texts)} "
                f"paragraphs (got {len(labels)}); it stays stored but is not used")
    article = _new_article(record, codebook, texts,
                           [(tuple(labels[i]["topics"]), labels[i]["stance"]) for i in range(len(texts))],
                           record.in_scope, tuple(record.topics), record.stance)
    articles[article.id] = article
    by_text[_article_key(texts)] = article.id
    report.new_articles += 1
    return None


def _relabel(paragraph: Paragraph, correction: dict[str, Any]) -> Paragraph:
    topics = correction.get("topics")
    return replace(paragraph, topics=paragraph.topics if topics is None else tuple(topics),
                   stance=correction.get("stance") or paragraph.stance)


def _new_article(record, codebook, texts, labels, in_scope, topics, stance) -> Article:
    digest = hashlib.sha256(_article_key(texts).encode()).hexdigest()[:12]
    article = Article(
        id=f"feedback-{digest}", title=record.title or "", style="news", source="feedback",
        partners=(), in_scope=in_scope, topics=topics, stance=stance,
        paragraphs=tuple(Paragraph(t, tuple(ts), st, 0) for t, (ts, st) in zip(texts, labels, strict=True)),
        path=Path(f"feedback#{record.id}"), group=f"feedback-{digest}",
    )
    return _consistent(article, codebook)


def _consistent(article: Article, codebook: Codebook) -> Article:
    """Keep the corpus invariants after an override: out of scope means no topics and neutral;
    an article topic must be carried by a paragraph (otherwise it is dropped)."""
    if not article.in_scope:
        return replace(article, topics=(), stance=codebook.neutral_stance)
    carried = {t for p in article.paragraphs for t in p.topics}
    return replace(article, topics=tuple(t for t in article.topics if t in carried))
