"""Partners in `pakrel-bulk`: keep the articles about chosen partners (`classify --partner`), and
count an output's articles per partner and stance (`pakrel-bulk partners OUT`).

Names are checked against the loaded model's gazetteer (`partner_names`, what GET /v1/labels lists),
so a typo stops the run before any work instead of silently keeping nothing. The summary reads
only the output itself, JSONL or Parquet, so it works on any finished or interrupted run.
"""

from __future__ import annotations

import csv
import difflib
import io
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from service.bulk.archive import BulkError
from service.bulk.output import read_records

SUMMARY_FORMATS = ("table", "csv")
NO_PARTNER = "(no partner)"


def resolve_partners(wanted: Sequence[str], known: Sequence[str]) -> frozenset[str]:
    """The canonical names of `wanted` (matched ignoring case); an unknown one is an error naming
    the closest name the model knows."""
    canonical = {name.casefold(): name for name in known}
    resolved = set()
    for name in wanted:
        match = canonical.get(name.strip().casefold())
        if match is None:
            raise BulkError(_unknown_partner(name, canonical))
        resolved.add(match)
    return frozenset(resolved)


def _unknown_partner(name: str, canonical: dict[str, str]) -> str:
    message = f"--partner {name!r} is not a partner this model knows"
    closest = difflib.get_close_matches(name.strip().casefold(), list(canonical), n=1, cutoff=0.0)
    if closest:
        message += f"; the closest is {canonical[closest[0]]!r}"
    return message + " (the valid names are the \"partners\" of GET /v1/labels)"


@dataclass
class PartnerSummary:
    """Articles per partner and stance toward it; an article with two partners counts for both."""

    stances: list[str] = field(default_factory=list)
    counts: dict[str, Counter[str]] = field(default_factory=dict)
    articles: int = 0
    without_partner: int = 0

    def add(self, partners: list[dict]) -> None:
        self.articles += 1
        if not partners:
            self.without_partner += 1
        for partner in partners:
            stance = partner["stance"]
            for label in stance["scores"]:  # the model's stance order, read from the output itself
                if label not in self.stances:
                    self.stances.append(label)
            self.counts.setdefault(partner["name"], Counter())[stance["label"]] += 1

    def rows(self) -> list[list[str | int]]:
        """Header, then partners by number of articles (most first, ties by name), then the articles
        without a partner."""
        ordered = sorted(self.counts.items(), key=lambda item: (-item[1].total(), item[0]))
        rows: list[list[str | int]] = [["partner", "articles", *self.stances]]
        rows += [[name, counts.total(), *(counts[s] for s in self.stances)] for name, counts in ordered]
        rows.append([NO_PARTNER, self.without_partner, *([""] * len(self.stances))])
        return rows

    def table(self) -> str:
        rows = [[str(cell) for cell in row] for row in self.rows()]
        widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
        lines = ["  ".join(cell.ljust(width) if i == 0 else cell.rjust(width)
                           for i, (cell, width) in enumerate(zip(row, widths, strict=True))).rstrip()
                 for row in rows]
        about = self.articles - self.without_partner
        return "\n".join([*lines, f"{self.articles:,} articles, {about:,} about at least one partner"]) + "\n"

    def csv(self) -> str:
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\n").writerows(self.rows())
        return buffer.getvalue()


def summarise(records: Iterable[dict]) -> PartnerSummary:
    summary = PartnerSummary()
    for record in records:
        summary.add(record["partners"])
    return summary


def partner_summary(out: Path) -> PartnerSummary:
    return summarise(read_records(out, ["partners"]))
