// The service's state and its /v1 API client: every request, the API key prompt, the status poll and the codebook.
// Label names and definitions come from GET /v1/labels (the loaded model's codebook), never from here.

import { article, renderArticle } from "./article.js";
import { $, KEY_STORAGE, h, keepingFocus, storage } from "./dom.js";

export const READY_POLL_MS = 30000;
export const NOT_READY_POLL_MS = 3000;
export const UNREACHABLE_POLL_MS = 5000;

// ---------------------------------------------------------------- the API

export class ApiError extends Error {
  constructor(status, code, message, fields) {
    super(message);
    this.status = status;
    this.code = code;
    this.fields = fields || [];
  }
}

export const unreachable = () =>
  new ApiError(
    0,
    "unreachable",
    `Cannot reach the service at ${location.origin}. Check that it is running and reachable, then try again.`,
  );

export let keyPrompt = null;
export let keyResolver = null;

export function askForKey(reason) {
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

export function settleKey(key) {
  const resolve = keyResolver;
  keyResolver = null;
  if (key) storage("session")?.setItem(KEY_STORAGE, key);
  if ($("key-dialog").open) $("key-dialog").close();
  if (resolve) resolve(key);
}

/** Calls /v1; on 401 asks for the API key once, keeps it for the tab and retries. Errors carry the API's message. */
export async function api(path, { method = "GET", body } = {}) {
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

export const service = { version: null, timer: null };
export const labels = { codebook: null, topics: new Map(), stances: new Map(), order: new Map() };

export function setStatus(state, text) {
  $("service-status").dataset.state = state;
  $("status-text").textContent = text;
}

export function setBanner(kind, text) {
  const banner = $("banner");
  banner.hidden = !text;
  banner.dataset.kind = kind;
  banner.textContent = text || "";
}

export async function refreshStatus() {
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

export async function loadCodebook() {
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

export const ensureCodebook = () => (labels.codebook ? Promise.resolve() : loadCodebook());
export const topicName = (id) => labels.topics.get(id)?.name ?? id;
export const stanceName = (id) => labels.stances.get(id)?.name ?? id;
export const byCodebook = (ids) => [...ids].sort((a, b) => (labels.order.get(a) ?? 1e9) - (labels.order.get(b) ?? 1e9));

export function renderCodebook(book) {
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
