// view_append.js - Append: one event (stream, type, JSON data, optional metadata and
// expected version) through POST /v1/t/{tenant}/streams/{stream}. The data is sent as
// typed, byte for byte; the server checks it, and its answer, success or error, is
// shown as it came (a conflict names the expected and the actual version). Tokens
// without the append scope get no form.

import { postJson, streamPath } from './api.js';
import { el, errorBox, field } from './dom.js';
import { parseRaw } from './json_view.js';

export async function render(main, ctx) {
  main.append(el('h1', {}, 'Append'));
  if (!ctx.can('append')) {
    main.append(
      errorBox({
        status: 403,
        code: 'forbidden',
        message: 'this token cannot append: its scopes are ' + ctx.who.scopes + ' (append needs the append scope)',
      }),
    );
    return;
  }
  const streamIn = el('input', { id: 'append-stream', required: true, autocomplete: 'off', value: ctx.params.get('stream') || '' });
  const typeIn = el('input', { id: 'append-type', required: true, autocomplete: 'off' });
  const dataIn = el('textarea', { id: 'append-data', rows: 6, required: true, spellcheck: 'false' });
  dataIn.value = '{}';
  const metaIn = el('textarea', { id: 'append-metadata', rows: 3, spellcheck: 'false', placeholder: 'optional JSON object' });
  const expectIn = el('input', { id: 'append-expected', autocomplete: 'off', placeholder: 'any, no_stream, exists or a version' });
  const result = el('div', { id: 'append-result', 'aria-live': 'polite' });
  const form = el(
    'form.append',
    { id: 'append-form' },
    field('Stream', streamIn),
    field('Type', typeIn),
    field('Data (JSON)', dataIn),
    field('Metadata (JSON)', metaIn),
    field('Expected version', expectIn),
    el('button', { type: 'submit' }, 'Append'),
  );
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    result.replaceChildren();
    // One JSON value each, so that the text cannot close the event and start another.
    for (const [what, input] of [['data', dataIn], ['metadata', metaIn]]) {
      if (what === 'metadata' && !input.value.trim()) continue;
      try {
        parseRaw(input.value.trim());
      } catch (e) {
        result.append(errorBox({ message: what + ' is not one JSON value: ' + e.message }));
        input.focus();
        return;
      }
    }
    // The body is built around the typed text, so the data is stored as typed.
    let body = '[{"type":' + JSON.stringify(typeIn.value) + ',"data":' + dataIn.value;
    if (metaIn.value.trim()) body += ',"metadata":' + metaIn.value;
    body += '}]';
    try {
      const r = await postJson(streamPath(streamIn.value), { expected_version: expectIn.value.trim() }, body);
      result.append(
        el('div.ok', { role: 'status' }, el('strong', {}, 'HTTP ' + r.status + ': '),
          r.status === 200 ? 'already stored (a retry)' : 'appended', el('pre.raw', {}, r.text.trim())),
      );
    } catch (e) {
      result.append(errorBox(e));
    }
  });
  main.append(form, result);
}
