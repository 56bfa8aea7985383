"""Which partners an article is about, the evidence for each, and the stance toward each.

The gazetteer and the fitted "about" model travel inside the model artifact as plain data
(`service.model.partners`); this module turns their output into what a response carries: per
partner a salience (the calibrated "about" probability), the paragraphs that mention it, the
character offsets of each mention in the submitted text, and a stance read from the paragraphs
that mention it by the same paragraph stance model and the same article rule as the article.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from service.model.paragraphs import Span
from service.model.partners import AboutModel, Gazetteer, Mention


@dataclass(frozen=True)
class PartnerMention:
    paragraph: int
    start: int
    end: int
    text: str


@dataclass
class ArticlePartner:
    name: str
    salience: float
    stance: str
    stance_scores: dict[str, float]
    evidence: list[int]
    mentions: list[PartnerMention]


@dataclass
class PartnerReader:
    """The compiled gazetteer and the about model of one loaded model, built once."""

    gazetteer: Gazetteer
    about: AboutModel | None

    def mentions(self, title: str, paragraphs: Sequence[str]) -> list[list[Mention]]:
        """Every mention of the title, then of each paragraph, Pakistan's included: the one pass
        of the matcher that the scope signal, the about model and the evidence all read."""
        return self.gazetteer.segment_mentions(title, paragraphs)

    def relationship_signal(self, segments: list[list[Mention]]) -> np.ndarray:
        """What the scope decision reads from names alone: how often Pakistan is named, how many
        partners are, and how many segments (title, paragraphs) name both. A statistics release
        or an IMF tranche story names Pakistan and a partner in most paragraphs however dry its
        wording."""
        own = self.gazetteer.self_name
        pakistan = sum(1 for seg in segments for m in seg if m.partner == own)
        partners = {m.partner for seg in segments for m in seg if m.partner != own}
        both = sum(1 for seg in segments if any(m.partner == own for m in seg)
                   and any(m.partner != own for m in seg))
        return np.array([math.log1p(pakistan), math.log1p(len(partners)), math.log1p(both)])

    def about_partners(self, title: str, paragraphs: Sequence[str],
                       segments: list[list[Mention]]) -> list[tuple[str, float]]:
        if self.about is None:
            return []
        return self.about.about(self.gazetteer, title, paragraphs, segments)


def partner_evidence(name: str, mentions: list[list[Mention]], spans: Sequence[Span]
                     ) -> tuple[list[int], list[PartnerMention]]:
    """The paragraphs naming a partner and each mention's offsets in the submitted text
    (`mentions`: one list per paragraph, the title left out)."""
    found = [PartnerMention(i, spans[i].start + m.start, spans[i].start + m.end, m.surface)
             for i, paragraph in enumerate(mentions) for m in paragraph if m.partner == name]
    return sorted({m.paragraph for m in found}), found
