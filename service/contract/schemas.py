"""Request and response bodies of the HTTP API; `/docs` is generated from these."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints

from service.contract.examples import (
    ARTICLE_FEEDBACK_EXAMPLE,
    BATCH_REQUEST_EXAMPLE,
    CLASSIFY_REQUEST_EXAMPLE,
    CLASSIFY_RESPONSE_EXAMPLE,
    FEEDBACK_REQUEST_EXAMPLE,
)
from service.feedback.store import FeedbackRecord


def _valid_unicode(value: str) -> str:
    """Text must be encodable as UTF-8 on the way back out (no lone surrogates) and NUL-free."""
    if "\x00" in value:
        raise ValueError("contains NUL characters (\\u0000); remove them")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError(f"contains invalid Unicode at position {exc.start} (an unpaired surrogate); "
                         "send valid UTF-8 text") from exc
    return value


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must contain some non-whitespace text")
    return value


# The patterns only document in the OpenAPI schema what the validators enforce (with clearer messages),
# so clients and fuzzers know NUL characters and blank text are refused.
CleanStr = Annotated[str, AfterValidator(_valid_unicode), Field(json_schema_extra={"pattern": "^[^\\x00]*$"})]
ArticleText = Annotated[str, AfterValidator(_valid_unicode), AfterValidator(_not_blank),
                        Field(json_schema_extra={"pattern": "^[^\\x00]*[^\\x00\\s][^\\x00]*$"})]
ShortStr = Annotated[CleanStr, StringConstraints(max_length=500)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class ArticleRequest(_Strict):
    model_config = ConfigDict(extra="forbid", strict=True, json_schema_extra={"examples": [CLASSIFY_REQUEST_EXAMPLE]})

    text: ArticleText = Field(description="The article body; paragraphs separated by blank lines.")
    title: ShortStr | None = Field(None, description="Headline; used for the scope decision.")
    id: ShortStr | None = Field(None, description="Your identifier, echoed back unchanged.")


class BatchRequest(_Strict):
    model_config = ConfigDict(extra="forbid", strict=True, json_schema_extra={"examples": [BATCH_REQUEST_EXAMPLE]})

    items: list[ArticleRequest] = Field(min_length=1, description="Articles, answered in the same order.")


class ScopeOut(BaseModel):
    label: bool = Field(description="True when the article is about Pakistan's foreign relations.")
    score: float = Field(description="Calibrated probability that the article is in scope.")
    threshold: float


class LabelScore(BaseModel):
    label: str
    score: float


class StanceOut(BaseModel):
    label: str
    scores: dict[str, float]


class ParagraphOut(BaseModel):
    index: int
    start: int = Field(description="Offset of the paragraph's first character in the submitted text.")
    end: int = Field(description="Offset just past its last character: text[start:end] is the paragraph.")
    topics: list[LabelScore]
    stance: StanceOut
    furniture: bool = Field(description="Pasted page furniture (\"Advertisement\", share lines, tickers): "
                                        "no topic, neutral, no weight in the article labels.")


class MentionOut(BaseModel):
    paragraph: int = Field(description="Index of the paragraph holding the mention.")
    start: int = Field(description="Offset of the mention in the submitted text.")
    end: int = Field(description="Offset just past it: text[start:end] is the mention.")
    text: str = Field(description="The form found: a name, abbreviation, demonym or capital.")


class PartnerOut(BaseModel):
    name: str = Field(description="Canonical name of the country or international body (GET /v1/labels).")
    salience: float = Field(description="Calibrated probability that the article is about this partner.")
    stance: StanceOut = Field(description="Stance toward this partner: of the paragraphs naming it when the "
                                          "article has two or more partners, else the article stance.")
    evidence: list[int] = Field(description="Paragraphs that name the partner.")
    mentions: list[MentionOut]


class EvidenceOut(BaseModel):
    topics: dict[str, list[int]] = Field(description="For each article topic, the paragraphs carrying it.")
    stance: list[int] = Field(description="Topical paragraphs sharing the article stance.")
    in_scope: list[int] = Field(description="Paragraphs carrying at least one topic.")


class TermWeight(BaseModel):
    term: str
    weight: float


class ClassifyResponse(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [CLASSIFY_RESPONSE_EXAMPLE]})

    id: str | None
    model_version: str
    in_scope: ScopeOut
    topics: list[LabelScore] = Field(description="Article topics over their thresholds, highest score first.")
    topic_scores: dict[str, float] = Field(description="Calibrated score of every topic.")
    stance: StanceOut
    uncertain: bool = Field(description="True when the scope or stance decision is close to its threshold.")
    paragraphs: list[ParagraphOut]
    partners: list[PartnerOut] = Field(description="The partners the article is about (never Pakistan), most "
                                                   "salient first; empty when out of scope.")
    evidence: EvidenceOut
    explanation: dict[str, list[TermWeight]] | None = Field(
        None, description="With ?explain=true: per assigned label, the article's terms that pushed it most.")


class BatchResponse(BaseModel):
    model_version: str
    results: list[ClassifyResponse]


def _integral(value: object) -> object:
    """JSON Schema counts 1.0 as the integer 1 (so clients and fuzzers may send it); strict pydantic would not."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


class ParagraphCorrection(_Strict):
    index: Annotated[int, BeforeValidator(_integral)] = Field(
        ge=0, description="Paragraph index as returned by /v1/classify (`text` split at blank lines). An index "
                          "the text does not have is stored all the same; training reports it and skips it.")
    topics: list[CleanStr] | None = None
    stance: CleanStr | None = None


FEEDBACK_LEVELS = ("article", "paragraph")


class _Correction(_Strict):
    """What both levels of correction have. Every label field is optional: one left out (or null) is left
    unchanged. A correction with no label at all is stored too (its note may flag the text for a person);
    training reports it and learns nothing from it."""

    level: str
    text: ArticleText
    title: ShortStr | None = None
    topics: list[CleanStr] | None = Field(None, description="Corrected topics (omit to leave unchanged).")
    stance: CleanStr | None = Field(None, description="Corrected stance (omit to leave unchanged).")
    note: Annotated[CleanStr, StringConstraints(max_length=2000)] | None = None
    annotator: ShortStr | None = None
    client_id: ShortStr | None = Field(None, description="Idempotency key: the same id is stored once.")
    model_version: ShortStr | None = Field(None, description="The model version that made the corrected prediction.")


class ArticleFeedback(_Correction):
    """A correction of a whole article: its labels and, by index, its paragraphs' labels."""

    model_config = ConfigDict(extra="forbid", strict=True, json_schema_extra={"examples": [ARTICLE_FEEDBACK_EXAMPLE]})

    level: Literal["article"] = Field(description="`text` is a whole article.")
    text: ArticleText = Field(description="The article's text, paragraphs separated by blank lines.")
    in_scope: bool | None = Field(None, description="Corrected scope verdict.")
    paragraphs: list[ParagraphCorrection] | None = Field(
        None, description="Corrected labels of individual paragraphs.")


class ParagraphFeedback(_Correction):
    """A correction of one paragraph on its own: its topics, its stance, or both."""

    model_config = ConfigDict(extra="forbid", strict=True, json_schema_extra={"examples": [FEEDBACK_REQUEST_EXAMPLE]})

    level: Literal["paragraph"] = Field(description="`text` is one paragraph.")
    text: ArticleText = Field(description="The paragraph's text.")


# One model per level, chosen by `level` (an OpenAPI discriminator): each states its own fields.
FeedbackRequest = Annotated[ArticleFeedback | ParagraphFeedback, Field(discriminator="level")]


class FeedbackCreated(BaseModel):
    id: int
    created: bool = Field(description="False when this client_id was already stored (nothing new written).")
    stored_at: str


class FeedbackList(BaseModel):
    records: list[FeedbackRecord]


class ErrorField(BaseModel):
    field: str
    message: str


class ErrorResponse(BaseModel):
    error: str = Field(description="Machine-readable error code.")
    message: str = Field(description="What went wrong and how to fix it.")
    fields: list[ErrorField] | None = None


class ReadyResponse(BaseModel):
    status: Literal["ready", "not_ready"]
    model_version: str | None = None
    reason: str | None = None
    last_reload_error: str | None = Field(None, description="Why this worker's last reload was refused "
                                                             "(it still serves model_version).")
    worker: int | None = Field(None, description="Process id of the worker that answered: each reports its own.")


class ReloadResponse(BaseModel):
    status: Literal["reloaded", "failed"]
    model_version: str | None
    previous_version: str | None
    error: str | None = None
