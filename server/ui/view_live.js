// view_live.js - Live: new events as they are appended (the server's SSE subscription,
// read through fetch so that the token stays in a header), with the read filters,
// pause and resume (resuming where it stopped: no gap), an events-per-second counter
// over the last ten seconds, and at most MAX_ROWS rows on screen.

import { getJson, subscribe, tenantPath } from './api.js';
import { el, errorBox } from './dom.js';
import { eventItem } from './events.js';
import { filterForm, filterQuery, filterValues } from './filters.js';

const MAX_ROWS = 200;
const RATE_WINDOW_MS = 10000;

export async function render(main, ctx) {
  const values = filterValues(ctx.params, false);
  main.append(el('h1', {}, 'Live'));
  main.append(filterForm('live-filter', values, (v) => ctx.setParams(v), false));

  const state = el('span.live-state', { id: 'live-state', role: 'status' }, 'connecting');
  const rate = el('span.rate', { id: 'live-rate' }, '0.0 events/s');
  const count = el('span.count', { id: 'live-count' }, '0 events');
  const pause = el('button', { type: 'button', id: 'live-pause' }, 'Pause');
  const status = el('div', { 'aria-live': 'polite' });
  main.append(el('div.toolbar.live-bar', {}, state, rate, count, pause), status);
  const list = el('ol.events.live', { id: 'live-events', 'aria-label': 'live events' });
  main.append(list);

  const head = await getJson(tenantPath('/stat'));
  let next = head.last_pos + 1; // the first position not seen yet
  let received = 0;
  let paused = false;
  let stopped = false;
  let controller = null;
  const arrivals = [];

  const showRate = () => {
    const now = performance.now();
    while (arrivals.length && now - arrivals[0] > RATE_WINDOW_MS) arrivals.shift();
    rate.textContent = (arrivals.length / (RATE_WINDOW_MS / 1000)).toFixed(1) + ' events/s';
  };
  const timer = setInterval(showRate, 1000);

  const onEvent = ({ id, data }) => {
    next = Number(id) + 1;
    received++;
    arrivals.push(performance.now());
    list.prepend(eventItem(data));
    while (list.childElementCount > MAX_ROWS) list.lastElementChild.remove();
    count.textContent = received + (received === 1 ? ' event' : ' events');
  };

  const connect = async () => {
    while (!stopped && !paused) {
      controller = new AbortController();
      status.replaceChildren();
      try {
        await subscribe(tenantPath('/subscribe'), { ...filterQuery(values), from: next }, {
          signal: controller.signal,
          onEvent,
          onOpen: () => (state.textContent = 'live'),
        });
        state.textContent = 'reconnecting';
      } catch (e) {
        if (e.name === 'AbortError') return;
        state.textContent = 'disconnected';
        status.append(errorBox(e));
        if (e.status === 401 || e.status === 403 || e.status === 400) return;
      }
      await new Promise((r) => setTimeout(r, 1000));
    }
  };

  pause.addEventListener('click', () => {
    paused = !paused;
    pause.textContent = paused ? 'Resume' : 'Pause';
    pause.setAttribute('aria-pressed', String(paused));
    if (paused) {
      state.textContent = 'paused';
      if (controller) controller.abort();
    } else {
      state.textContent = 'connecting';
      connect();
    }
  });
  connect();

  return () => {
    stopped = true;
    clearInterval(timer);
    if (controller) controller.abort();
  };
}
