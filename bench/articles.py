"""The benchmark's articles: built from paragraphs of the labelled corpus with a fixed seed.

Real corpus prose exercises the vectoriser as real traffic does, and the seed makes every run
classify exactly the same 200 texts, so figures from two machines or two commits compare.
Corpus paragraphs are short (about 45 words), so each benchmark paragraph joins a few of them
to give news-length articles of 6 to 10 paragraphs.
"""

from __future__ import annotations

import random
from pathlib import Path

from service.model.classifier import ArticleInput
from training.validation import load_corpus

ARTICLE_COUNT = 200
MIN_WORDS, MAX_WORDS = 600, 1_200
PARAGRAPHS_PER_ARTICLE = (6, 10)
SEED = 20_261_124
# Bylines and datelines carry no content worth timing; the pool keeps real paragraphs only.
MIN_SOURCE_WORDS = 15


def benchmark_articles(data_dir: Path, count: int = ARTICLE_COUNT, seed: int = SEED) -> list[ArticleInput]:
    corpus = load_corpus(data_dir)
    pool = [(article.title, paragraph.text) for article in corpus.articles for paragraph in article.paragraphs
            if len(paragraph.text.split()) >= MIN_SOURCE_WORDS]
    rng = random.Random(seed)
    return [_one_article(pool, rng) for _ in range(count)]


def _one_article(pool: list[tuple[str, str]], rng: random.Random) -> ArticleInput:
    """Draw paragraphs until a random length in [MIN_WORDS, MAX_WORDS] is reached, never passing MAX_WORDS."""
    target = rng.randint(MIN_WORDS, MAX_WORDS)
    chosen: list[tuple[str, str]] = []
    words = 0
    for title, text in rng.sample(pool, len(pool)):
        size = len(text.split())
        if words + size > MAX_WORDS:
            continue
        chosen.append((title, text))
        words += size
        if words >= target:
            break
    groups = _contiguous_groups([text for _, text in chosen], rng.randint(*PARAGRAPHS_PER_ARTICLE))
    return ArticleInput(text="\n\n".join(" ".join(group) for group in groups), title=chosen[0][0])


def _contiguous_groups(items: list[str], n_groups: int) -> list[list[str]]:
    n_groups = min(n_groups, len(items))
    size, extra = divmod(len(items), n_groups)
    groups, start = [], 0
    for index in range(n_groups):
        stop = start + size + (index < extra)
        groups.append(items[start:stop])
        start = stop
    return groups
