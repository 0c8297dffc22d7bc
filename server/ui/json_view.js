// json_view.js - an event's data or metadata, pretty-printed and foldable. It is parsed
// by a small reader of its own that keeps each number's text as stored (JSON.parse
// would turn 2.50 into 2.5 and round large integers): what is shown is what is stored.

import { el } from './dom.js';

// Parse JSON text into nodes: {k:'obj', entries:[[key, node]]}, {k:'arr', items},
// {k:'str', v}, {k:'num'|'lit', raw}. Throws on bad input.
export function parseRaw(text) {
  let i = 0;
  const ws = () => {
    while (i < text.length && ' \t\r\n'.includes(text[i])) i++;
  };
  const fail = (what) => {
    throw new Error('bad JSON at byte ' + i + ': ' + what);
  };
  const str = () => {
    const start = i;
    i++;
    while (i < text.length && text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
    if (i >= text.length) fail('unterminated string');
    i++;
    return JSON.parse(text.slice(start, i));
  };
  // The members of an object or the items of an array, up to `close`.
  const seq = (close, item) => {
    i++;
    const out = [];
    ws();
    if (text[i] === close) {
      i++;
      return out;
    }
    for (;;) {
      out.push(item());
      ws();
      if (text[i] === ',') i++;
      else if (text[i] === close) {
        i++;
        return out;
      } else fail("expected ',' or '" + close + "'");
    }
  };
  const member = () => {
    ws();
    if (text[i] !== '"') fail('expected a key');
    const key = str();
    ws();
    if (text[i] !== ':') fail("expected ':'");
    i++;
    return [key, value()];
  };
  const value = () => {
    ws();
    const c = text[i];
    if (c === '{') return { k: 'obj', entries: seq('}', member) };
    if (c === '[') return { k: 'arr', items: seq(']', value) };
    if (c === '"') return { k: 'str', v: str() };
    const m = /^(-?\d+(\.\d+)?([eE][+-]?\d+)?|true|false|null)/.exec(text.slice(i, i + 400));
    if (!m) fail('unexpected character');
    i += m[0].length;
    return { k: /^[-\d]/.test(m[0]) ? 'num' : 'lit', raw: m[0] };
  };
  const v = value();
  ws();
  if (i !== text.length) fail('text after the value');
  return v;
}

// A parsed value as indented JSON text, its numbers as stored (what "Copy JSON" copies).
export function nodeText(node, indent = '') {
  const inner = indent + '  ';
  switch (node.k) {
    case 'obj':
      if (!node.entries.length) return '{}';
      return (
        '{\n' +
        node.entries.map(([k, v]) => inner + JSON.stringify(k) + ': ' + nodeText(v, inner)).join(',\n') +
        '\n' + indent + '}'
      );
    case 'arr':
      if (!node.items.length) return '[]';
      return '[\n' + node.items.map((v) => inner + nodeText(v, inner)).join(',\n') + '\n' + indent + ']';
    case 'str':
      return JSON.stringify(node.v);
    default:
      return node.raw;
  }
}

function scalar(node) {
  if (node.k === 'str') return el('span.j-str', {}, JSON.stringify(node.v));
  return el('span.j-' + (node.k === 'num' ? 'num' : 'lit'), {}, node.raw);
}

function summary(node) {
  const n = node.k === 'obj' ? node.entries.length : node.items.length;
  return node.k === 'obj' ? '{ ' + n + (n === 1 ? ' key }' : ' keys }') : '[ ' + n + (n === 1 ? ' item ]' : ' items ]');
}

// A node as foldable markup: objects and arrays are <details> (open to `openDepth`),
// which the keyboard opens and closes like any button.
export function renderNode(node, key, depth = 0, openDepth = 2) {
  const label = key !== undefined ? el('span.j-key', {}, JSON.stringify(key) + ': ') : null;
  if (node.k !== 'obj' && node.k !== 'arr') return el('div.j-row', {}, label, scalar(node));
  const children = node.k === 'obj' ? node.entries : node.items.map((v, i) => [i, v]);
  if (!children.length) return el('div.j-row', {}, label, node.k === 'obj' ? '{}' : '[]');
  const body = el('div.j-children');
  for (const [k, v] of children) body.append(renderNode(v, node.k === 'obj' ? k : undefined, depth + 1, openDepth));
  return el(
    'details.j-fold',
    { open: depth < openDepth },
    el('summary', {}, label, el('span.j-sum', {}, summary(node))),
    body,
  );
}

// A whole value from its text; text that is not JSON is shown as it is.
export function jsonView(text, openDepth = 2) {
  try {
    return el('div.json', {}, renderNode(parseRaw(text), undefined, 0, openDepth));
  } catch (e) {
    return el('pre.json', {}, text);
  }
}
