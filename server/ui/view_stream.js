// view_stream.js - one stream: its events in version order, or newest first, a page
// at a time, each with its data and metadata foldable and a copy-as-JSON button.

import { getLines, streamPath } from './api.js';
import { el } from './dom.js';
import { eventList } from './events.js';

const PAGE = 50;

export async function render(main, ctx) {
  const name = ctx.arg;
  const newest = ctx.params.get('order') === 'newest';
  const from = ctx.params.get('from');
  main.append(el('h1', {}, 'Stream ', el('code', {}, name)));
  const order = el(
    'div.toolbar',
    {},
    el('button.secondary', {
      type: 'button',
      id: 'stream-order',
      'aria-pressed': String(newest),
      onclick: () => ctx.setParams({ order: newest ? '' : 'newest' }),
    }, newest ? 'Show oldest first' : 'Show newest first'),
    ctx.can('append') ? el('a.button', { href: '#/append?stream=' + encodeURIComponent(name) }, 'Append to this stream') : null,
  );
  main.append(order);
  const params = { limit: PAGE + 1, from_version: from, backwards: newest ? 1 : undefined };
  const lines = await getLines(streamPath(name), params);
  const more = lines.length > PAGE;
  const page = lines.slice(0, PAGE);
  main.append(eventList(page.map((l) => l.raw), { showStream: false }));
  const pager = el('nav.pager', { 'aria-label': 'pages of events' });
  if (from !== null) {
    pager.append(el('button', { type: 'button', onclick: () => ctx.setParams({ order: newest ? 'newest' : '' }) }, newest ? '⇤ Newest' : '⇤ First'));
  }
  if (more) {
    const last = page[page.length - 1].value.version;
    pager.append(
      el('button', {
        type: 'button',
        id: 'stream-next',
        onclick: () => ctx.setParams({ order: newest ? 'newest' : '', from: newest ? last - 1 : last + 1 }),
      }, newest ? 'Older →' : 'Newer →'),
    );
  }
  if (pager.childNodes.length) main.append(pager);
}
