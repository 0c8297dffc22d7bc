// view_overview.js - Overview: the tenant's events, streams, bytes and segments (its
// stat), its append rate over the last minutes (from the change of its event count),
// and for admin tokens the server's fsync latency (from GET /metrics: the mean of each
// interval, from the summed seconds and the count of a histogram named *fsync*) and the
// tenants with their figures. Samples every two seconds while the view is open; the
// history stays for the tab's life, per tenant.

import { getJson, getLines, request, session, tenantPath, parseMetrics } from './api.js';
import { el, clear, errorBox, formatBytes, formatCount, shortTime, notice } from './dom.js';
import { lineChart } from './chart.js';

const SAMPLE_MS = 2000;
const SPAN_MS = 5 * 60 * 1000;
// tenant -> {last: {t, events}, rate: [{t, v}], fsync: [{t, v}], fsyncLast: {sum, count}}
const history = new Map();

function seriesOf(tenant) {
  if (!history.has(tenant)) history.set(tenant, { last: null, rate: [], fsync: [], fsyncLast: null });
  return history.get(tenant);
}

function trim(points, now) {
  while (points.length && now - points[0].t > SPAN_MS) points.shift();
}

// The summed seconds and the count of the server's fsync histogram, or null.
function fsyncTotals(metrics) {
  const sumName = Object.keys(metrics).find((n) => /fsync.*_seconds_sum$/.test(n));
  if (!sumName) return null;
  const countName = sumName.replace(/_sum$/, '_count');
  if (!metrics[countName]) return null;
  const add = (rows) => rows.reduce((a, r) => a + r.value, 0);
  return { sum: add(metrics[sumName]), count: add(metrics[countName]) };
}

function card(label, value, id, small) {
  return el('div.card', { id }, el(small ? 'div.card-value.small' : 'div.card-value', {}, value), el('div.card-label', {}, label));
}

export async function render(main, ctx) {
  const tenant = session.tenant();
  const admin = ctx.can('admin');
  main.append(el('h1', {}, 'Overview'));
  const cards = el('div.cards', { id: 'overview-cards' });
  const charts = el('div.charts');
  const status = el('div', { 'aria-live': 'polite' });
  main.append(cards, charts, status);
  const tenantsBox = el('section', { id: 'tenants' });
  if (ctx.who.tenant === '*') main.append(tenantsBox);
  const s = seriesOf(tenant);

  const sample = async () => {
    const now = Date.now();
    status.replaceChildren();
    let stat;
    try {
      stat = await getJson(tenantPath('/stat'));
    } catch (e) {
      status.append(errorBox(e));
      return;
    }
    // Samples closer than half the period (another view's last one) give no rate.
    if (s.last && now - s.last.t >= SAMPLE_MS / 2) s.rate.push({ t: now, v: ((stat.events - s.last.events) * 1000) / (now - s.last.t) });
    if (!s.last || now - s.last.t >= SAMPLE_MS / 2) s.last = { t: now, events: stat.events };
    trim(s.rate, now);
    let fsyncNote = null;
    if (admin) {
      try {
        const text = await (await request('GET', '/metrics')).text();
        const tot = fsyncTotals(parseMetrics(text));
        if (!tot) fsyncNote = 'This server reports no fsync latency in /metrics.';
        else {
          if (s.fsyncLast && tot.count > s.fsyncLast.count) {
            s.fsync.push({ t: now, v: ((tot.sum - s.fsyncLast.sum) / (tot.count - s.fsyncLast.count)) * 1000 });
          } else if (s.fsyncLast) {
            s.fsync.push({ t: now, v: 0 });
          }
          s.fsyncLast = tot;
        }
      } catch (e) {
        fsyncNote = 'fsync latency: ' + e.message;
      }
    } else {
      fsyncNote = 'fsync latency comes from the server\'s metrics, which need a token with the admin scope.';
    }
    trim(s.fsync, now);
    clear(cards).append(
      card('events', formatCount(stat.events), 'ov-events'),
      card('streams', formatCount(stat.streams), 'ov-streams'),
      card('bytes', formatBytes(stat.bytes), 'ov-bytes'),
      card('segments', formatCount(stat.segments), 'ov-segments'),
      card('last position', formatCount(stat.last_pos), 'ov-last-pos'),
      card('last event', shortTime(stat.last_ts), 'ov-last-ts', true),
    );
    clear(charts).append(lineChart('Append rate, tenant ' + tenant, 'events/s', s.rate, 'chart-rate'));
    if (fsyncNote) charts.append(notice(fsyncNote));
    else charts.append(lineChart('fsync latency (mean), server', 'ms', s.fsync, 'chart-fsync'));
  };

  const showTenants = async () => {
    const list = await getLines('/v1/tenants');
    const body = el('tbody');
    for (const { value } of list) {
      const t = value.tenant;
      const row = el('tr', {}, el('td', { 'data-label': 'Tenant' },
        el('button.link', { type: 'button', onclick: () => { session.setTenant(t); location.reload(); } }, t)));
      try {
        const st = await getJson('/v1/t/' + encodeURIComponent(t) + '/stat');
        row.append(
          el('td.num', { 'data-label': 'Events' }, formatCount(st.events)),
          el('td.num', { 'data-label': 'Streams' }, formatCount(st.streams)),
          el('td.num', { 'data-label': 'Bytes' }, formatBytes(st.bytes)),
          el('td', { 'data-label': 'Last event' }, shortTime(st.last_ts)),
        );
      } catch (e) {
        row.append(el('td', { colspan: 4 }, e.message));
      }
      body.append(row);
    }
    tenantsBox.append(
      el('h2', {}, 'Tenants'),
      el('div.table-wrap', {}, el('table.grid', { id: 'tenants-table' },
        el('thead', {}, el('tr', {}, ['Tenant', 'Events', 'Streams', 'Bytes', 'Last event'].map((h) => el('th', { scope: 'col' }, h)))),
        body)),
    );
  };

  await sample();
  if (ctx.who.tenant === '*') {
    try {
      await showTenants();
    } catch (e) {
      tenantsBox.append(errorBox(e));
    }
  }
  const timer = setInterval(sample, SAMPLE_MS);
  return () => clearInterval(timer);
}
