"""Text normalisation that runs as the first step of the feature Pipeline.

It lives in `service/` because the pickled Pipeline refers to it by import path and the service
must be able to load the model without `training/`. Digits become '0' so that "$1.54 billion" and
"$3.2 billion" are the same feature: figures signal a kind of paragraph, not a particular value.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

_DIGITS = re.compile(r"\d")
_QUOTES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"',
                         "\u2013": "-", "\u2014": "-", "\u00a0": " "})


def normalise_texts(texts: Iterable[str]) -> list[str]:
    return [_DIGITS.sub("0", unicodedata.normalize("NFKC", t).translate(_QUOTES).lower())
            for t in texts]
