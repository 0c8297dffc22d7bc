// chart.js - a small line chart in SVG: the values of the last minutes, the oldest kept
// on the left and the newest on the right, with the latest and the highest value
// written above it.

import { el } from './dom.js';

const NS = 'http://www.w3.org/2000/svg';
const W = 320;
const H = 80;

function svg(tag, attrs) {
  const node = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  return node;
}

// points: [{t: ms, v: number}], oldest first (the caller keeps the last minutes).
export function lineChart(title, unit, points, id) {
  const now = points.length ? points[points.length - 1].t : 0;
  const spanMs = points.length > 1 ? now - points[0].t || 1 : 1;
  const max = Math.max(1e-9, ...points.map((p) => p.v));
  const root = svg('svg', { viewBox: `0 0 ${W} ${H}`, class: 'chart', role: 'img', 'aria-label': title });
  root.append(svg('rect', { x: 0, y: 0, width: W, height: H, class: 'chart-bg' }));
  for (const f of [0.25, 0.5, 0.75]) root.append(svg('line', { x1: 0, x2: W, y1: H * f, y2: H * f, class: 'chart-grid' }));
  if (points.length > 1) {
    const xy = points.map((p) => {
      const x = W - ((now - p.t) / spanMs) * W;
      const y = H - 2 - (p.v / max) * (H - 6);
      return x.toFixed(1) + ',' + y.toFixed(1);
    });
    root.append(svg('polyline', { points: xy.join(' '), class: 'chart-line' }));
  }
  const latest = points.length ? points[points.length - 1].v : null;
  const fmt = (v) => (v >= 100 ? v.toFixed(0) : v.toFixed(v >= 10 ? 1 : 2));
  return el(
    'figure.chart-box',
    { id },
    el('figcaption', {}, el('span', {}, title),
      el('span.chart-figures', {}, latest === null ? 'waiting for samples' : 'now ' + fmt(latest) + ' ' + unit + ' · max ' + fmt(max) + ' ' + unit)),
    root,
  );
}
