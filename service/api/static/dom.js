// Small DOM and storage helpers, and the tabs, shared by every part of the page.
export const KEY_STORAGE = "pakrel.apiKey"; // sessionStorage: this tab only
export const ANNOTATOR_STORAGE = "pakrel.annotator"; // localStorage: remembered in this browser

export const $ = (id) => document.getElementById(id);

// ---------------------------------------------------------------- small DOM and storage helpers

export function h(tag, attrs = {}, ...children) {
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

export function storage(kind) {
  try {
    return kind === "session" ? window.sessionStorage : window.localStorage;
  } catch {
    return null; // storage disabled: the page still works, it just forgets
  }
}

export function showMessage(el, kind, text) {
  el.className = `message ${kind}`;
  el.textContent = text;
  el.hidden = false;
}

export function hideMessage(el) {
  el.hidden = true;
  el.textContent = "";
}

export function setBusy(button, busy, label) {
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

export const isBusy = (button) => button.getAttribute("aria-busy") === "true";

/** Re-render without losing the keyboard user's place: focus returns to the control with the same key. */
export function keepingFocus(render) {
  const key = document.activeElement?.dataset?.focusKey;
  render();
  if (key) document.querySelector(`[data-focus-key="${CSS.escape(key)}"]`)?.focus();
}

export const score = (value) => Number(value).toFixed(2);
export const plural = (count, word) => `${count} ${word}${count === 1 ? "" : "s"}`;

export function newClientId() {
  if (window.crypto?.randomUUID) return crypto.randomUUID();
  // randomUUID needs a secure context; a plain-http deployment still has getRandomValues.
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[6] = (bytes[6] & 0x0f) | 0x40;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

// ---------------------------------------------------------------- tabs

export function selectTab(tab) {
  for (const other of document.querySelectorAll('[role="tab"]')) {
    const selected = other === tab;
    other.setAttribute("aria-selected", String(selected));
    other.tabIndex = selected ? 0 : -1;
    $(other.getAttribute("aria-controls")).hidden = !selected;
  }
}

export function onTabKey(event) {
  const tabs = [...document.querySelectorAll('[role="tab"]')];
  const index = tabs.indexOf(event.currentTarget);
  const moves = { ArrowRight: index + 1, ArrowLeft: index - 1, Home: 0, End: tabs.length - 1 };
  if (!(event.key in moves)) return;
  event.preventDefault();
  const target = tabs[(moves[event.key] + tabs.length) % tabs.length];
  selectTab(target);
  target.focus();
}
