"""The work every `pakrel-bulk` worker does, whatever runs it: label one partition.

A local worker process and a Dask worker both call `label_partition`: read the partition's
records, check them like the API, skip ids an earlier run wrote, and turn the rest into the
exact `/v1/classify` bodies with the service's own `classify_articles` and
`classification_body`, keeping (with `--partner`) only articles about a chosen partner. Results
travel back as ready JSON lines, so the writer only appends.
"""

from __future__ import annotations

import contextlib
import json
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Protocol

from service.bulk.archive import Article, BadRecord, Partition, read_partition
from service.contract.responses import classification_body
from service.model.classifier import ArticleInput, Classification, classify_articles
from service.model.lifecycle import LoadedModel
from service.settings import Settings


@dataclass(frozen=True)
class WorkerSetup:
    """What a worker needs besides the model; sent to each worker once, not with every chunk."""

    settings: Settings
    done: frozenset[str]
    explain: bool
    partners: frozenset[str] = frozenset()  # keep only articles about one of these (empty: keep all)


@dataclass(frozen=True)
class Labelled:
    id: str
    source: str
    line: int | None
    body: str | None  # the /v1/classify body as one JSON line; None when it is not to be written, because
    chosen: bool = True  # an earlier run wrote this id (True) or it is about none of the --partner partners (False)


@dataclass(frozen=True)
class PartitionResult:
    labelled: list[Labelled]
    bad: list[BadRecord]


def label_partition(loaded: LoadedModel, partition: Partition, setup: WorkerSetup) -> PartitionResult:
    records = list(read_partition(partition, setup.settings))
    bad = [r for r in records if isinstance(r, BadRecord)]
    articles = [r for r in records if isinstance(r, Article)]
    bodies = iter(_label(loaded, [a for a in articles if a.id not in setup.done], setup))
    labelled: list[Labelled] = []
    for article in articles:
        if article.id in setup.done:
            labelled.append(Labelled(article.id, article.source, article.line, None))
            continue
        body = next(bodies)
        if isinstance(body, BadRecord):
            bad.append(body)
        else:
            labelled.append(Labelled(article.id, article.source, article.line, body, chosen=body is not None))
    return PartitionResult(labelled, bad)


def _label(loaded: LoadedModel, articles: list[Article], setup: WorkerSetup) -> list[str | None | BadRecord]:
    """All bodies of a chunk from one classify call; should that call fail, each article alone,
    so an article that breaks the model costs only itself."""
    with contextlib.suppress(Exception):
        return list(_bodies(loaded, articles, setup))
    labelled: list[str | None | BadRecord] = []
    for article in articles:
        try:
            labelled += _bodies(loaded, [article], setup)
        except Exception as exc:
            labelled.append(BadRecord(article.source, article.line, article.id, "classify_failed",
                                      f"the model failed on this article ({type(exc).__name__}: {exc})"))
    return labelled


def _bodies(loaded: LoadedModel, articles: list[Article], setup: WorkerSetup) -> list[str | None]:
    """One JSON body per article; None for an article about none of the chosen partners."""
    if not articles:
        return []
    results = classify_articles(loaded.classifier, [ArticleInput(a.text, a.title) for a in articles], setup.explain)
    threshold = loaded.classifier.rule.scope_threshold
    return [json.dumps(classification_body(result, loaded.version, article.id, threshold))
            if _about_chosen(result, setup.partners) else None
            for result, article in zip(results, articles, strict=True)]


def _about_chosen(result: Classification, partners: frozenset[str]) -> bool:
    return not partners or any(p.name in partners for p in result.partners or [])


class _Future(Protocol):
    def result(self) -> PartitionResult: ...

    def cancel(self) -> bool: ...


def results_in_order(submit: Callable[[Partition], _Future], partitions: Iterable[Partition],
                     window: int) -> Iterator[PartitionResult]:
    """Results in input order with at most `window` partitions submitted and not yet written,
    which bounds memory whatever the archive size; closing the iterator cancels the rest."""
    pending: deque[_Future] = deque()
    try:
        for partition in partitions:
            pending.append(submit(partition))
            if len(pending) >= window:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        for future in pending:
            future.cancel()
