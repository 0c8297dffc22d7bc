// app.js - the web UI's frame: login with a pasted token, the tenant, the navigation,
// and a router over the location's hash (#/streams, #/stream/NAME, #/log, ...). The hash
// holds only what is on screen, never the token.

import { getJson, getLines, session } from './api.js';
import { el, clear, errorBox } from './dom.js';
import * as streams from './view_streams.js';
import * as stream from './view_stream.js';
import * as log from './view_log.js';
import * as live from './view_live.js';
import * as consumers from './view_consumers.js';
import * as overview from './view_overview.js';
import * as append from './view_append.js';

const VIEWS = [
  { path: 'overview', title: 'Overview', mod: overview, scope: 'read' },
  { path: 'streams', title: 'Streams', mod: streams, scope: 'read' },
  { path: 'stream', title: 'Stream', mod: stream, scope: 'read', hidden: true },
  { path: 'log', title: 'Log', mod: log, scope: 'read' },
  { path: 'live', title: 'Live', mod: live, scope: 'read' },
  { path: 'consumers', title: 'Consumers', mod: consumers, scope: 'consume' },
  { path: 'append', title: 'Append', mod: append, scope: 'append' },
];

const main = document.getElementById('main');
const nav = document.getElementById('nav');
const who = document.getElementById('who');
let who_am_i = null;
let cleanup = null;
// Each render has a number: a view whose render finishes after a newer one started (a
// hash change while it waited for the server) is stopped at once, so no view's timers
// or streams outlive it.
let generation = 0;

function can(scope) {
  if (!who_am_i) return false;
  const scopes = who_am_i.scopes.split(',');
  return scopes.includes(scope) || scopes.includes('admin');
}

// The hash as {view, arg, params}.
function route() {
  const h = location.hash.replace(/^#\/?/, '');
  const q = h.indexOf('?');
  const path = q >= 0 ? h.slice(0, q) : h;
  const params = new URLSearchParams(q >= 0 ? h.slice(q + 1) : '');
  const slash = path.indexOf('/');
  return {
    view: slash >= 0 ? path.slice(0, slash) : path,
    arg: slash >= 0 ? decodeURIComponent(path.slice(slash + 1)) : '',
    params,
  };
}

// Replace the hash's parameters without adding a history entry for every keystroke.
function setParams(view, arg, params, push = true) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') q.set(k, v);
  const s = q.toString();
  const hash = '#/' + view + (arg ? '/' + encodeURIComponent(arg) : '') + (s ? '?' + s : '');
  if (hash === location.hash) {
    render();
  } else if (push) {
    location.hash = hash;
  } else {
    history.replaceState(null, '', hash);
    render();
  }
}

function renderNav(current) {
  clear(nav);
  for (const v of VIEWS) {
    if (v.hidden || !can(v.scope)) continue;
    const a = el('a', { href: '#/' + v.path }, v.title);
    if (v.path === current || (current === 'stream' && v.path === 'streams')) a.setAttribute('aria-current', 'page');
    nav.append(a);
  }
}

async function renderWho() {
  clear(who);
  if (!who_am_i) return;
  const tenant = session.tenant();
  if (who_am_i.tenant === '*') {
    // An operator token: every tenant; the user picks one.
    const select = el('select', { id: 'tenant', 'aria-label': 'Tenant' });
    try {
      const list = await getLines('/v1/tenants');
      for (const { value } of list) select.append(el('option', { value: value.tenant }, value.tenant));
    } catch (e) {
      select.append(el('option', { value: tenant }, tenant));
    }
    select.value = tenant;
    select.addEventListener('change', () => {
      session.setTenant(select.value);
      render();
    });
    who.append(el('label.tenant', {}, 'Tenant ', select));
  } else {
    who.append(el('span.tenant', {}, 'Tenant ', el('strong', {}, tenant)));
  }
  who.append(el('span.scopes', { title: 'scopes of this token' }, who_am_i.scopes));
  who.append(
    el('button.secondary', { type: 'button', id: 'logout', onclick: logout }, 'Log out'),
  );
}

function logout() {
  session.clear();
  who_am_i = null;
  location.hash = '#/';
  showLogin();
}

function showLogin(message) {
  if (cleanup) cleanup();
  cleanup = null;
  generation++; // a view still loading must not start its timers after logout
  clear(nav);
  clear(who);
  clear(main);
  const input = el('input', {
    id: 'token',
    type: 'password',
    autocomplete: 'off',
    spellcheck: 'false',
    required: true,
    'aria-describedby': 'token-help',
  });
  const status = el('div', { id: 'login-status', 'aria-live': 'polite' });
  if (message) status.append(message);
  const form = el(
    'form.login',
    { id: 'login' },
    el('h1', {}, 'evstore'),
    el('label.field', { for: 'token' }, el('span', {}, 'Token'), input),
    el('p.help', { id: 'token-help' }, 'Paste a token made by "evstore token create". It is kept in this tab only, until you log out or close it.'),
    el('button', { type: 'submit' }, 'Log in'),
    status,
  );
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clear(status);
    const token = input.value.trim();
    try {
      const me = await getJson('/v1/whoami', {}, { token });
      const tenant = me.tenant === '*' ? await firstTenant(token) : me.tenant;
      session.save(token, tenant);
      who_am_i = me;
      // Without a view in the hash, the overview; replaceState fires no hashchange, so
      // start() renders once.
      if (!location.hash || location.hash === '#/') history.replaceState(null, '', '#/overview');
      await start();
    } catch (e) {
      const why =
        e.status === 401
          ? 'Login failed: the server does not accept this token (' + e.message + ').'
          : 'Login failed: ' + e.message;
      status.append(errorBox({ ...e, message: why }));
      input.focus();
    }
  });
  main.append(form);
  input.focus();
}

async function firstTenant(token) {
  try {
    const list = await getLines('/v1/tenants', {}, { token });
    return list.length ? list[0].value.tenant : 'default';
  } catch (e) {
    return 'default';
  }
}

async function render() {
  if (!who_am_i) return;
  if (cleanup) cleanup();
  cleanup = null;
  const mine = ++generation;
  const r = route();
  let view = VIEWS.find((v) => v.path === r.view);
  if (!view) view = VIEWS.find((v) => can(v.scope)) || VIEWS[0];
  renderNav(view.path);
  // The view draws into a box of its own: a render overtaken by a newer one draws into
  // a box no longer on the page.
  const box = el('div.view');
  clear(main).append(box);
  document.title = view.title + ' · evstore';
  const ctx = {
    who: who_am_i,
    can,
    arg: r.arg,
    params: r.params,
    setParams: (params, push) => setParams(view.path, r.arg, params, push),
  };
  try {
    const stop = (await view.mod.render(box, ctx)) || null;
    if (mine !== generation) {
      if (stop) stop();
      return;
    }
    cleanup = stop;
  } catch (e) {
    if (mine !== generation) return;
    box.append(errorBox(e));
    if (e.status === 401) showLogin(errorBox({ ...e, message: 'The token stopped working: ' + e.message }));
  }
  const h1 = main.querySelector('h1');
  if (h1) {
    h1.tabIndex = -1;
    h1.focus({ preventScroll: true });
  }
}

async function start() {
  await renderWho();
  await render();
}

window.addEventListener('hashchange', render);
// The skip link moves the focus; following it would change the hash the router reads.
document.querySelector('.skip').addEventListener('click', (ev) => {
  ev.preventDefault();
  main.focus();
});

(async () => {
  const token = session.token();
  if (!token) return showLogin();
  try {
    who_am_i = await getJson('/v1/whoami');
    await start();
  } catch (e) {
    session.clear();
    showLogin(errorBox({ ...e, message: 'Please log in again: ' + e.message }));
  }
})();
