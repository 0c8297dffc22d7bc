// filters.js - the read filters the Log and Live views share: types (several, comma
// separated), category, prefix, and for the log a time range. Their values live in the
// hash (#/log?type=A,B&category=order), and go to the server as its query parameters.

import { el, field } from './dom.js';

const KEYS = ['type', 'category', 'prefix', 'since', 'until'];

export function filterValues(params, withTime) {
  const out = {};
  for (const k of KEYS) {
    if (!withTime && (k === 'since' || k === 'until')) continue;
    out[k] = params.get(k) || '';
  }
  return out;
}

// The server's parameters: type repeats, one per type.
export function filterQuery(values) {
  const q = { ...values };
  q.type = (values.type || '')
    .split(',')
    .map((t) => t.trim())
    .filter(Boolean);
  return q;
}

// The form; onApply(values) when it is sent.
export function filterForm(id, values, onApply, withTime) {
  const inputs = {};
  const make = (k, label, placeholder) => {
    inputs[k] = el('input', { id: id + '-' + k, type: 'search', value: values[k] || '', placeholder, autocomplete: 'off' });
    return field(label, inputs[k]);
  };
  const form = el(
    'form.filters',
    { id, role: 'search' },
    make('type', 'Types', 'e.g. Placed, Paid'),
    make('category', 'Category', 'e.g. order'),
    make('prefix', 'Stream prefix', 'e.g. order-4'),
    withTime ? make('since', 'Since', 'e.g. 2026-12-01, -1h') : null,
    withTime ? make('until', 'Until', 'e.g. now') : null,
    el('button', { type: 'submit' }, 'Apply'),
  );
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const v = {};
    for (const [k, input] of Object.entries(inputs)) v[k] = input.value.trim();
    onApply(v);
  });
  return form;
}
