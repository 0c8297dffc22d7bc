// ui_contrast.js - run in the page by test_server_ui.py: the visible text whose contrast
// with its background (the nearest ancestor with a colour) is the lowest against what
// WCAG AA asks of it (4.5:1; 3:1 for large text). Returns {ratio, need, what}.
const lum = (c) => {
  const [r, g, b] = c.map((v) => {
    v /= 255;
    return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4);
  });
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
};
const rgba = (s) => (s.match(/[\d.]+/g) || []).map(Number);
const background = (el) => {
  for (let e = el; e; e = e.parentElement) {
    const c = rgba(getComputedStyle(e).backgroundColor);
    if (c.length >= 3 && (c.length < 4 || c[3] > 0)) return c.slice(0, 3);
  }
  return [255, 255, 255];
};
let worst = { ratio: 99, what: '' };
const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
for (let n = walker.nextNode(); n; n = walker.nextNode()) {
  const el = n.parentElement;
  if (!n.textContent.trim() || !el || !el.getClientRects().length) continue;
  const st = getComputedStyle(el);
  if (st.visibility === 'hidden' || st.display === 'none') continue;
  const fg = rgba(st.color).slice(0, 3);
  const l1 = lum(fg), l2 = lum(background(el));
  const ratio = (Math.max(l1, l2) + 0.05) / (Math.min(l1, l2) + 0.05);
  const large = parseFloat(st.fontSize) >= 24 || (parseFloat(st.fontSize) >= 18.66 && Number(st.fontWeight) >= 700);
  const need = large ? 3 : 4.5;
  if (ratio / need < worst.ratio / (worst.need || 1)) worst = { ratio, need, what: el.tagName + '.' + el.className + ': ' + n.textContent.trim().slice(0, 40) };
}
return worst;
