// api.js - every call the UI makes goes through here, to the server's public API, with
// the token the user pasted. The token lives in this tab's sessionStorage only: it is
// sent in the Authorization header, never in a URL.

const TOKEN_KEY = 'evstore.token';
const TENANT_KEY = 'evstore.tenant';

export class ApiError extends Error {
  // status: the HTTP status (0 when the server could not be reached); body: the
  // server's answer as text, shown to the user as it is.
  constructor(status, code, message, body) {
    super(message);
    this.status = status;
    this.code = code;
    this.body = body;
  }
}

export const session = {
  token: () => sessionStorage.getItem(TOKEN_KEY),
  tenant: () => sessionStorage.getItem(TENANT_KEY),
  setTenant: (t) => sessionStorage.setItem(TENANT_KEY, t),
  save(token, tenant) {
    sessionStorage.setItem(TOKEN_KEY, token);
    sessionStorage.setItem(TENANT_KEY, tenant);
  },
  clear() {
    sessionStorage.removeItem(TOKEN_KEY);
    sessionStorage.removeItem(TENANT_KEY);
  },
};

// A query string from an object; arrays repeat their key, empty values are left out.
export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {})) {
    if (v === undefined || v === null || v === '') continue;
    for (const one of Array.isArray(v) ? v : [v]) q.append(k, String(one));
  }
  const s = q.toString();
  return s ? '?' + s : '';
}

// The tenant part of a path: /v1/t/<tenant>
export function tenantPath(rest) {
  return '/v1/t/' + encodeURIComponent(session.tenant()) + rest;
}

// Stream names may hold '/', which the server takes as part of the name: each part is
// encoded apart.
export function streamPath(name) {
  return tenantPath('/streams/' + name.split('/').map(encodeURIComponent).join('/'));
}

async function errorOf(resp) {
  const body = await resp.text();
  let code = 'http_' + resp.status;
  let message = body.trim() || resp.statusText;
  try {
    const j = JSON.parse(body);
    if (j && typeof j.message === 'string') {
      code = j.error || code;
      message = j.message;
    }
  } catch (e) {
    // Not JSON: the text is shown as it came.
  }
  return new ApiError(resp.status, code, message, body);
}

// One request. token: the one to send (default: the session's). Returns the Response
// when it is 2xx; throws ApiError otherwise.
export async function request(method, path, { body, contentType, token, signal } = {}) {
  const headers = {};
  const t = token !== undefined ? token : session.token();
  if (t) headers['Authorization'] = 'Bearer ' + t;
  if (body !== undefined) headers['Content-Type'] = contentType || 'application/json';
  let resp;
  try {
    resp = await fetch(path, { method, headers, body, signal, cache: 'no-store' });
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    throw new ApiError(0, 'unreachable', 'the server cannot be reached: ' + e.message, '');
  }
  if (!resp.ok) throw await errorOf(resp);
  return resp;
}

// The lines of an NDJSON answer, each with its parsed value and its text as sent.
export function ndjsonLines(text) {
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((raw) => ({ raw, value: JSON.parse(raw) }));
}

export async function getLines(path, params, opts) {
  const resp = await request('GET', path + query(params), opts);
  return ndjsonLines(await resp.text());
}

export async function getJson(path, params, opts) {
  const resp = await request('GET', path + query(params), opts);
  return resp.json();
}

export async function postJson(path, params, bodyText, opts = {}) {
  const resp = await request('POST', path + query(params), { ...opts, body: bodyText });
  return { status: resp.status, text: await resp.text() };
}

// Server-Sent Events through fetch (EventSource cannot send the Authorization header,
// and the token must not go into the URL). Calls onEvent({id, data}) for each message
// and onOpen() once the answer's headers are in; resolves when the stream ends.
export async function subscribe(path, params, { signal, onEvent, onOpen }) {
  const resp = await request('GET', path + query(params), { signal });
  if (onOpen) onOpen();
  const reader = resp.body.getReader();
  const decoder = new TextDecoder();
  let buf = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buf += decoder.decode(value, { stream: true });
    let cut;
    while ((cut = buf.indexOf('\n\n')) >= 0) {
      const block = buf.slice(0, cut);
      buf = buf.slice(cut + 2);
      let id = null;
      const data = [];
      for (const line of block.split('\n')) {
        if (line.startsWith('id:')) id = line.slice(3).trim();
        else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
      }
      if (data.length > 0) onEvent({ id, data: data.join('\n') });
    }
  }
}

// Prometheus text into {name: [{labels, value}]}.
export function parseMetrics(text) {
  const out = {};
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const labels = {};
    if (m[2]) {
      for (const lm of m[2].matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
        labels[lm[1]] = lm[2];
      }
    }
    (out[m[1]] = out[m[1]] || []).push({ labels, value: Number(m[3]) });
  }
  return out;
}
