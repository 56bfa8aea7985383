"""The partner gazetteer and mention matcher: exact offsets for every alias form, Pakistan never a
partner, no match inside words, full coverage of UN members and bodies, every header partner
resolvable."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from service.model.partners import FEATURE_NAMES, Gazetteer
from training.gazetteer import build_gazetteer, parseable_articles, unknown_partner_problems

DATA = Path(__file__).resolve().parent.parent / "data"

ALIAS_ARTICLE = (
    "Pak-China ties: China's envoy met Sino-Pakistan officials in Beijing. "
    "The U.S. and the UAE's Saudi-led coalition met in Riyadh, where Emirati, Chinese and Afghan delegates "
    "joined the IMF and the World Bank; the Fund said Pak-Afghan, Pak-US and Pak-Saudi trade grew. "
    "Indo-Pak talks in New Delhi, Britain and the UK, the EU in Brussels, Türkiye and Turkiye, the UN and WHO."
)


@pytest.fixture(scope="module")
def stored() -> dict:
    return build_gazetteer(DATA)


@pytest.fixture(scope="module")
def gazetteer(stored: dict) -> Gazetteer:
    return Gazetteer(stored)


def spans(gazetteer: Gazetteer, text: str) -> list[tuple[str, int, int]]:
    return [(m.partner, m.start, m.end) for m in gazetteer.mentions(text)]


def test_every_alias_form_is_found_at_its_exact_offsets(gazetteer: Gazetteer) -> None:
    assert spans(gazetteer, ALIAS_ARTICLE) == [
        ("Pakistan", 0, 3), ("China", 4, 9),                        # Pak-China
        ("China", 16, 21),                                           # China's
        ("China", 34, 38), ("Pakistan", 39, 47),                     # Sino-Pakistan
        ("China", 61, 68),                                           # Beijing
        ("United States", 74, 78),                                   # U.S.
        ("United Arab Emirates", 87, 90),                            # the UAE's
        ("Saudi Arabia", 93, 98),                                    # Saudi-led
        ("Saudi Arabia", 120, 126),                                  # Riyadh
        ("United Arab Emirates", 134, 141), ("China", 143, 150), ("Afghanistan", 155, 161),  # demonyms
        ("IMF", 183, 186), ("World Bank", 195, 205), ("IMF", 207, 215),  # IMF, World Bank, the Fund
        ("Pakistan", 221, 224), ("Afghanistan", 225, 231),           # Pak-Afghan
        ("Pakistan", 233, 236), ("United States", 237, 239),         # Pak-US
        ("Pakistan", 244, 247), ("Saudi Arabia", 248, 253),          # Pak-Saudi
        ("India", 266, 270), ("Pakistan", 271, 274),                 # Indo-Pak
        ("India", 284, 293),                                         # New Delhi
        ("United Kingdom", 295, 302), ("United Kingdom", 311, 313),  # Britain, UK
        ("European Union", 319, 321), ("European Union", 325, 333),  # EU, Brussels
        ("Turkey", 335, 342), ("Turkey", 347, 354),                  # Türkiye, Turkiye
        ("United Nations", 360, 362), ("United Nations", 367, 370),  # UN, WHO
    ]
    for mention in gazetteer.mentions(ALIAS_ARTICLE):
        assert ALIAS_ARTICLE[mention.start:mention.end] == mention.surface


def test_datelines_in_capitals_and_plural_demonyms(gazetteer: Gazetteer) -> None:
    text = "TOKYO, June 2 - Afghans and Emiratis met Americans in NEW DELHI."
    assert spans(gazetteer, text) == [
        ("Japan", 0, 5), ("Afghanistan", 16, 23), ("United Arab Emirates", 28, 36),
        ("United States", 41, 50), ("India", 54, 63),
    ]


def test_pakistan_is_recognised_but_never_a_partner(gazetteer: Gazetteer) -> None:
    text = "Pakistan's Islamabad office said Pakistani exporters and Pak-China trade grew."
    assert [m.partner for m in gazetteer.mentions(text)] == ["Pakistan", "Pakistan", "Pakistan", "Pakistan", "China"]
    assert [m.partner for m in gazetteer.partner_mentions(text)] == ["China"]
    partners, features, per_paragraph = gazetteer.partner_features("Pakistan and China", [text, "Pakistan alone."])
    assert partners == ["China"]
    assert features.shape == (1, len(FEATURE_NAMES))
    assert per_paragraph.tolist() == [[1.0, 0.0]]
    assert gazetteer.partner_features("Pakistan", ["Islamabad, Lahore and Karachi."])[0] == []


def test_no_match_inside_words_or_in_lower_case(gazetteer: Gazetteer) -> None:
    # "Chinatown" is not China, by decision: a neighbourhood abroad is not a government.
    text = ("Indiana usage of Chinatown: us and un turkey, china plates and a jordan in Georgian homes, "
            "Omanisation? The Indo-Pacific and the Indian Ocean, Latin America.")
    assert spans(gazetteer, text) == []


def test_case_sensitive_short_forms(gazetteer: Gazetteer) -> None:
    assert spans(gazetteer, "Let us see the US and the UN plan.") == [
        ("United States", 15, 17), ("United Nations", 26, 28),
    ]


def test_longest_form_wins(gazetteer: Gazetteer) -> None:
    text = "Guinea-Bissau, Papua New Guinea, Guinea, South Korea, North Korea and the Paris Club."
    assert spans(gazetteer, text) == [
        ("Guinea-Bissau", 0, 13), ("Papua New Guinea", 15, 31), ("Guinea", 33, 39),
        ("South Korea", 41, 52), ("North Korea", 54, 65), ("Paris Club", 74, 84),
    ]


def test_features_describe_the_article(gazetteer: Gazetteer) -> None:
    title = "Pakistan, China sign deal"
    paragraphs = ["ISLAMABAD - Pakistan and China signed a trade agreement on Monday in the capital city.",
                  "Officials said Chinese firms would invest, while the IMF was not consulted."]
    partners, features, per_paragraph = gazetteer.partner_features(title, paragraphs)
    assert partners == ["China", "IMF"]
    column = dict(zip(FEATURE_NAMES, features.T, strict=True))
    assert column["title_mentions"].tolist() == [1.0, 0.0]
    assert column["is_top"].tolist() == [1.0, 0.0]
    assert column["mention_share"].tolist() == pytest.approx([0.75, 0.25])
    assert column["paired_with_pakistan"][0] > 0 and column["paired_with_pakistan"][1] == 0
    assert per_paragraph.tolist() == [[1.0, 1.0], [0.0, 1.0]]
    assert np.isfinite(features).all()


def test_un_members_and_bodies_are_covered(stored: dict) -> None:
    import tomllib

    members = [name for name, entry in stored["entries"].items() if entry["un_member"]]
    assert len(members) == 193
    codes = tomllib.loads((DATA / "partners.toml").read_text(encoding="utf-8"))["un_members"]
    assert {stored["entries"][name]["code"] for name in members} == set(codes)
    bodies = {name for name, entry in stored["entries"].items() if entry["kind"] == "body"}
    assert bodies >= {
        "IMF", "World Bank", "Asian Development Bank", "Asian Infrastructure Investment Bank",
        "Islamic Development Bank", "United Nations", "European Union", "Shanghai Cooperation Organisation",
        "Organisation of Islamic Cooperation", "Gulf Cooperation Council", "SAARC", "ASEAN", "NATO",
        "Financial Action Task Force", "Paris Club", "Commonwealth", "BRICS", "G20", "African Union",
        "Arab League", "Economic Cooperation Organization", "D-8", "CAREC", "New Development Bank",
    }
    aliases = stored["aliases"]
    for agency in ("UNHCR", "UNICEF", "WFP", "WHO", "UNDP", "FAO", "ILO", "IAEA", "UN Security Council",
                   "UN General Assembly"):
        assert aliases[agency] == "United Nations"
    assert aliases["the Fund"] == "IMF" and aliases["Brussels"] == "European Union"
    assert sum(entry["kind"] == "country" for entry in stored["entries"].values()) == 249


def test_canonical_names_are_how_news_writes_them(stored: dict) -> None:
    for name in ("Russia", "South Korea", "Turkey", "Iran", "Vietnam", "United States", "United Kingdom",
                 "United Arab Emirates", "Syria", "Laos", "Tanzania"):
        assert stored["entries"][name]["kind"] == "country"
    for pycountry_name in ("Russian Federation", "Korea, Republic of", "Türkiye", "Viet Nam"):
        assert pycountry_name not in stored["entries"]


def test_every_corpus_header_partner_resolves(stored: dict) -> None:
    problems = unknown_partner_problems(parseable_articles(DATA), stored)
    assert problems == [], "\n".join(map(str, problems))


def test_unknown_partners_get_the_closest_canonical_name(stored: dict, tmp_path: Path) -> None:
    from training.corpus import Article

    def article(*partners: str) -> Article:
        return Article(id="x", title="t", style="wire", source="team", partners=partners, in_scope=True,
                       topics=(), stance="neutral", paragraphs=(), path=tmp_path / "x.txt")

    messages = [p.message for p in unknown_partner_problems([article("US", "Chna", "Pakistan", "China")], stored)]
    assert messages == [
        "unknown partner 'US': it is a form of 'United States'; write the canonical 'United States'",
        "unknown partner 'Chna': did you mean 'China'? (canonical names: data/partners.toml and pycountry)",
        "partner 'Pakistan' is Pakistan itself, never a partner; remove it",
    ]
