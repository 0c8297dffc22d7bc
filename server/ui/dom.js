// dom.js - small helpers to build the page. Text always goes in as text (never as
// markup), so an event's data cannot inject anything into the page.

// el('a.link', {href: '#/x'}, 'text', child, ...): tag with optional .classes
export function el(spec, attrs, ...children) {
  const [tag, ...classes] = spec.split('.');
  const node = document.createElement(tag || 'div');
  if (classes.length) node.className = classes.join(' ');
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
    else if (k === 'value') node.value = v;
    else node.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

export function clear(node) {
  while (node.firstChild) node.firstChild.remove();
  return node;
}

// An error as the server gave it: the message, and the answer's body as it is.
export function errorBox(err) {
  const box = el('div.error', { role: 'alert' });
  const status = err.status ? 'HTTP ' + err.status + (err.code ? ' ' + err.code : '') : 'error';
  box.append(el('strong', {}, status + ': '), err.message || String(err));
  if (err.body && err.body.trim() && err.body.trim() !== err.message) {
    box.append(el('pre.raw', {}, err.body.trim()));
  }
  return box;
}

export function notice(text) {
  return el('p.notice', { role: 'status' }, text);
}

// "2026-12-07T23:59:01.123456789Z" shown as "2026-12-07 23:59:01.123 UTC".
export function shortTime(ts) {
  if (!ts) return '—';
  const m = /^(\d{4}-\d\d-\d\d)T(\d\d:\d\d:\d\d)(\.\d{1,3})?\d*Z$/.exec(ts);
  return m ? m[1] + ' ' + m[2] + (m[3] || '') + ' UTC' : ts;
}

export function formatBytes(n) {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return (i === 0 ? String(n) : n.toFixed(1)) + ' ' + units[i];
}

export function formatCount(n) {
  return Number(n).toLocaleString('en');
}

// Copy text to the clipboard; the button says whether it worked.
export async function copyText(text, button) {
  const old = button.textContent;
  try {
    await navigator.clipboard.writeText(text);
    button.textContent = 'Copied';
  } catch (e) {
    // No clipboard permission (an insecure origin): select it for the user instead.
    const area = el('textarea.copy-fallback', { 'aria-label': 'JSON to copy' });
    area.value = text;
    button.after(area);
    area.select();
    button.textContent = 'Select and copy';
  }
  setTimeout(() => (button.textContent = old), 1500);
}

// A labelled form field: el('label') around the text and the control.
export function field(label, control) {
  return el('label.field', {}, el('span', {}, label), control);
}
