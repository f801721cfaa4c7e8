// Shared helpers of the studio pages: API calls, errors, debouncing, job polling.
// The token (when the studio has one) travels in the faceveil_token cookie, so fetch needs
// nothing more than same-origin credentials.

export const API = "/api/v1";

export const $ = (sel, root = document) => root.querySelector(sel);
export const $$ = (sel, root = document) => [...root.querySelectorAll(sel)];

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

// Calls the API; `body` is FormData (multipart) or a plain object (JSON). Returns parsed JSON,
// or a Blob for images.
export async function api(path, { method = "GET", body, headers = {}, query } = {}) {
  // JSON answers by default (image routes answer with the image itself otherwise)
  const init = { method, credentials: "same-origin", headers: { Accept: "application/json", ...headers } };
  if (body instanceof FormData) {
    init.body = body;
  } else if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers["Content-Type"] = "application/json";
  }
  let url = path.startsWith("/") && !path.startsWith(API) ? API + path : path;
  if (query) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) {
      if (v !== undefined && v !== null && v !== "") q.append(k, v);
    }
    if ([...q].length) url += (url.includes("?") ? "&" : "?") + q;
  }
  const res = await fetch(url, init);
  if (res.status === 401) {
    location.href = `/login?next=${encodeURIComponent(location.pathname)}`;
    throw new ApiError(401, "the studio needs its access token");
  }
  const type = res.headers.get("content-type") || "";
  if (!res.ok) {
    let message = `${res.status} ${res.statusText}`;
    if (type.includes("json")) {
      const data = await res.json().catch(() => ({}));
      message = data.error || data.detail?.[0]?.msg || data.detail || message;
    }
    throw new ApiError(res.status, typeof message === "string" ? message : JSON.stringify(message));
  }
  if (res.status === 204) return null;
  if (type.includes("json")) return res.json();
  return res.blob();
}

// Shows a message in a status element; errors in red.
export function say(el, text, isError = false) {
  if (!el) return;
  el.textContent = text || "";
  el.classList.toggle("error", !!isError);
  el.setAttribute("role", isError ? "alert" : "status");
}

export function debounce(fn, ms) {
  let timer;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}

// Runs `fn` on a button click with the button disabled meanwhile; errors go to `statusEl`.
export function busy(button, statusEl, fn) {
  button.addEventListener("click", async (event) => {
    event.preventDefault();
    button.disabled = true;
    try {
      await fn(event);
    } catch (err) {
      say(statusEl, err.message || String(err), true);
    } finally {
      button.disabled = false;
    }
  });
}

export function fmt(x, digits = 3) {
  return typeof x === "number" && Number.isFinite(x) ? x.toFixed(digits) : "–";
}

// An <img> src for an API image: a URL, a data: URI, or raw base64 PNG.
export function imageSrc(value) {
  if (!value) return "";
  if (value.url) return value.url; // a FileLink {sha, url, media_type}
  if (typeof value !== "string") return URL.createObjectURL(value);
  if (value.startsWith("data:") || value.startsWith("/") || value.startsWith("http")) return value;
  return `data:image/png;base64,${value}`;
}

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") node.className = v;
    else if (k === "text") node.textContent = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (k === "style") node.style.cssText = v; // CSSOM: the CSP blocks style attributes
    else node.setAttribute(k, v === true ? "" : v);
  }
  for (const child of children.flat()) {
    if (child !== undefined && child !== null) node.append(child);
  }
  return node;
}

// Polls GET /jobs/{id} until the job ends; `onUpdate(job)` after every poll.
export async function pollJob(id, onUpdate, intervalMs = 700) {
  const ended = new Set(["done", "succeeded", "finished", "failed", "error", "cancelled", "interrupted"]);
  for (;;) {
    const job = await api(`/jobs/${encodeURIComponent(id)}`);
    onUpdate(job);
    if (ended.has(job.status)) return job;
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

export function badge(status) {
  return el("span", { class: `badge ${status}`, text: status });
}
