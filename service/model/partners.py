"""Finds the countries and international bodies an article mentions, and describes each one
with the features the "about" model scores (`training/partners_model.py` fits it).

Standard library and numpy only: the gazetteer arrives as the plain dict stored in the model
artifact (`training.gazetteer.build_gazetteer`), so the service never needs pycountry, and the
list of names it knows is exactly the one the model was trained with.

The matcher is one compiled regular expression over a prefix trie of every surface form, so a
text is scanned once whatever the number of names (about 1,300), and offsets are those of the
original text. Matching is case-sensitive ("US" is not "us") and never inside a word ("India"
is not in "Indiana", "China" is not in "Chinatown": a neighbourhood is not a government).
"""

from __future__ import annotations

import bisect
import itertools
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np

# Two mentions joined like this name a pair: "Pak-China", "Pakistan and China", "Pakistan/US".
_PAIR_GAP = re.compile(r"\s*(?:-|–|—|/|\band\b|&)\s*")
_PAIR_GAP_MAX = 7
# Two partner mentions joined like this are items of a list: "Kenya, Tanzania and Mozambique".
_LIST_GAP = re.compile(r"\s*(?:,|, and|,? and|;|/)\s*")
_LIST_GAP_MAX = 6
# Sentence ends: . ! ? followed by a space and a capital or an opening quote. "U.S. officials"
# does not split; "the U.S. The" does, which only costs a co-occurrence now and then.
_SENTENCE_END = re.compile(r"[.!?][\"'”’)]*\s+(?=[\"'“‘(]?[A-Z0-9])")
# The lead is the first paragraph long enough to be news, not a dateline or byline alone.
LEAD_MIN_WORDS = 12
SEPARATOR = "\n\n"

FEATURE_NAMES: tuple[str, ...] = (
    "title_mentions",        # mentions in the headline, capped at 3
    "lead_mentions",         # log1p of mentions in the lead paragraph
    "total_mentions",        # log1p of all mentions (title and body)
    "mention_share",         # share of all partner mentions in the article
    "ratio_to_top",          # mentions / the most mentioned partner's mentions
    "is_top",                # the most mentioned partner (ties included)
    "inverse_rank",          # 1 / rank by mentions (ties share the best rank)
    "paragraphs",            # log1p of paragraphs mentioning it
    "paragraph_share",       # share of paragraphs mentioning it
    "first_position",        # where it first appears: 0 title, then paragraph index / count
    "pakistan_sentences",    # log1p of sentences that also mention Pakistan
    "pakistan_sentence_share",  # share of its sentences that also mention Pakistan
    "paired_with_pakistan",  # log1p of "Pak-China", "Pakistan and China", "Sino-Pak" pairs
    "title_with_pakistan",   # headline names both it and Pakistan
    "pakistan_paragraph_share",  # share of its paragraphs (and title) that also mention Pakistan
    "dominant_paragraphs",   # log1p of paragraphs (and title) where no partner is named more
    "dominant_share",        # those paragraphs / paragraphs naming it
    "own_paragraphs",        # log1p of paragraphs (and title) naming no other partner
    "list_share",            # share of its mentions that are items of a list of partners
    "demonym_share",         # share of its mentions that are demonyms ("Chinese", "Saudis")
    "partners_in_article",   # log1p of distinct partners mentioned (context)
    "pakistan_mentions",     # log1p of Pakistan mentions in the article (context)
    "pakistan_sentence_ratio",  # share of the article's sentences that mention Pakistan (context)
)


class Mention(NamedTuple):
    """One mention: canonical name, [start, end) offsets in the text, and the text matched."""

    partner: str
    start: int
    end: int
    surface: str


def _trie_pattern(words: Iterable[str]) -> str:
    """A regular expression matching any of `words`, factored as a prefix trie so the engine
    tries one branch per distinct next character instead of one per word; greedy optional
    groups prefer the longest form ("Guinea-Bissau" over "Guinea")."""
    trie: dict[str, Any] = {}
    for word in words:
        node = trie
        for char in word:
            node = node.setdefault(char, {})
        node[""] = {}

    def render(node: dict[str, Any]) -> str:
        ends_here = "" in node
        branches = [re.escape(char) + render(child) for char, child in sorted(node.items()) if char]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        if ends_here:
            return ("(?:" + body + ")?") if len(branches) > 1 or len(body) > 1 else body + "?"
        return body

    return render(trie)


class Gazetteer:
    """The compiled matcher of a stored gazetteer dict."""

    def __init__(self, data: Mapping[str, Any]) -> None:
        self.self_name: str = data["self"]
        self.entries: dict[str, dict[str, Any]] = dict(data["entries"])
        self.demonyms: frozenset[str] = frozenset(data.get("demonyms", ()))
        self._canonical: dict[str, str | None] = {}
        plain, before_hyphen, after_hyphen = set(), set(), set()
        for surface, canonical in data["aliases"].items():
            if surface.endswith("-"):
                word, group = surface[:-1], before_hyphen
            elif surface.startswith("-"):
                word, group = surface[1:], after_hyphen
            else:
                word, group = surface, plain
            if self._canonical.setdefault(word, canonical) != canonical:
                raise ValueError(f"'{word}' names both '{self._canonical[word]}' and '{canonical}'")
            group.add(word)
        for blocker in data.get("blockers", ()):
            self._canonical[blocker] = None
            plain.add(blocker)
        # Plain forms first: a blocker ("Indo-Pacific") must win over a hyphen form ("Indo-").
        branches = [_trie_pattern(plain)]
        if after_hyphen:
            branches.append("(?<=-)" + _trie_pattern(after_hyphen))
        if before_hyphen:
            branches.append("(?:" + _trie_pattern(before_hyphen) + ")(?=-)")
        # The class of first characters up front halves the scan time: most positions fail on it.
        first = "[" + "".join(sorted({re.escape(w[0]) for w in plain | before_hyphen | after_hyphen})) + "]"
        self._pattern = re.compile(r"(?=" + first + r")(?<!\w)(?:" + "|".join(branches) + r")(?!\w)")

    def mentions(self, text: str) -> list[Mention]:
        """Every mention in `text`, Pakistan's included, in order, in one pass."""
        canonical = self._canonical
        found = []
        for match in self._pattern.finditer(text):
            surface = match.group()
            partner = canonical[surface]
            if partner is not None:
                found.append(Mention(partner, match.start(), match.end(), surface))
        return found

    def partner_mentions(self, text: str) -> list[Mention]:
        """Mentions of partners only: Pakistan is recognised but never a partner."""
        return [m for m in self.mentions(text) if m.partner != self.self_name]

    def segment_mentions(self, title: str, paragraphs: Sequence[str]) -> list[list[Mention]]:
        """Mentions of the title, then of each paragraph, with offsets into each segment."""
        return [self.mentions(title) if title else [], *(self.mentions(text) for text in paragraphs)]

    def partner_features(self, title: str, paragraphs: Sequence[str],
                         segments: list[list[Mention]] | None = None
                         ) -> tuple[list[str], np.ndarray, np.ndarray]:
        """The candidate partners of an article (every partner it mentions, by first mention),
        their feature matrix (candidates x FEATURE_NAMES), and their mentions per paragraph
        (candidates x paragraphs), which locates the evidence for each partner. `segments`, when
        the caller already matched them (`segment_mentions`), saves a second pass over the text."""
        return _features(self, title, paragraphs, segments)


def _segment_starts(title: str, paragraphs: Sequence[str]) -> list[int]:
    starts, offset = [], 0
    for part in (title, *paragraphs):
        starts.append(offset)
        offset += len(part) + len(SEPARATOR)
    return starts


def _sentence_starts(text: str, segment_starts: list[int]) -> list[int]:
    """Sentence boundaries: ends of sentences and of segments (a title is its own sentence)."""
    bounds = set(segment_starts)
    bounds.update(match.end() for match in _SENTENCE_END.finditer(text))
    return sorted(bounds)


def _lead_index(paragraphs: Sequence[str]) -> int:
    return next((i for i, p in enumerate(paragraphs) if len(p.split()) >= LEAD_MIN_WORDS), 0)


def _paired(text: str, mention: Mention, pakistan: list[Mention]) -> bool:
    """Is this mention joined to a Pakistan mention ("Pak-China", "China and Pakistan")?"""
    for other in pakistan:
        if 0 <= mention.start - other.end <= _PAIR_GAP_MAX:
            gap = text[other.end:mention.start]
        elif 0 <= other.start - mention.end <= _PAIR_GAP_MAX:
            gap = text[mention.end:other.start]
        else:
            continue
        if _PAIR_GAP.fullmatch(gap):
            return True
    return False


def _in_list(text: str, first: Mention, second: Mention) -> bool:
    """Are two consecutive mentions items of one list ("Kenya, Tanzania and Mozambique")?"""
    return 0 <= second.start - first.end <= _LIST_GAP_MAX and bool(_LIST_GAP.fullmatch(text[first.end:second.start]))


def _features(gazetteer: Gazetteer, title: str, paragraphs: Sequence[str],
              segments: list[list[Mention]] | None) -> tuple[list[str], np.ndarray, np.ndarray]:
    text = SEPARATOR.join((title, *paragraphs))
    if segments is None:
        found = gazetteer.mentions(text)
    else:  # the same mentions, moved to offsets in the joined text
        found = [m._replace(start=m.start + start, end=m.end + start)
                 for start, segment in zip(_segment_starts(title, paragraphs), segments, strict=True)
                 for m in segment]
    n_paragraphs = len(paragraphs)
    pakistan = [m for m in found if m.partner == gazetteer.self_name]
    mentions = [m for m in found if m.partner != gazetteer.self_name]
    partners = list(dict.fromkeys(m.partner for m in mentions))
    if not partners:
        return [], np.zeros((0, len(FEATURE_NAMES))), np.zeros((0, n_paragraphs))
    segments = _segment_starts(title, paragraphs)
    sentences = _sentence_starts(text, segments)
    pakistan_sentences = {bisect.bisect_right(sentences, m.start) for m in pakistan}
    row = {p: i for i, p in enumerate(partners)}
    # segment 0 is the title; segment k >= 1 is paragraph k - 1.
    per_segment = np.zeros((len(partners), n_paragraphs + 1))
    sentences_of: list[set[int]] = [set() for _ in partners]
    paired = [0] * len(partners)
    demonyms = [0] * len(partners)
    listed = [0] * len(partners)
    for m, after in itertools.pairwise(mentions):
        if m.partner != after.partner and _in_list(text, m, after):
            listed[row[m.partner]] += 1
            listed[row[after.partner]] += 1
    pakistan_segments = np.zeros(len(segments), dtype=bool)
    pakistan_segments[[bisect.bisect_right(segments, m.start) - 1 for m in pakistan]] = True
    for m in mentions:
        i = row[m.partner]
        demonyms[i] += m.surface in gazetteer.demonyms
        per_segment[i, bisect.bisect_right(segments, m.start) - 1] += 1
        sentences_of[i].add(bisect.bisect_right(sentences, m.start))
        paired[i] += _paired(text, m, pakistan)
    totals = per_segment.sum(axis=1)
    top = totals.max()
    lead = 1 + _lead_index(paragraphs)
    title_pakistan = any(m.start < len(title) for m in pakistan)
    body = per_segment[:, 1:] > 0
    named = per_segment > 0
    segment_counts = named.sum(axis=1)
    dominant = (named & (per_segment == per_segment.max(axis=0))).sum(axis=1)
    own = (named & (named.sum(axis=0) == 1)).sum(axis=1)
    with_pakistan_segments = (named & pakistan_segments).sum(axis=1)
    features = np.zeros((len(partners), len(FEATURE_NAMES)))
    for i in range(len(partners)):
        with_pakistan = len(sentences_of[i] & pakistan_sentences)
        first = int(np.argmax(per_segment[i] > 0))
        in_title = per_segment[i, 0]
        features[i] = (
            min(in_title, 3.0),
            math.log1p(per_segment[i, lead]) if lead <= n_paragraphs else 0.0,
            math.log1p(totals[i]),
            totals[i] / totals.sum(),
            totals[i] / top,
            float(totals[i] == top),
            1.0 / (1 + int((totals > totals[i]).sum())),
            math.log1p(body[i].sum()),
            body[i].sum() / max(n_paragraphs, 1),
            first / max(n_paragraphs, 1),
            math.log1p(with_pakistan),
            with_pakistan / len(sentences_of[i]),
            math.log1p(paired[i]),
            float(bool(in_title) and title_pakistan),
            with_pakistan_segments[i] / segment_counts[i],
            math.log1p(dominant[i]),
            dominant[i] / segment_counts[i],
            math.log1p(own[i]),
            min(listed[i], totals[i]) / totals[i],
            demonyms[i] / totals[i],
            math.log1p(len(partners)),
            math.log1p(len(pakistan)),
            len(pakistan_sentences) / len(sentences),
        )
    return partners, features, per_segment[:, 1:]


class AboutModel:
    """The fitted "about" decision as plain numbers (standardise, logistic, Platt scaling,
    threshold), so the artifact stores a dict and scoring needs numpy only."""

    def __init__(self, params: Mapping[str, Any]) -> None:
        if tuple(params["feature_names"]) != FEATURE_NAMES:
            raise ValueError("the about model was fitted on other partner features; retrain it")
        self.mean = np.asarray(params["mean"], dtype=float)
        self.scale = np.asarray(params["scale"], dtype=float)
        self.coef = np.asarray(params["coef"], dtype=float)
        self.intercept = float(params["intercept"])
        self.platt_a, self.platt_b = (float(v) for v in params["platt"])
        self.threshold = float(params["threshold"])

    def probabilities(self, features: np.ndarray) -> np.ndarray:
        """Calibrated probability that the article is about each candidate."""
        raw = ((features - self.mean) / self.scale) @ self.coef + self.intercept
        return 1.0 / (1.0 + np.exp(-(self.platt_a * raw + self.platt_b)))

    def about(self, gazetteer: Gazetteer, title: str, paragraphs: Sequence[str],
              segments: list[list[Mention]] | None = None) -> list[tuple[str, float]]:
        """The partners the article is about, with their probability, most probable first."""
        partners, features, _ = gazetteer.partner_features(title, paragraphs, segments)
        if not partners:
            return []
        probs = self.probabilities(features)
        kept = [(p, float(q)) for p, q in zip(partners, probs, strict=True) if q >= self.threshold]
        return sorted(kept, key=lambda pq: -pq[1])
