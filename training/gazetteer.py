"""Builds the partner gazetteer from pycountry and `data/partners.toml`, and checks the corpus
headers against it.

The result is a plain, JSON-able dict stored inside the model artifact: the service compiles
its matcher from that dict (`service.model.partners.Gazetteer`) and never imports pycountry, so
the list of countries the service knows is the one the model was trained with.

Run `python -m training.gazetteer [data_dir]` to list the header partners of today's corpus that
do not resolve to a canonical entry (exit status 1 when there is any).
"""

from __future__ import annotations

import difflib
import re
import sys
import tomllib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from service.model.codebook import load_codebook
from training.corpus import Article, Problem, display_path, parse_article_file

GAZETTEER_VERSION = 1
PARTNERS_FILE = "partners.toml"
# Title-case names at least this long also match in capitals (datelines: "TOKYO, June 2").
UPPERCASE_MIN_LENGTH = 4
_TITLE_WORDS = re.compile(r"^[A-ZÀ-Þ][a-zß-ÿ]+(?: [A-ZÀ-Þ][a-zß-ÿ]+)*$")


class GazetteerError(ValueError):
    """The hand-written file contradicts itself or pycountry (e.g. one alias, two partners)."""


def _pycountry_names(country: Any) -> list[str]:
    """The names pycountry gives a country, in running-text form: inverted names with a comma
    ("Korea, Republic of") are dropped, parentheses and a leading "the" removed."""
    names = []
    for attribute in ("common_name", "name", "official_name"):
        value = getattr(country, attribute, None)
        if not value or "," in value:
            continue
        value = re.sub(r"\s*\([^)]*\)", "", value).strip()
        value = value[4:] if value.startswith("the ") else value
        names.append(value)
    return names


def _plurals(demonym: str) -> list[str]:
    """"Afghan" -> "Afghans", "Saudi" -> "Saudis"; "Chinese", "Dutch", "Swiss" stay as they are."""
    return [demonym + "s"] if demonym[-1] in "in" else []


def _uppercase(surface: str) -> list[str]:
    if len(surface) >= UPPERCASE_MIN_LENGTH and _TITLE_WORDS.match(surface):
        return [surface.upper()]
    return []


def _expand(surfaces: Iterable[str]) -> list[str]:
    """Each form, plus its capitals variant where it has one."""
    return [form for surface in surfaces for form in (surface, *_uppercase(surface))]


class _AliasTable:
    """Surface form -> canonical name, refusing a form claimed by two partners."""

    def __init__(self) -> None:
        self.aliases: dict[str, str] = {}

    def add(self, surface: str, canonical: str) -> None:
        previous = self.aliases.setdefault(surface, canonical)
        if previous != canonical:
            raise GazetteerError(f"'{surface}' names both '{previous}' and '{canonical}'; keep it for one")


def build_gazetteer(data_dir: Path = Path("data")) -> dict[str, Any]:
    """The full gazetteer: every ISO 3166 country (pycountry) plus the bodies of partners.toml.

    Keys: `version`, `self` (canonical name of Pakistan: recognised, never a partner),
    `entries` (canonical -> kind, code, un_member), `aliases` (surface form -> canonical; a form
    ending or starting with "-" only matches next to a hyphen), `blockers` (phrases never a
    partner), `demonyms` (the forms that are demonyms: "Chinese engineers" says less about
    relations with China than "China" does).
    """
    import pycountry  # training-time only: the service reads the stored dict

    spec = tomllib.loads((data_dir / PARTNERS_FILE).read_text(encoding="utf-8"))
    hand: dict[str, dict[str, Any]] = spec.get("countries", {})
    unknown_codes = [c for c in [*hand, *spec["un_members"]] if pycountry.countries.get(alpha_3=c) is None]
    if unknown_codes:
        raise GazetteerError(f"not ISO 3166 alpha-3 codes: {', '.join(sorted(set(unknown_codes)))}")
    un_members = set(spec["un_members"])
    entries: dict[str, dict[str, Any]] = {}
    table = _AliasTable()
    demonym_forms: set[str] = set()
    for country in pycountry.countries:
        extra = hand.get(country.alpha_3, {})
        names = _pycountry_names(country)
        canonical = extra.get("name") or (names[0] if names else None)
        if canonical is None:
            raise GazetteerError(f"{country.alpha_3} ({country.name}): give it a `name` in {PARTNERS_FILE}")
        entries[canonical] = {"kind": "country", "code": country.alpha_3, "un_member": country.alpha_3 in un_members}
        demonyms = extra.get("demonyms", [])
        plurals = [p for d in demonyms for p in _plurals(d)]
        for form in _expand([canonical, *names, *extra.get("aliases", []), *demonyms, *plurals]):
            table.add(form, canonical)
        demonym_forms.update(_expand([*demonyms, *plurals]))
    for code, body in spec.get("bodies", {}).items():
        canonical = body["name"]
        if canonical in entries:
            raise GazetteerError(f"body {code}: '{canonical}' is already a country")
        entries[canonical] = {"kind": "body", "code": code, "un_member": False}
        for form in _expand([canonical, *body.get("aliases", [])]):
            table.add(form, canonical)
    self_name = next(name for name, e in entries.items() if e["code"] == spec["self"])
    blockers = sorted({form for b in spec.get("blockers", []) for form in (b, *_uppercase(b))})
    return {
        "version": GAZETTEER_VERSION,
        "self": self_name,
        "entries": entries,
        "aliases": dict(sorted(table.aliases.items())),
        "blockers": blockers,
        "demonyms": sorted(demonym_forms),
    }


def resolve_partner(name: str, gazetteer: dict[str, Any]) -> str | None:
    """The canonical entry a header partner is, or None. Only exact canonical names resolve:
    the model's gold labels compare names, so "US" in a header is an error, not a synonym."""
    return name if name in gazetteer["entries"] and name != gazetteer["self"] else None


def _partners_line(path: Path) -> int:
    """The header line of `partners = [...]`, so an editor can jump to it (2 when not found)."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return 2
    return next((i + 1 for i, line in enumerate(lines) if line.startswith("partners")), 2)


def unknown_partner_problems(articles: Iterable[Article], gazetteer: dict[str, Any]) -> list[Problem]:
    """Every header partner that is not a canonical entry, with the fix: the canonical name an
    alias stands for ("US" -> "United States"), else the closest canonical name (difflib)."""
    canonical = sorted(n for n in gazetteer["entries"] if n != gazetteer["self"])
    problems: list[Problem] = []
    for article in articles:
        for partner in article.partners:
            if resolve_partner(partner, gazetteer) is not None:
                continue
            problems.append(Problem(display_path(article.path), _partners_line(article.path),
                                    _unknown_message(partner, gazetteer, canonical)))
    return problems


def _unknown_message(partner: str, gazetteer: dict[str, Any], canonical: list[str]) -> str:
    if partner == gazetteer["self"]:
        return f"partner '{partner}' is Pakistan itself, never a partner; remove it"
    alias_of = gazetteer["aliases"].get(partner.strip())
    if alias_of == gazetteer["self"]:
        return f"partner '{partner}' names Pakistan itself, never a partner; remove it"
    if alias_of is not None:
        return f"unknown partner '{partner}': it is a form of '{alias_of}'; write the canonical '{alias_of}'"
    match = difflib.get_close_matches(partner, canonical, n=1, cutoff=0.0)
    hint = f"did you mean '{match[0]}'? " if match else ""
    return f"unknown partner '{partner}': {hint}(canonical names: data/{PARTNERS_FILE} and pycountry)"


def parseable_articles(data_dir: Path) -> list[Article]:
    """Articles of the files that parse cleanly today; files still being written are skipped,
    so the check works while writers are mid-way (whole-corpus validation refuses then)."""
    codebook = load_codebook(data_dir / "codebook.toml")
    articles: list[Article] = []
    for path in sorted((data_dir / "articles").glob("*.txt")):
        articles += parse_article_file(path, codebook).articles
    return articles


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    data_dir = Path(args[0]) if args else Path("data")
    gazetteer = build_gazetteer(data_dir)
    articles = parseable_articles(data_dir)
    problems = unknown_partner_problems(articles, gazetteer)
    for problem in problems:
        print(problem)
    countries = sum(e["kind"] == "country" for e in gazetteer["entries"].values())
    print(f"{len(articles)} articles checked; gazetteer: {countries} countries, "
          f"{len(gazetteer['entries']) - countries} bodies, {len(gazetteer['aliases'])} surface forms; "
          f"{len(problems)} unknown partner(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
