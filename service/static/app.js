// The analyst's page. Plain JavaScript with no dependencies; it talks only to this service's /v1 API.
// Label names and definitions come from GET /v1/labels (the loaded model's codebook), never from here.

const KEY_STORAGE = "pakrel.apiKey"; // sessionStorage: this tab only
const ANNOTATOR_STORAGE = "pakrel.annotator"; // localStorage: remembered in this browser
const FIRST_CHUNK = 16; // articles per batch request; halved if the service says the batch is too large
const READY_POLL_MS = 30000;
const NOT_READY_POLL_MS = 3000;
const UNREACHABLE_POLL_MS = 5000;

const $ = (id) => document.getElementById(id);

// ---------------------------------------------------------------- small DOM and storage helpers

function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "className") el.className = value;
    else if (name === "dataset") Object.assign(el.dataset, value);
    else if (name.startsWith("on")) el.addEventListener(name.slice(2), value);
    else el.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined && child !== false) el.append(child);
  }
  return el;
}

function storage(kind) {
  try {
    return kind === "session" ? window.sessionStorage : window.localStorage;
  } catch {
    return null; // storage disabled: the page still works, it just forgets
  }
}

function showMessage(el, kind, text) {
  el.className = `message ${kind}`;
  el.textContent = text;
  el.hidden = false;
}

function hideMessage(el) {
  el.hidden = true;
  el.textContent = "";
}

function setBusy(button, busy, label) {
  const text = button.querySelector(".button-label");
  if (busy) {
    button.dataset.idleLabel = text.textContent;
    text.textContent = label;
  } else if (button.dataset.idleLabel) {
    text.textContent = button.dataset.idleLabel;
  }
  button.setAttribute("aria-busy", String(busy));
  button.setAttribute("aria-disabled", String(busy));
}

const isBusy = (button) => button.getAttribute("aria-busy") === "true";

/** Re-render without losing the keyboard user's place: focus returns to the control with the same key. */
function keepingFocus(render) {
  const key = document.activeElement?.dataset?.focusKey;
  render();
  if (key) document.querySelector(`[data-focus-key="${CSS.escape(key)}"]`)?.focus();
}

const score = (value) => Number(value).toFixed(2);
const plural = (count, word) => `${count} ${word}${count === 1 ? "" : "s"}`;

function newClientId() {
  if (window.crypto?.randomUUID) return crypto.randomUUID();
  // randomUUID needs a secure context; a plain-http deployment still has getRandomValues.
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[6] = (bytes[6] & 0x0f) | 0x40;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

// ---------------------------------------------------------------- the API

class ApiError extends Error {
  constructor(status, code, message, fields) {
    super(message);
    this.status = status;
    this.code = code;
    this.fields = fields || [];
  }
}

const unreachable = () =>
  new ApiError(
    0,
    "unreachable",
    `Cannot reach the service at ${location.origin}. Check that it is running and reachable, then try again.`,
  );

let keyPrompt = null;
let keyResolver = null;

function askForKey(reason) {
  if (!keyPrompt) {
    keyPrompt = new Promise((resolve) => {
      keyResolver = resolve;
      $("key-reason").textContent = reason;
      $("api-key").value = "";
      $("key-dialog").showModal();
    }).finally(() => {
      keyPrompt = null;
    });
  }
  return keyPrompt;
}

function settleKey(key) {
  const resolve = keyResolver;
  keyResolver = null;
  if (key) storage("session")?.setItem(KEY_STORAGE, key);
  if ($("key-dialog").open) $("key-dialog").close();
  if (resolve) resolve(key);
}

/** Calls /v1; on 401 asks for the API key once, keeps it for the tab and retries. Errors carry the API's message. */
async function api(path, { method = "GET", body } = {}) {
  for (let attempt = 0; ; attempt += 1) {
    const headers = { Accept: "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const key = storage("session")?.getItem(KEY_STORAGE);
    if (key) headers["X-API-Key"] = key;
    let response;
    try {
      response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    } catch {
      refreshStatus();
      throw unreachable();
    }
    if (response.status === 401) storage("session")?.removeItem(KEY_STORAGE);
    if (response.status === 401 && attempt === 0) {
      const reason = key
        ? "The saved API key was refused. Enter the current key."
        : "This service asks for an API key.";
      if (await askForKey(reason)) continue;
    }
    const data = await response.json().catch(() => null);
    if (!response.ok) {
      if (response.status === 503) refreshStatus();
      throw new ApiError(
        response.status,
        data?.error || "http_error",
        data?.message || `The service answered ${response.status} ${response.statusText}.`,
        data?.fields,
      );
    }
    return { data, status: response.status };
  }
}

// ---------------------------------------------------------------- service status and the codebook

const service = { version: null, timer: null };
const labels = { codebook: null, topics: new Map(), stances: new Map(), order: new Map() };

function setStatus(state, text) {
  $("service-status").dataset.state = state;
  $("status-text").textContent = text;
}

function setBanner(kind, text) {
  const banner = $("banner");
  banner.hidden = !text;
  banner.dataset.kind = kind;
  banner.textContent = text || "";
}

async function refreshStatus() {
  clearTimeout(service.timer);
  let next = READY_POLL_MS;
  try {
    const response = await fetch("/health/ready", { headers: { Accept: "application/json" } });
    const data = await response.json().catch(() => null);
    if (response.ok && data?.status === "ready") {
      setStatus("ready", `Model ${data.model_version}`);
      setBanner("", "");
      if (data.model_version !== service.version) {
        service.version = data.model_version;
        loadCodebook().catch(() => {});
      }
    } else {
      const reason = data?.reason || `the readiness check answered ${response.status}`;
      setStatus("loading", "Model not ready");
      setBanner(
        "warn",
        `The model is not ready yet: ${reason}. Classifying will work once it has loaded; ` +
          "this page checks again every few seconds.",
      );
      next = NOT_READY_POLL_MS;
    }
  } catch {
    setStatus("down", "Service unreachable");
    setBanner(
      "error",
      `Cannot reach the service at ${location.origin}. It may be stopped or restarting; ` +
        "this page checks again every few seconds.",
    );
    next = UNREACHABLE_POLL_MS;
  }
  service.timer = setTimeout(refreshStatus, next);
}

async function loadCodebook() {
  try {
    const { data } = await api("/v1/labels");
    const book = data.codebook;
    labels.codebook = book;
    labels.topics = new Map(book.topics.map((t) => [t.id, t]));
    labels.stances = new Map(book.stances.map((s) => [s.id, s]));
    labels.order = new Map([...book.topics, ...book.stances].map((label, i) => [label.id, i]));
    renderCodebook(book);
    if (article) keepingFocus(renderArticle);
  } catch (err) {
    $("codebook-body").replaceChildren(h("p", { className: "message error" }, err.message));
    throw err;
  }
}

const ensureCodebook = () => (labels.codebook ? Promise.resolve() : loadCodebook());
const topicName = (id) => labels.topics.get(id)?.name ?? id;
const stanceName = (id) => labels.stances.get(id)?.name ?? id;
const byCodebook = (ids) => [...ids].sort((a, b) => (labels.order.get(a) ?? 1e9) - (labels.order.get(b) ?? 1e9));

function renderCodebook(book) {
  const list = (items) =>
    h(
      "dl",
      {},
      items.map((l) => [h("dt", {}, l.name), h("dd", {}, l.definition)]),
    );
  $("codebook-body").replaceChildren(
    h("h3", {}, "Scope"),
    h("p", { className: "hint" }, book.scope?.definition || ""),
    h("h3", {}, "Stances"),
    list(book.stances),
    h("h3", {}, "Topics"),
    list(book.topics),
  );
}

// ---------------------------------------------------------------- tabs

function selectTab(tab) {
  for (const other of document.querySelectorAll('[role="tab"]')) {
    const selected = other === tab;
    other.setAttribute("aria-selected", String(selected));
    other.tabIndex = selected ? 0 : -1;
    $(other.getAttribute("aria-controls")).hidden = !selected;
  }
}

function onTabKey(event) {
  const tabs = [...document.querySelectorAll('[role="tab"]')];
  const index = tabs.indexOf(event.currentTarget);
  const moves = { ArrowRight: index + 1, ArrowLeft: index - 1, Home: 0, End: tabs.length - 1 };
  if (!(event.key in moves)) return;
  event.preventDefault();
  const target = tabs[(moves[event.key] + tabs.length) % tabs.length];
  selectTab(target);
  target.focus();
}

// ---------------------------------------------------------------- one article: classify

let article = null; // { text, title, result, edits, selected, sent }

function editsFrom(result) {
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

function updateTextStats() {
  const text = $("text").value;
  const words = text.trim() ? text.trim().split(/\s+/).length : 0;
  $("text-stats").textContent = text
    ? `${text.length.toLocaleString()} characters · ${words.toLocaleString()} words`
    : "Empty";
}

async function classifyArticle() {
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

function showResult(text, title, result) {
  article = { text, title, result, edits: editsFrom(result), selected: null, sent: null };
  hideMessage($("correction-status"));
  renderArticle();
  setView("read");
  $("reading-title").focus();
}

function setView(view) {
  const reading = view === "read" && article !== null;
  $("classify-form").hidden = reading;
  $("reading").hidden = !reading;
  $("verdict").hidden = !reading;
  $("correction-form").hidden = !reading;
  $("intro").hidden = reading;
  $("back-to-result").hidden = reading || article === null;
}

async function openTextFile(file) {
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

function evidenceFor(selection) {
  if (!selection || !article) return [];
  const { result } = article;
  const where = (test) => result.paragraphs.filter(test).map((p) => p.index);
  if (selection.kind === "scope") return selection.label === "in_scope" ? result.evidence.in_scope : [];
  if (selection.kind === "stance") {
    return selection.label === result.stance.label
      ? result.evidence.stance
      : where((p) => p.stance.label === selection.label);
  }
  return result.evidence.topics[selection.label] ?? where((p) => p.topics.some((t) => t.label === selection.label));
}

function selectionName(selection) {
  if (selection.kind === "scope") return selection.label === "in_scope" ? "In scope" : "Out of scope";
  return selection.kind === "stance" ? stanceName(selection.label) : topicName(selection.label);
}

function selectEvidence(kind, label) {
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
function markedTerms() {
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

function explainedName(label) {
  if (label === "in_scope" || label === "out_of_scope") return selectionName({ kind: "scope", label });
  return labels.stances.has(label) ? stanceName(label) : topicName(label);
}

// The model sees lower-cased text with every digit turned into 0 and words split at punctuation,
// so a term like "00 billion" or "trade investment" is found in the text under the same rule.
const termKey = (text) =>
  text
    .toLowerCase()
    .replace(/\p{Nd}/gu, "0")
    .replace(/[^\p{L}\p{N}]+/gu, " ")
    .trim();

/** Keys hold only letters, digits and single spaces (see termKey), so they need no escaping. */
function termPattern(terms) {
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

function withMarks(text, pattern, terms) {
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

function renderArticle() {
  if (!article) return;
  renderReadingHead();
  renderVerdict();
  renderParagraphs();
  renderEvidenceBar();
  renderChanges();
}

function renderReadingHead() {
  const { result, text, title } = article;
  $("reading-title").textContent = title || "Untitled article";
  const count = result.paragraphs.length;
  $("reading-meta").textContent =
    `${plural(count, "paragraph")} · ${text.length.toLocaleString()} ` + `characters · model ${result.model_version}`;
}

function labelRow({ kind, label, name, type, checked, modelValue, value, description, onchange }) {
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

function evidenceButton(kind, label, name, selected) {
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
function termList(label, name) {
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

function renderVerdict() {
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

function toggle(set, value, on) {
  if (on) set.add(value);
  else set.delete(value);
}

function renderParagraphs() {
  const list = $("paragraphs");
  const evidence = new Set(evidenceFor(article.selected));
  const terms = markedTerms();
  const pattern = termPattern(terms);
  list.classList.toggle("has-selection", article.selected !== null);
  list.replaceChildren(
    ...article.result.paragraphs.map((p) => paragraphItem(p, evidence.has(p.index), pattern, terms)),
  );
}

function paragraphItem(paragraph, isEvidence, pattern, terms) {
  const i = paragraph.index;
  const text = article.text.slice(paragraph.start, paragraph.end);
  return h(
    "li",
    { className: `para${isEvidence ? " is-evidence" : ""}`, id: `para-${i}`, tabindex: "-1", dataset: { index: i } },
    h("span", { className: "para-num", "aria-hidden": "true" }, `¶${i + 1}`),
    h(
      "div",
      { className: "para-body" },
      isEvidence && h("span", { className: "visually-hidden" }, `Evidence for ${selectionName(article.selected)}. `),
      h("p", { className: "para-text" }, withMarks(text, pattern, terms)),
      h(
        "div",
        { className: "para-labels", role: "group", "aria-label": `Labels of paragraph ${i + 1}` },
        paragraphTopics(paragraph),
        stancePicker(paragraph),
      ),
    ),
  );
}

function paragraphTopics(paragraph) {
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

function stancePicker(paragraph) {
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

function renderEvidenceBar() {
  const bar = $("evidence-bar");
  const selection = article.selected;
  bar.hidden = selection === null;
  if (!selection) return;
  const indices = evidenceFor(selection);
  const links = indices.flatMap((i, n) => [n ? ", " : "", h("a", { href: `#para-${i}` }, `¶${i + 1}`)]);
  $("evidence-text").replaceChildren(
    "Evidence for ",
    h("strong", {}, selectionName(selection)),
    ": ",
    ...links,
    ` (${plural(indices.length, "paragraph")})`,
  );
}

// ---------------------------------------------------------------- one article: corrections

function changes() {
  const { result, edits } = article;
  const same = (set, list) => set.size === list.length && list.every((x) => set.has(x.label));
  const out = [];
  if (edits.inScope !== result.in_scope.label) out.push("scope");
  if (edits.stance !== result.stance.label) out.push("stance");
  if (!same(edits.topics, result.topics)) out.push("topics");
  result.paragraphs.forEach((p, i) => {
    const edit = edits.paragraphs[i];
    if (edit.stance !== p.stance.label || !same(edit.topics, p.topics)) out.push(`¶${i + 1}`);
  });
  return out;
}

function renderChanges() {
  const changed = changes();
  $("change-summary").textContent = changed.length
    ? `Changed: ${changed.join(", ")}. Every label is sent as shown, edited or not.`
    : "No label changed yet. Edit any label above or beside a paragraph; sending as is confirms the model's labels.";
}

function edited() {
  keepingFocus(renderArticle);
  hideMessage($("correction-status"));
}

function correctionBody() {
  const { text, title, result, edits } = article;
  const note = $("note").value.trim();
  const annotator = $("annotator").value.trim();
  const body = {
    level: "article",
    text,
    topics: byCodebook(edits.topics),
    stance: edits.stance,
    in_scope: edits.inScope,
    paragraphs: edits.paragraphs.map((p, index) => ({ index, topics: byCodebook(p.topics), stance: p.stance })),
    model_version: result.model_version,
  };
  if (title) body.title = title;
  if (note) body.note = note;
  if (annotator) body.annotator = annotator;
  return body;
}

async function sendCorrection(event) {
  event.preventDefault();
  const button = $("send-correction");
  const status = $("correction-status");
  if (!article || isBusy(button)) return;
  const body = correctionBody();
  const signature = JSON.stringify(body);
  if (article.sent?.signature === signature) {
    showMessage(status, "ok", `Already stored as correction #${article.sent.id}; change a label to send another.`);
    return;
  }
  setBusy(button, true, "Sending…");
  try {
    const { data, status: code } = await api("/v1/feedback", {
      method: "POST",
      body: { ...body, client_id: newClientId() },
    });
    article.sent = { signature, id: data.id };
    showMessage(status, "ok", `${code === 201 ? "Stored" : "Already stored"} as correction #${data.id}. Thank you.`);
  } catch (err) {
    showMessage(status, "error", `Not stored: ${err.message}`);
  } finally {
    setBusy(button, false);
  }
}

function resetLabels() {
  article.edits = editsFrom(article.result);
  edited();
}

// ---------------------------------------------------------------- many articles

const batch = { items: [], rows: [], sort: { key: null, dir: 1 }, running: false };

function parseJsonl(name, content, warnings) {
  const items = [];
  content.split(/\r?\n/).forEach((line, n) => {
    if (!line.trim()) return;
    const where = `${name} line ${n + 1}`;
    let record;
    try {
      record = JSON.parse(line);
    } catch (err) {
      warnings.push(`${where}: not valid JSON (${err.message})`);
      return;
    }
    if (typeof record !== "object" || record === null || typeof record.text !== "string" || !record.text.trim()) {
      warnings.push(`${where}: needs a non-empty "text" string`);
      return;
    }
    const item = {
      id: record.id === undefined || record.id === null ? `${name}:${n + 1}` : String(record.id),
      text: record.text,
    };
    if (typeof record.title === "string" && record.title.trim()) item.title = record.title.trim();
    items.push(item);
  });
  return items;
}

async function addBatchFiles(fileList) {
  const warnings = [];
  for (const file of fileList) {
    const content = await file.text();
    if (/\.jsonl$/i.test(file.name)) {
      batch.items.push(...parseJsonl(file.name, content, warnings));
    } else if (!content.trim()) {
      warnings.push(`${file.name}: empty, skipped`);
    } else {
      batch.items.push({ id: file.name, text: content });
    }
  }
  const warningEl = $("batch-warnings");
  if (warnings.length) {
    const more = warnings.length > 5 ? ` … and ${warnings.length - 5} more` : "";
    showMessage(warningEl, "warn", `Skipped: ${warnings.slice(0, 5).join("; ")}${more}.`);
  } else {
    hideMessage(warningEl);
  }
  renderBatchSummary();
}

function renderBatchSummary() {
  const n = batch.items.length;
  const names = batch.items
    .slice(0, 5)
    .map((item) => item.id)
    .join(", ");
  $("batch-summary").textContent = n
    ? `${plural(n, "article")} ready: ${names}${n > 5 ? ` and ${n - 5} more` : ""}.`
    : "No articles loaded.";
  $("batch-run").disabled = n === 0;
  $("batch-clear").disabled = n === 0;
  $("batch-run").querySelector(".button-label").textContent = n
    ? `Classify ${plural(n, "article")}`
    : "Classify articles";
}

function clearBatch() {
  batch.items = [];
  batch.rows = [];
  hideMessage($("batch-warnings"));
  hideMessage($("batch-error"));
  $("batch-progress-wrap").hidden = true;
  $("batch-results").hidden = true;
  renderBatchSummary();
}

const requestItem = ({ id, text, title }) => (title ? { id, text, title } : { id, text });

function itemProblems(fields) {
  const problems = new Map();
  for (const field of fields) {
    const match = /^items\[(\d+)\]\.?(.*)$/.exec(field.field || "");
    if (match) problems.set(Number(match[1]), `${match[2] || "item"}: ${field.message}`);
  }
  return problems;
}

/** One batch request; articles the API refuses one by one (too long, invalid) get their error and the rest go again. */
async function classifyChunk(rows) {
  let pending = rows;
  while (pending.length) {
    try {
      const { data } = await api("/v1/classify/batch", {
        method: "POST",
        body: { items: pending.map((r) => requestItem(r.item)) },
      });
      data.results.forEach((result, i) => {
        pending[i].result = result;
      });
      return;
    } catch (err) {
      const problems = itemProblems(err.fields);
      if (![413, 422].includes(err.status) || problems.size === 0) throw err;
      pending.forEach((row, i) => {
        if (problems.has(i)) row.error = problems.get(i);
      });
      pending = pending.filter((_, i) => !problems.has(i));
    }
  }
}

function setProgress(done, total) {
  $("batch-progress").max = total;
  $("batch-progress").value = done;
  $("batch-progress-text").textContent = `${done} of ${total} classified`;
}

async function runBatch() {
  const button = $("batch-run");
  if (batch.running || !batch.items.length) return;
  batch.running = true;
  setBusy(button, true, "Classifying…");
  hideMessage($("batch-error"));
  batch.rows = batch.items.map((item, order) => ({ item, order, result: null, error: null }));
  $("batch-progress-wrap").hidden = false;
  setProgress(0, batch.rows.length);
  try {
    await ensureCodebook();
    await classifyAllRows();
    const failed = batch.rows.filter((r) => r.error).length;
    $("batch-progress-text").textContent =
      `Done: ${batch.rows.length} classified` + (failed ? `, ${failed} refused (see the table)` : "");
  } catch (err) {
    const done = batch.rows.filter((r) => r.result).length;
    showMessage($("batch-error"), "error", `Stopped after ${done} of ${batch.rows.length}: ${err.message}`);
  } finally {
    batch.running = false;
    setBusy(button, false);
    renderResults();
  }
}

async function classifyAllRows() {
  const rows = batch.rows;
  let size = FIRST_CHUNK;
  let position = 0;
  while (position < rows.length) {
    const chunk = rows.slice(position, position + size);
    try {
      await classifyChunk(chunk);
    } catch (err) {
      const tooBig = err.code === "batch_too_large" || err.code === "body_too_large";
      if (!tooBig) throw err;
      if (chunk.length > 1) {
        size = Math.max(1, Math.floor(chunk.length / 2));
        continue;
      }
      chunk[0].error = err.message;
    }
    position += chunk.length;
    setProgress(position, rows.length);
    renderResults();
  }
}

const SORT_KEYS = {
  id: (r) => r.item.id,
  scope: (r) => (r.result ? r.result.in_scope.score : -1),
  topics: (r) => (r.result ? r.result.topics.map((t) => topicName(t.label)).join(", ") : ""),
  stance: (r) => (r.result ? stanceName(r.result.stance.label) : ""),
  uncertain: (r) => (r.result ? Number(r.result.uncertain) : -1),
};

function sortedRows() {
  const { key, dir } = batch.sort;
  if (!key) return [...batch.rows];
  const value = SORT_KEYS[key];
  return [...batch.rows].sort((a, b) => {
    const x = value(a);
    const y = value(b);
    const order = typeof x === "number" ? x - y : String(x).localeCompare(String(y), undefined, { numeric: true });
    return order * dir || a.order - b.order;
  });
}

function sortBy(key) {
  batch.sort = { key, dir: batch.sort.key === key ? -batch.sort.dir : 1 };
  for (const th of document.querySelectorAll("#results-table th[data-key]")) {
    const active = th.dataset.key === key;
    th.setAttribute("aria-sort", active ? (batch.sort.dir > 0 ? "ascending" : "descending") : "none");
  }
  renderResults();
}

function resultCells(row) {
  const { result, error } = row;
  if (!result) {
    return [h("td", { colspan: "4", className: "error-text" }, error ? `Refused: ${error}` : "Not classified")];
  }
  const stance = result.stance.label;
  return [
    h(
      "td",
      { className: "nowrap" },
      result.in_scope.label ? "In scope" : "Out of scope",
      h("span", { className: "score" }, score(result.in_scope.score)),
    ),
    h(
      "td",
      {},
      result.topics.length
        ? h(
            "span",
            { className: "topic-list" },
            result.topics.map((t) => h("span", {}, topicName(t.label))),
          )
        : h("span", { className: "hint" }, "None"),
    ),
    h(
      "td",
      { className: "nowrap" },
      stanceName(stance),
      h("span", { className: "score" }, score(result.stance.scores[stance])),
    ),
    h(
      "td",
      {},
      result.uncertain ? h("span", { className: "badge warn" }, "Uncertain") : h("span", { className: "hint" }, "No"),
    ),
  ];
}

function renderResults() {
  $("batch-results").hidden = batch.rows.length === 0;
  $("results-body").replaceChildren(
    ...sortedRows().map((row) =>
      h(
        "tr",
        { className: row.error ? "is-error" : null },
        h("td", { className: "id" }, row.item.id),
        ...resultCells(row),
        h(
          "td",
          {},
          row.result &&
            h(
              "button",
              {
                type: "button",
                className: "button link",
                "aria-label": `Open ${row.item.id} with its evidence`,
                onclick: () => openFromBatch(row),
              },
              "Open",
            ),
        ),
      ),
    ),
  );
}

function openFromBatch(row) {
  $("text").value = row.item.text;
  $("title").value = row.item.title || "";
  updateTextStats();
  selectTab($("tab-article"));
  showResult(row.item.text, row.item.title || "", row.result);
}

// ---------------------------------------------------------------- downloads

function csvCell(value) {
  let text = String(value ?? "");
  if (/^[=+\-@\t\r]/.test(text)) text = `'${text}`; // a spreadsheet must not run an id as a formula
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

function resultsCsv() {
  const header = [
    "id",
    "in_scope",
    "scope_score",
    "topics",
    "stance",
    "stance_score",
    "uncertain",
    "model_version",
    "error",
  ];
  const lines = batch.rows.map(({ item, result, error }) =>
    result
      ? [
          item.id,
          result.in_scope.label,
          result.in_scope.score,
          result.topics.map((t) => t.label).join(";"),
          result.stance.label,
          result.stance.scores[result.stance.label],
          result.uncertain,
          result.model_version,
          "",
        ]
      : [item.id, "", "", "", "", "", "", "", error || "not classified"],
  );
  return `\uFEFF${[header, ...lines].map((cells) => cells.map(csvCell).join(",")).join("\r\n")}\r\n`;
}

function resultsJsonl() {
  return (
    batch.rows
      .map(({ item, result, error }) => JSON.stringify(result ?? { id: item.id, error: error || "not classified" }))
      .join("\n") + "\n"
  );
}

function download(extension, type, content) {
  const stamp = new Date().toISOString().slice(0, 19).replace(/[-:]/g, "").replace("T", "-");
  const url = URL.createObjectURL(new Blob([content], { type }));
  const link = h("a", { href: url, download: `classified-${stamp}.${extension}` });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

// ---------------------------------------------------------------- wiring

function dropTarget(el, onFiles) {
  el.addEventListener("dragover", (event) => {
    event.preventDefault();
    el.classList.add("is-over");
  });
  el.addEventListener("dragleave", () => el.classList.remove("is-over"));
  el.addEventListener("drop", (event) => {
    event.preventDefault();
    el.classList.remove("is-over");
    if (event.dataTransfer?.files?.length) onFiles(event.dataTransfer.files);
  });
}

function wireArticle() {
  const form = $("classify-form");
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    classifyArticle();
  });
  form.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      classifyArticle();
    }
  });
  $("text").addEventListener("input", updateTextStats);
  $("open-file").addEventListener("change", async (event) => {
    await openTextFile(event.target.files[0]);
    event.target.value = "";
  });
  dropTarget(form, (files) => openTextFile(files[0]));
  $("edit-text").addEventListener("click", () => {
    setView("edit");
    $("text").focus();
  });
  $("back-to-result").addEventListener("click", () => {
    setView("read");
    $("reading-title").focus();
  });
  $("clear-evidence").addEventListener("click", () => selectEvidence(article.selected.kind, article.selected.label));
  $("correction-form").addEventListener("submit", sendCorrection);
  $("reset-labels").addEventListener("click", resetLabels);
  const annotator = $("annotator");
  annotator.value = storage("local")?.getItem(ANNOTATOR_STORAGE) || "";
  annotator.addEventListener("change", () => storage("local")?.setItem(ANNOTATOR_STORAGE, annotator.value.trim()));
  $("note").addEventListener("input", () => hideMessage($("correction-status")));
}

function wireBatch() {
  $("batch-files").addEventListener("change", async (event) => {
    await addBatchFiles(event.target.files);
    event.target.value = "";
  });
  dropTarget($("dropzone"), addBatchFiles);
  $("batch-run").addEventListener("click", runBatch);
  $("batch-clear").addEventListener("click", clearBatch);
  for (const th of document.querySelectorAll("#results-table th[data-key]")) {
    th.querySelector("button").addEventListener("click", () => sortBy(th.dataset.key));
  }
  $("download-csv").addEventListener("click", () => download("csv", "text/csv;charset=utf-8", resultsCsv()));
  $("download-jsonl").addEventListener("click", () => download("jsonl", "application/x-ndjson", resultsJsonl()));
}

function wireShell() {
  for (const tab of document.querySelectorAll('[role="tab"]')) {
    tab.addEventListener("click", () => selectTab(tab));
    tab.addEventListener("keydown", onTabKey);
  }
  $("key-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const key = $("api-key").value.trim();
    if (key) settleKey(key);
    else $("api-key").focus();
  });
  $("key-cancel").addEventListener("click", () => settleKey(null));
  $("key-dialog").addEventListener("close", () => settleKey(null));
  // A file dropped anywhere else must not make the browser navigate away from unsent work.
  window.addEventListener("dragover", (event) => event.preventDefault());
  window.addEventListener("drop", (event) => event.preventDefault());
}

wireShell();
wireArticle();
wireBatch();
updateTextStats();
refreshStatus();
