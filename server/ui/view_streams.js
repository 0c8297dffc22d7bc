// view_streams.js - Streams: search by prefix and category, each stream with its event
// count, last version, last position and last event time, a page at a time (the server
// keeps only a page's worth in memory: after=NAME&limit=N).

import { getLines, tenantPath } from './api.js';
import { el, field, formatCount, shortTime } from './dom.js';
import { streamHref } from './events.js';

const PAGE = 50;

export async function render(main, ctx) {
  const p = ctx.params;
  const prefix = p.get('prefix') || '';
  const category = p.get('category') || '';
  // The names that started the pages before this one, for "Previous".
  const trail = p.get('trail') ? p.get('trail').split('\n') : [];
  const after = p.get('after') || '';

  const prefixIn = el('input', { id: 'stream-prefix', type: 'search', value: prefix, autocomplete: 'off' });
  const categoryIn = el('input', { id: 'stream-category', type: 'search', value: category, autocomplete: 'off' });
  const form = el(
    'form.filters',
    { id: 'streams-search', role: 'search' },
    field('Prefix', prefixIn),
    field('Category', categoryIn),
    el('button', { type: 'submit' }, 'Search'),
  );
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    ctx.setParams({ prefix: prefixIn.value, category: categoryIn.value });
  });
  main.append(el('h1', {}, 'Streams'), form);

  const lines = await getLines(tenantPath('/streams'), {
    prefix,
    category,
    after,
    limit: PAGE + 1,
    last_ts: 1,
  });
  const more = lines.length > PAGE;
  const rows = lines.slice(0, PAGE).map((l) => l.value);
  if (!rows.length) {
    main.append(el('p.notice', { role: 'status' }, after ? 'No more streams.' : 'No stream matches.'));
  } else {
    const table = el(
      'table.grid',
      { id: 'streams-table' },
      el('caption.sr-only', {}, 'Streams'),
      el(
        'thead',
        {},
        el('tr', {}, ['Stream', 'Events', 'Last version', 'Last position', 'Last event'].map((h) => el('th', { scope: 'col' }, h))),
      ),
    );
    const body = el('tbody');
    for (const s of rows) {
      body.append(
        el(
          'tr',
          {},
          el('td', { 'data-label': 'Stream' }, el('a', { href: streamHref(s.stream) }, s.stream)),
          el('td.num', { 'data-label': 'Events' }, formatCount(s.events)),
          el('td.num', { 'data-label': 'Last version' }, s.version),
          el('td.num', { 'data-label': 'Last position' }, s.last_pos),
          el('td', { 'data-label': 'Last event' }, shortTime(s.last_ts)),
        ),
      );
    }
    table.append(body);
    main.append(el('div.table-wrap', {}, table));
  }
  const pager = el('nav.pager', { 'aria-label': 'pages of streams' });
  const base = { prefix, category };
  if (after) {
    const prevTrail = trail.slice(0, -1);
    pager.append(
      el('button', {
        type: 'button',
        onclick: () => ctx.setParams({ ...base, after: trail[trail.length - 1] || '', trail: prevTrail.join('\n') }),
      }, '← Previous'),
    );
  }
  if (more) {
    pager.append(
      el('button', {
        type: 'button',
        id: 'streams-next',
        onclick: () => ctx.setParams({ ...base, after: rows[rows.length - 1].stream, trail: [...trail, after].join('\n') }),
      }, 'Next →'),
    );
  }
  if (pager.childNodes.length) main.append(pager);
}
