"""The corpus as arrays: paragraphs (rows) and articles, with their labels and CV groups."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from service.model.article_partners import PartnerReader
from service.model.codebook import Codebook
from service.model.partners import Gazetteer
from training.validation import Corpus


@dataclass
class TrainingData:
    codebook: Codebook
    texts: list[str]
    lengths: np.ndarray
    topics: np.ndarray          # (paragraphs, topics) 0/1
    stance: np.ndarray          # (paragraphs,) stance ids
    article_of: np.ndarray      # (paragraphs,) article index
    article_ids: list[str]
    titles: list[str]
    groups: np.ndarray          # (articles,) article cross-validation group
    batches: np.ndarray         # (articles,) writing-batch group
    furniture: np.ndarray       # (paragraphs,) 0/1 pasted page furniture
    ties: np.ndarray            # (articles, 3) the names signal the scope decision reads
    article_topics: np.ndarray  # (articles, topics) 0/1
    article_stance: np.ndarray  # (articles,) stance ids
    in_scope: np.ndarray        # (articles,) 0/1

    @property
    def n_articles(self) -> int:
        return len(self.article_ids)

    @cached_property
    def rows_of_article(self) -> list[np.ndarray]:
        """Each article's paragraph rows, found once: the article rule is fitted and applied
        article by article in every fold, and a scan of all rows per article cost seconds."""
        order = np.argsort(self.article_of, kind="stable")
        bounds = np.searchsorted(self.article_of[order], np.arange(self.n_articles + 1))
        return [order[bounds[a]:bounds[a + 1]] for a in range(self.n_articles)]

    def paragraphs_of(self, articles: np.ndarray) -> np.ndarray:
        return np.flatnonzero(np.isin(self.article_of, articles))


def training_data(corpus: Corpus, gazetteer: Gazetteer | None = None) -> TrainingData:
    """The corpus as arrays; with a gazetteer, also each article's names signal (`ties`)."""
    codebook = corpus.codebook
    topic_index = {t: j for j, t in enumerate(codebook.topic_ids)}
    texts, lengths, rows, stances, owners, furniture = [], [], [], [], [], []
    for index, article in enumerate(corpus.articles):
        for paragraph in article.paragraphs:
            texts.append(paragraph.text)
            lengths.append(len(paragraph.text))
            row = np.zeros(len(topic_index), dtype=np.int8)
            row[[topic_index[t] for t in paragraph.topics]] = 1
            rows.append(row)
            stances.append(paragraph.stance)
            owners.append(index)
            furniture.append(int(paragraph.furniture))
    article_topics = np.zeros((len(corpus.articles), len(topic_index)), dtype=np.int8)
    for index, article in enumerate(corpus.articles):
        article_topics[index, [topic_index[t] for t in article.topics]] = 1
    return TrainingData(
        codebook=codebook,
        texts=texts,
        lengths=np.array(lengths, dtype=float),
        topics=np.array(rows),
        stance=np.array(stances, dtype=object),
        article_of=np.array(owners),
        article_ids=[a.id for a in corpus.articles],
        titles=[a.title for a in corpus.articles],
        groups=np.array([a.cv_group for a in corpus.articles], dtype=object),
        batches=np.array([a.batch_group for a in corpus.articles], dtype=object),
        furniture=np.array(furniture, dtype=np.int8),
        ties=_ties(corpus, gazetteer),
        article_topics=article_topics,
        article_stance=np.array([a.stance for a in corpus.articles], dtype=object),
        in_scope=np.array([int(a.in_scope) for a in corpus.articles]),
    )


def _ties(corpus: Corpus, gazetteer: Gazetteer | None) -> np.ndarray:
    if gazetteer is None:
        return np.zeros((len(corpus.articles), 3))
    reader = PartnerReader(gazetteer, None)
    return np.array([reader.relationship_signal(reader.mentions(a.title, [p.text for p in a.paragraphs]))
                     for a in corpus.articles])
