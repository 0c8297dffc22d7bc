// view_consumers.js - Consumers: each durable consumer with its checkpoint, lag and
// last acknowledgement, refreshed every two seconds (rows are updated in place, so
// focus stays where it is). A token sees its actor's consumers; an admin token sees
// every actor's, under their stored names ("<actor>.<name>"), and may reset or delete
// them, each after a confirmation.

import { getLines, request, tenantPath, query } from './api.js';
import { el, errorBox, notice, shortTime, formatCount } from './dom.js';

const REFRESH_MS = 2000;

function consumerPath(name, rest) {
  return tenantPath('/consumers/' + encodeURIComponent(name) + rest);
}

// An admin names consumers as the store keeps them.
const STORED = { stored: 1 };

export async function render(main, ctx) {
  const admin = ctx.can('admin');
  main.append(el('h1', {}, 'Consumers'));
  main.append(
    el('p.help', {}, admin
      ? 'Every actor\'s durable consumers, named "actor.name". Refreshed every two seconds.'
      : 'Durable consumers of this token\'s actor' + (ctx.who.actor ? ' (' + ctx.who.actor + ')' : '') + '. Refreshed every two seconds.'),
  );
  const status = el('div', { 'aria-live': 'polite', id: 'consumers-status' });
  const body = el('tbody');
  const heads = ['Consumer', 'Checkpoint', 'Lag', 'Last ack', 'Open', 'Filter'];
  if (admin) heads.push('Actions');
  const table = el(
    'table.grid',
    { id: 'consumers-table' },
    el('caption.sr-only', {}, 'Consumers'),
    el('thead', {}, el('tr', {}, heads.map((h) => el('th', { scope: 'col' }, h)))),
    body,
  );
  const empty = notice('No consumer yet: one is made by its first poll (GET …/consumers/NAME/events).');
  main.append(status, el('div.table-wrap', {}, table));
  const rows = new Map();

  const act = async (c, what) => {
    status.replaceChildren();
    try {
      if (what === 'reset') {
        const to = prompt('Reset consumer "' + c + '" to which position? (0 replays everything)', '0');
        if (to === null) return;
        if (!confirm('Set the checkpoint of "' + c + '" to ' + to + '?')) return;
        await request('POST', consumerPath(c, '/reset') + query({ ...STORED, to: to.trim() }));
        status.append(notice('Consumer "' + c + '" reset to ' + to.trim() + '.'));
      } else {
        if (!confirm('Delete consumer "' + c + '" and its checkpoint?')) return;
        await request('DELETE', consumerPath(c, '') + query(STORED));
        status.append(notice('Consumer "' + c + '" deleted.'));
      }
      await refresh();
    } catch (e) {
      status.append(errorBox(e));
    }
  };

  const makeRow = (name) => {
    const cells = {};
    const tr = el('tr', { 'data-consumer': name });
    for (const [key, label] of [['consumer', 'Consumer'], ['checkpoint', 'Checkpoint'], ['lag', 'Lag'], ['ack', 'Last ack'], ['open', 'Open'], ['filter', 'Filter']]) {
      cells[key] = el('td', { 'data-label': label, class: ['checkpoint', 'lag'].includes(key) ? 'num ' + key : key });
      tr.append(cells[key]);
    }
    if (admin) {
      tr.append(
        el('td', { 'data-label': 'Actions' },
          el('button.secondary', { type: 'button', onclick: () => act(name, 'reset') }, 'Reset'),
          ' ',
          el('button.danger', { type: 'button', onclick: () => act(name, 'delete') }, 'Delete')),
      );
    }
    return { tr, cells };
  };

  const refresh = async () => {
    let list;
    try {
      list = (await getLines(tenantPath('/consumers'), admin ? { all: 1 } : {})).map((l) => l.value);
    } catch (e) {
      status.replaceChildren(errorBox(e));
      return;
    }
    const seen = new Set();
    for (const c of list) {
      seen.add(c.consumer);
      let row = rows.get(c.consumer);
      if (!row) {
        row = makeRow(c.consumer);
        rows.set(c.consumer, row);
        body.append(row.tr);
      }
      row.cells.consumer.textContent = c.consumer;
      row.cells.checkpoint.textContent = formatCount(c.checkpoint);
      row.cells.lag.textContent = formatCount(c.lag);
      row.cells.lag.classList.toggle('behind', c.lag > 0);
      row.cells.ack.textContent = shortTime(c.ack_ts);
      row.cells.open.textContent = c.open ? 'yes' : 'no';
      row.cells.filter.textContent = c.filter ? JSON.stringify(c.filter) : '—';
      if (c.error) row.cells.filter.textContent += ' (' + c.error + ')';
    }
    for (const [name, row] of rows) {
      if (!seen.has(name)) {
        row.tr.remove();
        rows.delete(name);
      }
    }
    if (rows.size === 0) table.before(empty);
    else empty.remove();
  };
  await refresh();
  const timer = setInterval(refresh, REFRESH_MS);
  return () => clearInterval(timer);
}
