// Many articles: read files, classify them in chunks, sort the results and download them.

import { api, ensureCodebook, stanceName, topicName } from "./api.js";
import { showResult, updateTextStats } from "./article.js";
import { $, h, hideMessage, plural, score, selectTab, setBusy, showMessage } from "./dom.js";
import { stanceTag } from "./partners.js";
export const FIRST_CHUNK = 16; // articles per batch request; halved if the service says the batch is too large

// ---------------------------------------------------------------- many articles

export const batch = { items: [], rows: [], sort: { key: null, dir: 1 }, running: false, partner: "", group: false };

export function parseJsonl(name, content, warnings) {
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

export async function addBatchFiles(fileList) {
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

export function renderBatchSummary() {
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

export function clearBatch() {
  batch.items = [];
  batch.rows = [];
  batch.partner = "";
  hideMessage($("batch-warnings"));
  hideMessage($("batch-error"));
  $("batch-progress-wrap").hidden = true;
  $("batch-results").hidden = true;
  renderBatchSummary();
}

export const requestItem = ({ id, text, title }) => (title ? { id, text, title } : { id, text });

export function itemProblems(fields) {
  const problems = new Map();
  for (const field of fields) {
    const match = /^items\[(\d+)\]\.?(.*)$/.exec(field.field || "");
    if (match) problems.set(Number(match[1]), `${match[2] || "item"}: ${field.message}`);
  }
  return problems;
}

/** One batch request; articles the API refuses one by one (too long, invalid) get their error and the rest go again. */
export async function classifyChunk(rows) {
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

export function setProgress(done, total) {
  $("batch-progress").max = total;
  $("batch-progress").value = done;
  $("batch-progress-text").textContent = `${done} of ${total} classified`;
}

export async function runBatch() {
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

export async function classifyAllRows() {
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

export const SORT_KEYS = {
  id: (r) => r.item.id,
  scope: (r) => (r.result ? r.result.in_scope.score : -1),
  topics: (r) => (r.result ? r.result.topics.map((t) => topicName(t.label)).join(", ") : ""),
  stance: (r) => (r.result ? stanceName(r.result.stance.label) : ""),
  uncertain: (r) => (r.result ? Number(r.result.uncertain) : -1),
  partners: (r) => (r.result ? partnersOf(r).join(", ") : ""),
};

export const partnersOf = (row) => (row.result?.partners ?? []).map((p) => p.name);

export function sortedRows() {
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

export function sortBy(key) {
  batch.sort = { key, dir: batch.sort.key === key ? -batch.sort.dir : 1 };
  for (const th of document.querySelectorAll("#results-table th[data-key]")) {
    const active = th.dataset.key === key;
    th.setAttribute("aria-sort", active ? (batch.sort.dir > 0 ? "ascending" : "descending") : "none");
  }
  renderResults();
}

export function resultCells(row) {
  const { result, error } = row;
  if (!result) {
    return [h("td", { colspan: "5", className: "error-text" }, error ? `Refused: ${error}` : "Not classified")];
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
    h("td", { className: "nowrap" }, stanceTag(stance, h("span", { className: "score" }, score(result.stance.scores[stance])))),
    h(
      "td",
      {},
      result.partners.length
        ? h(
            "span",
            { className: "partner-list" },
            result.partners.map((p) =>
              h("span", { className: "partner-item", dataset: { partner: p.name } }, p.name, stanceTag(p.stance.label)),
            ),
          )
        : h("span", { className: "hint" }, "None"),
    ),
    h(
      "td",
      {},
      result.uncertain ? h("span", { className: "badge warn" }, "Uncertain") : h("span", { className: "hint" }, "No"),
    ),
  ];
}

export function resultRow(row) {
  return h(
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
  );
}

export function renderResults() {
  $("batch-results").hidden = batch.rows.length === 0;
  renderPartnerFilter();
  const rows = sortedRows().filter((row) => !batch.partner || partnersOf(row).includes(batch.partner));
  $("results-body").replaceChildren(...(batch.group ? groupedRows(rows) : rows.map(resultRow)));
  $("shown-count").textContent = batch.partner
    ? `Showing ${plural(rows.length, "article")} about ${batch.partner} of ${batch.rows.length}; ` +
      "the downloads hold every article."
    : "";
}

// ---------------------------------------------------------------- partners: filter and groups

/** Every partner present in the results with its number of articles, most frequent first. */
export function partnerCounts(rows = batch.rows) {
  const counts = new Map();
  for (const row of rows) for (const name of partnersOf(row)) counts.set(name, (counts.get(name) ?? 0) + 1);
  return [...counts].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
}

export function renderPartnerFilter() {
  const counts = partnerCounts();
  if (!counts.some(([name]) => name === batch.partner)) batch.partner = "";
  $("partner-filter").replaceChildren(
    h("option", { value: "" }, "All partners"),
    ...counts.map(([name, count]) =>
      h("option", { value: name, selected: name === batch.partner }, `${name} (${count})`),
    ),
  );
  $("partner-filter").value = batch.partner;
}

export function filterByPartner(name) {
  batch.partner = name;
  renderResults();
}

export function groupByPartner(on) {
  batch.group = on;
  renderResults();
}

/** One group per partner (an article about two is in both), then the articles about none; rows keep their sort. */
export function groupedRows(rows) {
  const groups = partnerCounts(rows)
    .filter(([name]) => !batch.partner || name === batch.partner)
    .map(([name]) => [name, rows.filter((row) => partnersOf(row).includes(name))]);
  const none = rows.filter((row) => partnersOf(row).length === 0);
  if (none.length) groups.push([null, none]);
  return groups.flatMap(([name, members]) => [groupHead(name, members), ...members.map(resultRow)]);
}

export function groupHead(name, members) {
  const stances = new Map();
  for (const row of members) {
    const label = row.result?.partners.find((p) => p.name === name)?.stance.label;
    if (label) stances.set(label, (stances.get(label) ?? 0) + 1);
  }
  return h(
    "tr",
    { className: "group-row", dataset: { partner: name ?? "" } },
    h(
      "th",
      { scope: "rowgroup", colspan: "7" },
      h("span", { className: "group-name" }, name ?? "No partner"),
      ` · ${plural(members.length, "article")}`,
      ...[...stances].map(([label, count]) => stanceTag(label, ` ${count}`)),
    ),
  );
}

export function openFromBatch(row) {
  $("text").value = row.item.text;
  $("title").value = row.item.title || "";
  updateTextStats();
  selectTab($("tab-article"));
  showResult(row.item.text, row.item.title || "", row.result);
}

// ---------------------------------------------------------------- downloads

export function csvCell(value) {
  let text = String(value ?? "");
  if (/^[=+\-@\t\r]/.test(text)) text = `'${text}`; // a spreadsheet must not run an id as a formula
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

export function resultsCsv() {
  const header = [
    "id",
    "in_scope",
    "scope_score",
    "topics",
    "stance",
    "stance_score",
    "partners",
    "partner_stances",
    "partner_salience",
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
          // One entry per partner, most salient first, in the same order in the three columns.
          result.partners.map((p) => p.name).join(";"),
          result.partners.map((p) => p.stance.label).join(";"),
          result.partners.map((p) => p.salience).join(";"),
          result.uncertain,
          result.model_version,
          "",
        ]
      : [item.id, "", "", "", "", "", "", "", "", "", "", error || "not classified"],
  );
  return `\uFEFF${[header, ...lines].map((cells) => cells.map(csvCell).join(",")).join("\r\n")}\r\n`;
}

export function resultsJsonl() {
  return (
    batch.rows
      .map(({ item, result, error }) => JSON.stringify(result ?? { id: item.id, error: error || "not classified" }))
      .join("\n") + "\n"
  );
}

export function download(extension, type, content) {
  const stamp = new Date().toISOString().slice(0, 19).replace(/[-:]/g, "").replace("T", "-");
  const url = URL.createObjectURL(new Blob([content], { type }));
  const link = h("a", { href: url, download: `classified-${stamp}.${extension}` });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}
