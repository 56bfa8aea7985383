// Corrections of one article's labels, sent to POST /v1/feedback.
// ---------------------------------------------------------------- one article: corrections

import { api, byCodebook } from "./api.js";
import { article, editsFrom, renderArticle } from "./article.js";
import { $, hideMessage, isBusy, keepingFocus, newClientId, setBusy, showMessage } from "./dom.js";

export function changes() {
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

export function renderChanges() {
  const changed = changes();
  $("change-summary").textContent = changed.length
    ? `Changed: ${changed.join(", ")}. Every label is sent as shown, edited or not.`
    : "No label changed yet. Edit any label above or beside a paragraph; sending as is confirms the model's labels.";
}

export function edited() {
  keepingFocus(renderArticle);
  hideMessage($("correction-status"));
}

export function correctionBody() {
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

export async function sendCorrection(event) {
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

export function resetLabels() {
  article.edits = editsFrom(article.result);
  edited();
}
