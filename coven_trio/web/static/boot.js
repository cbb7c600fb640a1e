// coven-trio dashboard: shared helpers (DOM, API, streams). Loaded first.
"use strict";

// The page's CSP allows style elements that carry this load's nonce only; xterm.js
// makes style elements at run time, so each gets the nonce as it is created.
(function patchStyleNonce() {
  const meta = document.querySelector('meta[name="coven-nonce"]');
  const nonce = meta ? meta.content : "";
  const create = Document.prototype.createElement;
  Document.prototype.createElement = function (tag, options) {
    const el = create.call(this, tag, options);
    if (nonce && String(tag).toLowerCase() === "style") el.nonce = nonce;
    return el;
  };
})();

const C = (window.Coven = {});

// h("a", {href: "#/"}, "text", child…): every text goes in as text, never as HTML.
C.h = function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (key === "class") el.className = value;
    else if (key === "text") el.textContent = value;
    else if (value === true) el.setAttribute(key, "");
    else el.setAttribute(key, String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
};

C.toast = function toast(text) {
  const box = document.getElementById("toast");
  box.textContent = text;
  clearTimeout(C._toastTimer);
  C._toastTimer = setTimeout(() => (box.textContent = ""), 5000);
};

class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}
C.ApiError = ApiError;

C.api = async function api(method, path, body) {
  const init = { method, credentials: "same-origin", headers: {} };
  if (body !== undefined) {
    init.headers["content-type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(path, init);
  let data = null;
  try {
    data = await response.json();
  } catch (_) {
    data = null;
  }
  if (!response.ok) {
    const error = (data && data.error) || {};
    if (response.status === 401 && C.onUnauthorized) C.onUnauthorized();
    throw new ApiError(response.status, error.code || "http_error", error.message || response.statusText);
  }
  return data;
};

// Read an NDJSON stream, calling onLine with each parsed line, until it ends or
// `signal` aborts. Blank lines (heartbeats) are skipped. Returns lines read (blank too).
// `person`: a person reads this session's stream, so its questions come here.
C.follow = async function follow(path, onLine, signal, person) {
  const headers = person ? { "coven-attach": "person" } : {};
  const response = await fetch(path, { credentials: "same-origin", signal, headers });
  if (!response.ok) throw new ApiError(response.status, "stream", response.statusText);
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let end;
    while ((end = buffer.indexOf("\n")) >= 0) {
      const line = buffer.slice(0, end);
      buffer = buffer.slice(end + 1);
      if (line.trim()) onLine(JSON.parse(line));
    }
  }
};

C.ago = function ago(iso) {
  if (!iso) return "";
  const seconds = Math.max(0, (Date.now() - Date.parse(iso)) / 1000);
  if (seconds < 60) return `${Math.round(seconds)} s ago`;
  if (seconds < 3600) return `${Math.round(seconds / 60)} min ago`;
  if (seconds < 86400) return `${Math.round(seconds / 3600)} h ago`;
  return `${Math.round(seconds / 86400)} d ago`;
};

C.money = function money(usd) {
  if (typeof usd !== "number") return "";
  return usd < 0.01 && usd > 0 ? `$${usd.toFixed(4)}` : `$${usd.toFixed(2)}`;
};

// A session record's cost, whichever name the daemon gives it.
C.costOf = function costOf(record) {
  for (const key of ["cost_usd", "costUsd", "total_cost_usd", "totalCostUsd"]) {
    if (typeof record[key] === "number") return record[key];
  }
  const cost = record.cost;
  if (typeof cost === "number") return cost;
  if (cost && typeof cost === "object") {
    for (const key of ["usd", "totalUsd", "total_usd", "costUsd"]) {
      if (typeof cost[key] === "number") return cost[key];
    }
  }
  return null;
};

C.basename = (path) => String(path || "").replace(/\/+$/, "").split("/").pop() || path;

C.LIVE = new Set(["running", "idle"]);
C.isPty = (record) => record.launch_mode === "interactive";
