// One article: classify it, show its labels with their evidence paragraphs and explanation terms.

import { api, byCodebook, ensureCodebook, labels, stanceName, topicName } from "./api.js";
import { edited, renderChanges } from "./corrections.js";
import { $, h, hideMessage, isBusy, keepingFocus, plural, score, setBusy, showMessage } from "./dom.js";
import { mentionsIn, partnerOf, renderPartners, selectedPartner, withMentions } from "./partners.js";

// ---------------------------------------------------------------- one article: classify

export let article = null; // { text, title, result, edits, selected, sent }

export function editsFrom(result) {
  return {
    inScope: result.in_scope.label,
    stance: result.stance.label,
    topics: new Set(result.topics.map((t) => t.label)),
    paragraphs: result.paragraphs.map((p) => ({
      topics: new Set(p.topics.map((t) => t.label)),
      stance: p.stance.label,
    })),
  };
}

export function updateTextStats() {
  const text = $("text").value;
  const words = text.trim() ? text.trim().split(/\s+/).length : 0;
  $("text-stats").textContent = text
    ? `${text.length.toLocaleString()} characters · ${words.toLocaleString()} words`
    : "Empty";
}

export async function classifyArticle() {
  const button = $("classify-button");
  const error = $("classify-error");
  if (isBusy(button)) return;
  hideMessage(error);
  const text = $("text").value;
  const title = $("title").value.trim();
  if (!text.trim()) {
    showMessage(error, "error", "Paste an article or open a .txt file first.");
    $("text").focus();
    return;
  }
  setBusy(button, true, "Classifying…");
  try {
    await ensureCodebook();
    const explain = $("explain").checked;
    const { data } = await api(`/v1/classify${explain ? "?explain=true" : ""}`, {
      method: "POST",
      body: title ? { text, title } : { text },
    });
    showResult(text, title, data);
  } catch (err) {
    showMessage(error, "error", err.message);
  } finally {
    setBusy(button, false);
  }
}

export function showResult(text, title, result) {
  article = { text, title, result, edits: editsFrom(result), selected: null, sent: null };
  hideMessage($("correction-status"));
  renderArticle();
  setView("read");
  $("reading-title").focus();
}

export function setView(view) {
  const reading = view === "read" && article !== null;
  $("classify-form").hidden = reading;
  $("reading").hidden = !reading;
  $("verdict").hidden = !reading;
  $("correction-form").hidden = !reading;
  $("intro").hidden = reading;
  $("back-to-result").hidden = reading || article === null;
}

export async function openTextFile(file) {
  if (!file) return;
  const text = await file.text();
  $("text").value = text;
  updateTextStats();
  if (text.includes("\uFFFD")) {
    showMessage(
      $("classify-error"),
      "warn",
      `${file.name} is not valid UTF-8: some characters were replaced. ` +
        "Save the file as UTF-8 for a faithful classification.",
    );
  } else {
    hideMessage($("classify-error"));
  }
  $("text").focus();
}

// ---------------------------------------------------------------- one article: evidence and explanation

export function evidenceFor(selection) {
  if (!selection || !article) return [];
  const { result } = article;
  const where = (test) => result.paragraphs.filter(test).map((p) => p.index);
  if (selection.kind === "scope") return selection.label === "in_scope" ? result.evidence.in_scope : [];
  if (selection.kind === "partner") return partnerOf(selection.label)?.evidence ?? [];
  if (selection.kind === "stance") {
    return selection.label === result.stance.label
      ? result.evidence.stance
      : where((p) => p.stance.label === selection.label);
  }
  return result.evidence.topics[selection.label] ?? where((p) => p.topics.some((t) => t.label === selection.label));
}

export function selectionName(selection) {
  if (selection.kind === "scope") return selection.label === "in_scope" ? "In scope" : "Out of scope";
  if (selection.kind === "partner") return selection.label;
  return selection.kind === "stance" ? stanceName(selection.label) : topicName(selection.label);
}

export function selectEvidence(kind, label) {
  const same = article.selected?.kind === kind && article.selected?.label === label;
  article.selected = same ? null : { kind, label };
  keepingFocus(renderArticle);
  const first = evidenceFor(article.selected)
    .map((i) => $(`para-${i}`))
    .filter(Boolean);
  const visible = first.some((el) => {
    const box = el.getBoundingClientRect();
    return box.bottom > 0 && box.top < window.innerHeight;
  });
  if (first.length && !visible) first[0].scrollIntoView({ block: "center", behavior: "smooth" });
}

/** Terms to mark: those of the selected label, or of every explained label when none is selected. */
export function markedTerms() {
  const explanation = article.result.explanation;
  const terms = new Map();
  if (!explanation) return terms;
  const key = article.selected?.label;
  for (const [label, list] of Object.entries(explanation)) {
    if (key && label !== key) continue;
    const name = explainedName(label);
    for (const { term, weight } of list) {
      const reasons = terms.get(termKey(term)) ?? [];
      reasons.push(`${name} +${weight.toFixed(3)}`);
      terms.set(termKey(term), reasons);
    }
  }
  return terms;
}

export function explainedName(label) {
  if (label === "in_scope" || label === "out_of_scope") return selectionName({ kind: "scope", label });
  return labels.stances.has(label) ? stanceName(label) : topicName(label);
}

// The model sees lower-cased text with every digit turned into 0 and words split at punctuation,
// so a term like "00 billion" or "trade investment" is found in the text under the same rule.
export const termKey = (text) =>
  text
    .toLowerCase()
    .replace(/\p{Nd}/gu, "0")
    .replace(/[^\p{L}\p{N}]+/gu, " ")
    .trim();

/** Keys hold only letters, digits and single spaces (see termKey), so they need no escaping. */
export function termPattern(terms) {
  const alternatives = [...terms.keys()]
    .filter(Boolean)
    .sort((a, b) => b.length - a.length)
    .map((term) =>
      term
        .split(" ")
        .map((word) => word.replace(/0/g, "\\p{Nd}"))
        .join("[^\\p{L}\\p{N}]+"),
    );
  return alternatives.length
    ? new RegExp(`(?<![\\p{L}\\p{N}])(?:${alternatives.join("|")})(?![\\p{L}\\p{N}])`, "giu")
    : null;
}

export function withMarks(text, pattern, terms) {
  if (!pattern) return [text];
  const nodes = [];
  let last = 0;
  for (const match of text.matchAll(pattern)) {
    nodes.push(text.slice(last, match.index));
    const reasons = terms.get(termKey(match[0])) ?? [];
    nodes.push(h("mark", { title: `Pushed ${reasons.join(", ")}` }, match[0]));
    last = match.index + match[0].length;
  }
  nodes.push(text.slice(last));
  return nodes;
}

// ---------------------------------------------------------------- one article: rendering

export function renderArticle() {
  if (!article) return;
  renderReadingHead();
  renderVerdict();
  renderPartners();
  renderParagraphs();
  renderEvidenceBar();
  renderChanges();
}

export function renderReadingHead() {
  const { result, text, title } = article;
  $("reading-title").textContent = title || "Untitled article";
  const count = result.paragraphs.length;
  $("reading-meta").textContent =
    `${plural(count, "paragraph")} · ${text.length.toLocaleString()} ` + `characters · model ${result.model_version}`;
}

export function labelRow({ kind, label, name, type, checked, modelValue, value, description, onchange }) {
  const selected = article.selected?.kind === kind && article.selected?.label === label;
  const bar = h("span");
  bar.style.width = `${Math.round(value * 100)}%`;
  const state = [checked ? "is-on" : "is-off", checked !== modelValue && "is-changed", selected && "is-selected"];
  const input = h("input", { type, name: `${kind}-choice`, value: label, checked, onchange });
  input.dataset.focusKey = `${kind}-${label}`;
  return h(
    "div",
    { className: ["label-row", ...state].filter(Boolean).join(" "), dataset: { kind, label } },
    h(
      "label",
      { className: "label-choice", title: description || null },
      input,
      h("span", { className: "label-name" }, name),
    ),
    h("span", { className: "score", title: "Calibrated score" }, score(value)),
    evidenceButton(kind, label, name, selected),
    h("div", { className: "bar", "aria-hidden": "true" }, bar),
    termList(label, name),
  );
}

export function evidenceButton(kind, label, name, selected) {
  const count = evidenceFor({ kind, label }).length;
  if (!count) return h("span");
  const button = h(
    "button",
    {
      type: "button",
      className: "evidence-button",
      "aria-pressed": String(selected),
      "aria-label": `Evidence for ${name}: highlight ${plural(count, "paragraph")}`,
      onclick: () => selectEvidence(kind, label),
    },
    `Evidence ${count}`,
  );
  button.dataset.focusKey = `evidence-${kind}-${label}`;
  return button;
}

/** With ?explain=true, the terms that pushed an assigned label, under its row. */
export function termList(label, name) {
  const terms = article.result.explanation?.[label];
  if (!terms) return null;
  return h(
    "div",
    { className: "terms", "aria-label": `Terms behind ${name}` },
    terms.length
      ? terms.map((t) => h("span", { className: "term", title: `+${t.weight.toFixed(3)}` }, t.term))
      : h("span", { className: "none" }, "No readable terms from this model for this label."),
  );
}

export function renderVerdict() {
  const { result, edits } = article;
  $("uncertain-badge").hidden = !result.uncertain;
  const scopeChange = (inScope) => () => {
    edits.inScope = inScope;
    edited();
  };
  $("scope-rows").replaceChildren(
    labelRow({
      kind: "scope",
      label: "in_scope",
      name: "In scope",
      type: "radio",
      checked: edits.inScope,
      modelValue: result.in_scope.label,
      value: result.in_scope.score,
      description: labels.codebook?.scope?.definition,
      onchange: scopeChange(true),
    }),
    labelRow({
      kind: "scope",
      label: "out_of_scope",
      name: "Out of scope",
      type: "radio",
      checked: !edits.inScope,
      modelValue: !result.in_scope.label,
      value: 1 - result.in_scope.score,
      description: labels.codebook?.scope?.excludes,
      onchange: scopeChange(false),
    }),
    h("p", { className: "threshold-note" }, `In scope from a score of ${score(result.in_scope.threshold)}.`),
  );
  const stances = byCodebook(Object.keys(result.stance.scores));
  $("stance-rows").replaceChildren(
    ...stances.map((id) =>
      labelRow({
        kind: "stance",
        label: id,
        name: stanceName(id),
        type: "radio",
        checked: edits.stance === id,
        modelValue: result.stance.label === id,
        value: result.stance.scores[id],
        description: labels.stances.get(id)?.definition,
        onchange: () => {
          edits.stance = id;
          edited();
        },
      }),
    ),
  );
  const assigned = new Set(result.topics.map((t) => t.label));
  const topics = Object.keys(result.topic_scores).sort(
    (a, b) => assigned.has(b) - assigned.has(a) || result.topic_scores[b] - result.topic_scores[a],
  );
  $("topic-count").textContent = `· ${edits.topics.size} of ${topics.length} assigned`;
  $("topic-rows").replaceChildren(
    ...topics.map((id) =>
      labelRow({
        kind: "topic",
        label: id,
        name: topicName(id),
        type: "checkbox",
        checked: edits.topics.has(id),
        modelValue: assigned.has(id),
        value: result.topic_scores[id],
        description: labels.topics.get(id)?.definition,
        onchange: (event) => {
          toggle(edits.topics, id, event.target.checked);
          edited();
        },
      }),
    ),
  );
}

export function toggle(set, value, on) {
  if (on) set.add(value);
  else set.delete(value);
}

export function renderParagraphs() {
  const list = $("paragraphs");
  const evidence = new Set(evidenceFor(article.selected));
  const terms = markedTerms();
  const pattern = termPattern(terms);
  list.classList.toggle("has-selection", article.selected !== null);
  list.replaceChildren(
    ...article.result.paragraphs.map((p) => paragraphItem(p, evidence.has(p.index), pattern, terms)),
  );
}

export function paragraphItem(paragraph, isEvidence, pattern, terms) {
  const i = paragraph.index;
  const text = article.text.slice(paragraph.start, paragraph.end);
  // A selected partner marks its mentions (offsets from the API); otherwise the explained terms are marked.
  const marked = selectedPartner() ? withMentions(text, mentionsIn(paragraph)) : withMarks(text, pattern, terms);
  const classes = ["para", isEvidence && "is-evidence", paragraph.furniture && "is-furniture"];
  return h(
    "li",
    { className: classes.filter(Boolean).join(" "), id: `para-${i}`, tabindex: "-1", dataset: { index: i } },
    h("span", { className: "para-num", "aria-hidden": "true" }, `¶${i + 1}`),
    h(
      "div",
      { className: "para-body" },
      isEvidence && h("span", { className: "visually-hidden" }, `Evidence for ${selectionName(article.selected)}. `),
      paragraph.furniture &&
        h(
          "span",
          { className: "furniture-tag", title: "Pasted page furniture: no topic, no weight in the article's labels" },
          "page furniture",
        ),
      h("p", { className: "para-text" }, marked),
      h(
        "div",
        { className: "para-labels", role: "group", "aria-label": `Labels of paragraph ${i + 1}` },
        paragraphTopics(paragraph),
        stancePicker(paragraph),
      ),
    ),
  );
}

export function paragraphTopics(paragraph) {
  const i = paragraph.index;
  const edit = article.edits.paragraphs[i];
  const predicted = new Map(paragraph.topics.map((t) => [t.label, t.score]));
  const shown = [...predicted.keys(), ...byCodebook([...edit.topics].filter((t) => !predicted.has(t)))];
  const chips = shown.map((id) => {
    const on = edit.topics.has(id);
    return h(
      "button",
      {
        type: "button",
        className: `chip${predicted.has(id) ? "" : " is-added"}`,
        "aria-pressed": String(on),
        title: on ? "Assigned: press to remove this topic" : "Removed: press to restore this topic",
        dataset: { focusKey: `p${i}-topic-${id}`, topic: id },
        onclick: () => {
          toggle(edit.topics, id, !on);
          edited();
        },
      },
      topicName(id),
      predicted.has(id) && h("span", { className: "chip-score" }, score(predicted.get(id))),
    );
  });
  const addable = byCodebook([...labels.topics.keys()].filter((id) => !edit.topics.has(id)));
  const add = h(
    "select",
    {
      className: "mini-select",
      "aria-label": `Add a topic to paragraph ${i + 1}`,
      dataset: { focusKey: `p${i}-add` },
      onchange: (event) => {
        if (event.target.value) {
          edit.topics.add(event.target.value);
          edited();
        }
      },
    },
    h("option", { value: "" }, "+ Topic"),
    addable.map((id) => h("option", { value: id }, topicName(id))),
  );
  return [...(chips.length ? chips : [h("span", { className: "no-topics" }, "No topic")]), addable.length ? add : null];
}

export function stancePicker(paragraph) {
  const i = paragraph.index;
  const edit = article.edits.paragraphs[i];
  const stances = byCodebook(Object.keys(paragraph.stance.scores));
  const select = h(
    "select",
    {
      id: `para-stance-${i}`,
      dataset: { focusKey: `p${i}-stance` },
      onchange: (event) => {
        edit.stance = event.target.value;
        edited();
      },
    },
    stances.map((id) =>
      h(
        "option",
        { value: id, selected: id === edit.stance },
        `${stanceName(id)} · ${score(paragraph.stance.scores[id])}`,
      ),
    ),
  );
  const changed = edit.stance !== paragraph.stance.label;
  return h(
    "span",
    { className: `stance-pick${changed ? " is-changed" : ""}` },
    h(
      "label",
      { for: `para-stance-${i}` },
      h("span", { "aria-hidden": "true" }, "Stance"),
      h("span", { className: "visually-hidden" }, `Stance of paragraph ${i + 1}`),
    ),
    select,
  );
}

export function renderEvidenceBar() {
  const bar = $("evidence-bar");
  const selection = article.selected;
  bar.hidden = selection === null;
  if (!selection) return;
  const indices = evidenceFor(selection);
  const links = indices.flatMap((i, n) => [n ? ", " : "", h("a", { href: `#para-${i}` }, `¶${i + 1}`)]);
  const mentions = selectedPartner()?.mentions.length;
  $("evidence-text").replaceChildren(
    "Evidence for ",
    h("strong", {}, selectionName(selection)),
    ": ",
    ...links,
    ` (${plural(indices.length, "paragraph")}${mentions ? `, ${plural(mentions, "mention")} marked` : ""})`,
  );
}
