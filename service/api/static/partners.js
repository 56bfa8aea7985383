// The partners an article is about: chips with salience and stance, and their mentions marked in the text.
// Offsets come from the API (into the submitted text), so the page never searches for names itself.

import { stanceName } from "./api.js";
import { article, selectEvidence } from "./article.js";
import { $, h, plural } from "./dom.js";

export const percent = (value) => `${Math.round(Number(value) * 100)}%`;

/** A stance in its colour (style.css keys the colour on data-stance); used by chips and the batch table. */
export function stanceTag(label, extra = "") {
  return h("span", { className: "stance-tag", dataset: { stance: label } }, stanceName(label), extra);
}

export function partnerOf(name) {
  return article?.result.partners?.find((p) => p.name === name) ?? null;
}

export const selectedPartner = () => (article?.selected?.kind === "partner" ? partnerOf(article.selected.label) : null);

export function renderPartners() {
  const partners = article.result.partners ?? [];
  $("partner-count").textContent = partners.length ? `· ${partners.length}` : "";
  $("partner-chips").replaceChildren(
    ...(partners.length
      ? partners.map(partnerChip)
      : [h("p", { className: "hint" }, article.result.in_scope.label ? "No partner named." : "None: out of scope.")]),
  );
}

export function partnerChip(partner) {
  const selected = article.selected?.kind === "partner" && article.selected.label === partner.name;
  const bar = h("span");
  bar.style.width = percent(partner.salience);
  const stance = partner.stance.label;
  const chip = h(
    "button",
    {
      type: "button",
      className: "partner-chip",
      "aria-pressed": String(selected),
      "aria-label":
        `${partner.name}: salience ${percent(partner.salience)}, stance ${stanceName(stance)}. ` +
        `Highlight its ${plural(partner.mentions.length, "mention")} in ${plural(partner.evidence.length, "paragraph")}`,
      dataset: { partner: partner.name, focusKey: `partner-${partner.name}` },
      onclick: () => selectEvidence("partner", partner.name),
    },
    h("span", { className: "partner-name" }, partner.name),
    h(
      "span",
      { className: "salience", title: "Salience: calibrated probability that the article is about this partner" },
      h("span", { className: "salience-bar", "aria-hidden": "true" }, bar),
      h("span", { className: "salience-value" }, percent(partner.salience)),
    ),
    stanceTag(stance),
  );
  return chip;
}

/** The selected partner's mentions inside one paragraph, as offsets into that paragraph's own text. */
export function mentionsIn(paragraph) {
  const partner = selectedPartner();
  if (!partner) return [];
  return partner.mentions
    .filter((m) => m.paragraph === paragraph.index)
    .map((m) => ({ start: m.start - paragraph.start, end: m.end - paragraph.start }))
    .sort((a, b) => a.start - b.start);
}

export function withMentions(text, mentions) {
  const nodes = [];
  let last = 0;
  for (const { start, end } of mentions) {
    if (start < last || end > text.length) continue; // never overlap or run past the paragraph
    nodes.push(text.slice(last, start), h("mark", { className: "mention" }, text.slice(start, end)));
    last = end;
  }
  nodes.push(text.slice(last));
  return nodes;
}
