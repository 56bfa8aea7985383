"""Whole-corpus validation: every file checked, every problem reported, all or nothing loaded."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from service.model.codebook import Codebook, CodebookError, load_codebook
from training.corpus import Article, Problem, display_path, normalise_text, parse_article_file


@dataclass(frozen=True)
class Corpus:
    codebook: Codebook
    articles: tuple[Article, ...]

    @property
    def paragraph_count(self) -> int:
        return sum(len(a.paragraphs) for a in self.articles)


class CorpusInvalid(Exception):
    """Raised with the full list of problems; the corpus is not used at all."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__(format_report(problems))


def format_report(problems: list[Problem]) -> str:
    lines = [str(p) for p in problems]
    lines.append(f"{len(problems)} problem(s) found; fix them and run `make validate` again.")
    return "\n".join(lines)


def article_files(data_dir: Path) -> list[Path]:
    return sorted((data_dir / "articles").glob("*.txt"))


def validate_corpus(data_dir: Path) -> tuple[Corpus | None, list[Problem]]:
    codebook_path = data_dir / "codebook.toml"
    try:
        codebook = load_codebook(codebook_path)
    except CodebookError as exc:
        return None, [Problem(str(codebook_path), 0, str(exc))]
    files = article_files(data_dir)
    if not files:
        return None, [Problem(str(data_dir / "articles"), 0, "no article files (*.txt) found")]
    articles: list[Article] = []
    problems: list[Problem] = []
    for path in files:
        result = parse_article_file(path, codebook)
        articles += result.articles
        problems += result.problems
    problems += _cross_article_problems(articles)
    problems += partner_problems(data_dir, articles)
    if problems:
        return None, problems
    return Corpus(codebook, tuple(articles)), []


def partner_problems(data_dir: Path, articles: list[Article]) -> list[Problem]:
    """Header partners that are not a canonical gazetteer entry, with the closest one. The
    gazetteer needs pycountry (installed by `make install`); without it the check is skipped
    and says so, so that the rest of validation still runs on a bare Python."""
    if not (data_dir / "partners.toml").is_file():
        return [Problem(str(data_dir / "partners.toml"), 0, "the partner gazetteer is missing: every corpus "
                        "needs partners.toml (see data/README.md)")]
    try:
        from training.gazetteer import build_gazetteer, unknown_partner_problems

        gazetteer = build_gazetteer(data_dir)
    except ImportError:
        print("note: partner names not checked (pycountry is not installed: run `make install`)", file=sys.stderr)
        return []
    return unknown_partner_problems(articles, gazetteer)


# Bylines and datelines ("By our correspondent") legitimately repeat between articles.
BOILERPLATE_MAX_WORDS = 5


def _cross_article_problems(articles: list[Article]) -> list[Problem]:
    """Duplicates between files: a repeated paragraph would leak across cross-validation folds."""
    problems: list[Problem] = []
    first_text: dict[str, tuple[Path, int]] = {}
    for article in articles:
        for paragraph in article.paragraphs:
            key = normalise_text(paragraph.text)
            if len(key.split()) <= BOILERPLATE_MAX_WORDS:
                continue
            if key in first_text and first_text[key][0] != article.path:
                path, line = first_text[key]
                problems.append(Problem(display_path(article.path), paragraph.line,
                                        f"duplicate paragraph: same text as {display_path(path)}:{line}; delete one"))
            first_text.setdefault(key, (article.path, paragraph.line))
    return problems


def load_corpus(data_dir: Path) -> Corpus:
    corpus, problems = validate_corpus(data_dir)
    if corpus is None:
        raise CorpusInvalid(problems)
    return corpus
