// view_log.js - Log: every event in position order with the read filters, a page at a
// time in both directions, and jumps to a position or a time. The page is in the hash:
// at=P (forward from P), before=P (the page that ends at P), neither: the newest page.

import { getLines, tenantPath } from './api.js';
import { el, errorBox, field, notice } from './dom.js';
import { eventList } from './events.js';
import { filterForm, filterQuery, filterValues } from './filters.js';

const PAGE = 50;

export async function render(main, ctx) {
  const p = ctx.params;
  const values = filterValues(p, true);
  const at = p.get('at');
  const before = p.get('before');
  main.append(el('h1', {}, 'Log'));
  main.append(filterForm('log-filter', values, (v) => ctx.setParams(v), true));

  const posIn = el('input', { id: 'jump-pos', type: 'number', min: 1, inputmode: 'numeric' });
  const timeIn = el('input', { id: 'jump-time', type: 'text', placeholder: 'e.g. -10m' });
  const jumpStatus = el('div', { 'aria-live': 'polite' });
  const jump = el(
    'form.filters.jump',
    { id: 'log-jump' },
    field('Position', posIn),
    field('Time', timeIn),
    el('button', { type: 'submit' }, 'Jump'),
    jumpStatus,
  );
  jump.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    jumpStatus.replaceChildren();
    if (posIn.value) return ctx.setParams({ ...values, at: posIn.value });
    if (!timeIn.value.trim()) return;
    try {
      // The first matching event at or after that time.
      const q = filterQuery(values);
      const first = await getLines(tenantPath('/events'), { ...q, since: timeIn.value.trim(), limit: 1 });
      if (!first.length) jumpStatus.append(notice('No matching event at or after ' + timeIn.value.trim() + '.'));
      else ctx.setParams({ ...values, at: first[0].value.pos });
    } catch (e) {
      jumpStatus.append(errorBox(e));
    }
  });
  main.append(jump);

  const q = filterQuery(values);
  let lines;
  if (at) {
    lines = await getLines(tenantPath('/events'), { ...q, from: at, limit: PAGE + 1 });
  } else {
    lines = await getLines(tenantPath('/events'), { ...q, backwards: 1, from: before || undefined, limit: PAGE + 1 });
  }
  const more = lines.length > PAGE;
  let page = lines.slice(0, PAGE);
  if (!at) page = page.reverse();
  const first = page.length ? page[0].value.pos : null;
  const last = page.length ? page[page.length - 1].value.pos : null;
  const atStart = (at && Number(at) <= 1) || (!at && !more);
  const atEnd = (!at && !before) || (at && !more);

  const pager = el('nav.pager', { 'aria-label': 'pages of the log' });
  const btn = (id, label, disabled, params) =>
    el('button', { type: 'button', id, disabled, onclick: () => ctx.setParams({ ...values, ...params }) }, label);
  pager.append(
    btn('log-first', '⇤ First', atStart, { at: 1 }),
    btn('log-prev', '← Earlier', atStart || first === null, { before: first - 1 }),
    btn('log-next', 'Later →', atEnd || last === null, { at: last + 1 }),
    btn('log-last', 'Newest ⇥', atEnd, {}),
  );
  main.append(pager);
  if (!page.length) main.append(notice('No matching event here.'));
  else main.append(el('p.range', { role: 'status' }, 'Positions ' + first + ' to ' + last));
  main.append(eventList(page.map((l) => l.raw)));
}
