// events.js - one event as the Stream, Log and Live views show it: position, stream,
// version, type, time, then its data and metadata pretty-printed and foldable, and a
// button that copies the envelope as JSON (numbers as stored).

import { el, copyText, shortTime } from './dom.js';
import { parseRaw, renderNode, nodeText } from './json_view.js';

function member(node, key) {
  const e = node.entries.find(([k]) => k === key);
  return e ? e[1] : undefined;
}

function scalarText(node) {
  if (!node) return '';
  return node.k === 'str' ? node.v : node.raw;
}

export function streamHref(name) {
  return '#/stream/' + encodeURIComponent(name);
}

// raw: one envelope line as the server sent it.
export function eventItem(raw, { showStream = true } = {}) {
  let env;
  try {
    env = parseRaw(raw);
  } catch (e) {
    return el('li.event', {}, el('pre.raw', {}, raw));
  }
  const stream = scalarText(member(env, 'stream'));
  const pos = scalarText(member(env, 'pos'));
  const head = el(
    'div.event-head',
    {},
    el('span.pos', { title: 'position' }, '#' + pos),
    showStream ? el('a.stream', { href: streamHref(stream) }, stream) : null,
    el('span.version', { title: 'version in its stream' }, 'v' + scalarText(member(env, 'version'))),
    el('span.type', {}, scalarText(member(env, 'type'))),
    el('time', { datetime: scalarText(member(env, 'ts')) }, shortTime(scalarText(member(env, 'ts')))),
  );
  const copy = el('button.copy', { type: 'button', 'aria-label': 'Copy event ' + pos + ' as JSON' }, 'Copy JSON');
  copy.addEventListener('click', () => copyText(nodeText(env), copy));
  head.append(copy);
  const body = el('div.event-body');
  for (const key of ['data', 'metadata']) {
    const node = member(env, key);
    if (node) body.append(el('div.part', {}, el('span.part-name', {}, key), renderNode(node, undefined, 0, 2)));
  }
  return el('li.event', { 'data-pos': pos, 'data-stream': stream }, head, body);
}

export function eventList(lines, opts) {
  const list = el('ol.events', { 'aria-label': 'events' });
  for (const raw of lines) list.append(eventItem(raw, opts));
  return list;
}
