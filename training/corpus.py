"""Reads the labelled article files of `data/articles/` (format: data/README.md).

Parsing never stops at the first problem: every problem is collected with its file and line so
an analyst fixes a whole batch in one pass, and a corpus with any problem is never returned
half-loaded. Only the standard library is used, so `make validate` works before installing.
"""

from __future__ import annotations

import difflib
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from service.model.codebook import Codebook

HEADER_FENCE = "+++"
LABEL_PREFIX = "@"
NO_TOPIC = "-"
# Page furniture pasted along with web text ("Advertisement", share lines, tickers): kept in the
# corpus so the model learns to recognise it, never given a stance or a topic.
FURNITURE = "furniture"
ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]*$")
DATE_PATTERN = re.compile(r"^\d{4}-\d{2}-\d{2}$")
REQUIRED_FIELDS = ("id", "title", "style", "source", "batch", "event", "partners", "in_scope", "topics", "stance")
OPTIONAL_FIELDS = ("date",)


@dataclass(frozen=True)
class Paragraph:
    text: str
    topics: tuple[str, ...]
    stance: str
    line: int
    furniture: bool = False


@dataclass(frozen=True)
class Article:
    id: str
    title: str
    style: str
    source: str
    partners: tuple[str, ...]
    in_scope: bool
    topics: tuple[str, ...]
    stance: str
    paragraphs: tuple[Paragraph, ...]
    path: Path
    date: str = ""
    group: str = ""
    batch: str = ""
    event: str = ""

    @property
    def cv_group(self) -> str:
        """Cross-validation group: articles sharing one are never split across folds."""
        return self.group or self.id

    @property
    def batch_group(self) -> str:
        """Writing-batch group: a batch shares a writer and a brief, so batch-held-out folds are
        the honest proxy for text nobody here wrote. Articles without a batch stand alone."""
        return self.batch or self.cv_group


@dataclass(frozen=True)
class Problem:
    where: str
    line: int
    message: str

    def __str__(self) -> str:
        location = f"{self.where}:{self.line}" if self.line else self.where
        return f"{location}: {self.message}"


@dataclass
class ParseResult:
    articles: list[Article] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


def closest(value: str, valid: list[str] | tuple[str, ...]) -> str:
    """The fix part of an 'unknown label' message."""
    match = difflib.get_close_matches(value, list(valid), n=1, cutoff=0.0)
    hint = f"did you mean '{match[0]}'? " if match else ""
    return f"{hint}valid: {', '.join(valid)}"


def display_path(path: Path) -> str:
    """Paths in reports relative to where the analyst stands, so editors can jump to them."""
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def normalise_text(text: str) -> str:
    """The form two paragraphs are compared in when looking for duplicates."""
    return " ".join(text.split()).casefold()


def parse_article_file(path: Path, codebook: Codebook) -> ParseResult:
    result = ParseResult()
    where = display_path(path)

    def problem(line: int, message: str) -> None:
        result.problems.append(Problem(where, line, message))

    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as exc:
        problem(0, f"malformed file: not UTF-8 ({exc.reason} at byte {exc.start}); save it as UTF-8")
        return result
    if not lines or lines[0].strip() != HEADER_FENCE:
        problem(1, f"malformed file: must start with a '{HEADER_FENCE}' line opening the TOML header")
        return result
    try:
        end = next(i for i in range(1, len(lines)) if lines[i].strip() == HEADER_FENCE)
    except StopIteration:
        problem(1, f"malformed file: the header is never closed; add a '{HEADER_FENCE}' line after it")
        return result
    try:
        header = tomllib.loads("\n".join(lines[1:end]))
    except tomllib.TOMLDecodeError as exc:
        problem(2, f"malformed header: {exc} (header lines are counted from line 2)")
        return result

    paragraphs = _parse_paragraphs(lines, end + 1, codebook, problem)
    article = _build_article(path, header, paragraphs, codebook, problem)
    if article is not None and not result.problems:
        result.articles.append(article)
    return result


def _parse_paragraphs(lines, start, codebook, problem) -> list[Paragraph]:
    paragraphs: list[Paragraph] = []
    label: tuple[int, tuple[str, ...], str] | None = None
    text: list[str] = []

    def close() -> None:
        if label is None:
            return
        line, topics, stance = label
        body = " ".join(part.strip() for part in text if part.strip())
        if not body:
            problem(line, "empty paragraph: write its text on the lines after the '@' line, or delete the label")
        elif stance == FURNITURE:
            paragraphs.append(Paragraph(body, (), codebook.neutral_stance, line, furniture=True))
        else:
            paragraphs.append(Paragraph(body, topics, stance, line))

    for index in range(start, len(lines)):
        raw = lines[index]
        number = index + 1
        if raw.startswith(LABEL_PREFIX):
            close()
            label, text = _parse_label_line(raw, number, codebook, problem), []
        elif raw.strip() and label is None:
            problem(number, "text before the first label line: start each paragraph with "
                            f"'{LABEL_PREFIX} <stance> | <topics>'")
            label, text = (number, (), ""), [raw]
        else:
            text.append(raw)
    close()
    return paragraphs


def _parse_label_line(raw, number, codebook, problem) -> tuple[int, tuple[str, ...], str]:
    body = raw[len(LABEL_PREFIX):]
    if body.strip() == FURNITURE:
        return number, (), FURNITURE
    if "|" not in body:
        problem(number, f"malformed label line: write '{LABEL_PREFIX} <stance> | <topic>, <topic>' ('-' for no topic), "
                        f"or '{LABEL_PREFIX} {FURNITURE}' for pasted page furniture")
        return number, (), ""
    stance_part, topic_part = (part.strip() for part in body.split("|", 1))
    stance = stance_part
    if not stance:
        problem(number, f"missing stance: put one of {', '.join(codebook.stance_ids)} before the '|'")
    elif stance not in codebook.stance_ids:
        problem(number, f"unknown stance '{stance}': {closest(stance, codebook.stance_ids)}")
    if not topic_part:
        problem(number, f"missing topics: list them after the '|', or write '{NO_TOPIC}' for a paragraph with no topic")
        return number, (), stance
    if topic_part == NO_TOPIC:
        return number, (), stance
    topics = tuple(t.strip() for t in topic_part.split(",") if t.strip())
    for topic in topics:
        if topic not in codebook.topic_ids:
            problem(number, f"unknown topic '{topic}': {closest(topic, codebook.topic_ids)}")
    repeated = sorted({t for t in topics if topics.count(t) > 1})
    if repeated:
        problem(number, f"topic listed twice: {', '.join(repeated)}; list each topic once")
    return number, tuple(dict.fromkeys(topics)), stance


def _build_article(path, header, paragraphs, codebook, problem) -> Article | None:
    known = REQUIRED_FIELDS + OPTIONAL_FIELDS
    for key in header:
        if key not in known:
            problem(2, f"unknown header field '{key}': {closest(key, known)}")
    missing = [key for key in REQUIRED_FIELDS if key not in header]
    for key in missing:
        problem(2, f"missing header field '{key}': add `{key} = ...` (see data/README.md)")
    if missing:
        return None
    ok = _check_header_values(path, header, codebook, problem)
    if not paragraphs:
        problem(0, "no paragraphs: an article needs at least one '@' label line with text")
        return None
    if not ok:
        return None
    article = Article(
        id=header["id"], title=header["title"].strip(), style=header["style"],
        source=header["source"], partners=tuple(header["partners"]),
        in_scope=header["in_scope"], topics=tuple(header["topics"]), stance=header["stance"],
        paragraphs=tuple(paragraphs), path=path, date=header.get("date", ""),
        batch=header["batch"], event=header["event"],
    )
    _check_consistency(article, codebook, problem)
    return article


def _check_header_values(path, header, codebook, problem) -> bool:
    errors: list[str] = []
    aid = header["id"]
    if not isinstance(aid, str) or not ID_PATTERN.match(aid):
        errors.append(f"id {aid!r} must be lowercase letters, digits and '-'")
    elif aid != path.stem:
        errors.append(f"id '{aid}' must equal the file name; rename the file to {aid}.txt or change the id")
    if not isinstance(header["title"], str) or not header["title"].strip():
        errors.append("title must be a non-empty string")
    if header["style"] not in codebook.styles:
        errors.append(f"unknown style '{header['style']}': {closest(str(header['style']), codebook.styles)}")
    if header["source"] not in codebook.sources:
        errors.append(f"unknown source '{header['source']}': {closest(str(header['source']), codebook.sources)}")
    if "date" in header and not (isinstance(header["date"], str) and DATE_PATTERN.match(header["date"])):
        errors.append(f"date {header['date']!r} must be a quoted string YYYY-MM-DD")
    if not isinstance(header["batch"], str) or not ID_PATTERN.match(header["batch"]):
        errors.append(f"batch {header['batch']!r} must name the writing batch in lowercase letters, digits and '-'")
    if header["event"] not in codebook.event_ids:
        errors.append(f"unknown event '{header['event']}': {closest(str(header['event']), codebook.event_ids)}")
    if not isinstance(header["in_scope"], bool):
        errors.append("in_scope must be true or false (unquoted)")
    partners = header["partners"]
    if not isinstance(partners, list) or not all(isinstance(p, str) and p.strip() for p in partners):
        errors.append('partners must be a list of names, e.g. ["China", "IMF"]')
    topics = header["topics"]
    if not isinstance(topics, list):
        errors.append('topics must be a list, e.g. ["trade"] or []')
    else:
        errors += [f"unknown article topic '{t}': {closest(str(t), codebook.topic_ids)}"
                   for t in topics if t not in codebook.topic_ids]
    if header["stance"] not in codebook.stance_ids:
        stance = str(header["stance"])
        errors.append(f"unknown article stance '{stance}': {closest(stance, codebook.stance_ids)}")
    for message in errors:
        problem(2, message)
    return not errors


def _check_consistency(article: Article, codebook: Codebook, problem) -> None:
    carried = {t for p in article.paragraphs for t in p.topics}
    for topic in article.topics:
        if topic not in carried:
            problem(2, f"article topic '{topic}' is carried by no paragraph: "
                       "label the paragraphs that discuss it, or drop it from the header")
    if article.in_scope and not article.partners:
        problem(2, "in-scope article without partners: name the countries or bodies it is about")
    if not article.in_scope:
        if article.topics:
            problem(2, "out-of-scope article with topics: set topics = [] (paragraph labels stay)")
        if article.stance != codebook.neutral_stance:
            problem(2, f"out-of-scope article must have stance '{codebook.neutral_stance}'")
    event = next((e for e in codebook.events if e.id == article.event), None)
    if event is not None and article.stance not in event.stances:
        problem(2, f"event '{event.id}' allows article stance {', '.join(event.stances)}, not "
                   f"'{article.stance}': fix the stance or choose another event")
    if event is not None and event.id.startswith("oos_") and article.in_scope:
        problem(2, f"event '{event.id}' is out of scope: set in_scope = false or choose another event")
    if all(p.furniture for p in article.paragraphs):
        problem(2, "only furniture paragraphs: an article needs at least one labelled paragraph")
    seen: dict[str, int] = {}
    for paragraph in article.paragraphs:
        key = normalise_text(paragraph.text)
        if key in seen:
            problem(paragraph.line, f"duplicate paragraph: same text as line {seen[key]}; delete one")
        seen.setdefault(key, paragraph.line)
