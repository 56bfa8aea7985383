// The analyst's page. Plain JavaScript with no dependencies; it talks only to this service's /v1 API.
// Label names and definitions come from GET /v1/labels (the loaded model's codebook), never from here.

import { refreshStatus, settleKey } from "./api.js";
import { article, classifyArticle, openTextFile, selectEvidence, setView, updateTextStats } from "./article.js";
import {
  addBatchFiles,
  clearBatch,
  download,
  filterByPartner,
  groupByPartner,
  resultsCsv,
  resultsJsonl,
  runBatch,
  sortBy,
} from "./batch.js";
import { resetLabels, sendCorrection } from "./corrections.js";
import { $, ANNOTATOR_STORAGE, hideMessage, onTabKey, selectTab, storage } from "./dom.js";

// Entry point: wires every control to the parts, which live in the modules imported above.

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
  $("partner-filter").addEventListener("change", (event) => filterByPartner(event.target.value));
  $("group-by-partner").addEventListener("change", (event) => groupByPartner(event.target.checked));
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
