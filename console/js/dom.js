// DOM helpers. Everything from the server (raw events above all: attacker-controlled) goes into
// the page as text nodes, never as HTML.

// h('div', {class: 'x', onclick: fn}, 'text', child, [more]) -> element.
export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  let value;
  for (const [k, v] of Object.entries(props || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k === 'value') value = v;  // after the children, so a <select> finds its option
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'checked' || k === 'disabled' || k === 'selected' || k === 'hidden') el[k] = !!v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  if (value !== undefined) el.value = value;
  return el;
}

// Appends children, arrays of them (flattened) and strings (as text); skips null and false.
export function append(el, ...children) {
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : String(c));
  }
  return el;
}

export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

// RFC 3339 with nanoseconds -> Date (Date.parse wants at most milliseconds).
export function parseTime(s) {
  if (!s) return null;
  const d = new Date(String(s).replace(/(\.\d{3})\d+/, '$1'));
  return isNaN(d) ? null : d;
}

const pad = (n, w = 2) => String(n).padStart(w, '0');

// Local time, second precision: what an analyst compares with other tools' screens.
export function fmtTime(s) {
  const d = s instanceof Date ? s : parseTime(s);
  if (!d) return s || '';
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
         `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

export function ago(s) {
  const d = s instanceof Date ? s : parseTime(s);
  if (!d) return '';
  const sec = Math.round((Date.now() - d.getTime()) / 1000);
  if (sec < 0) return 'in the future';
  if (sec < 60) return sec + 's ago';
  if (sec < 3600) return Math.floor(sec / 60) + 'm ago';
  if (sec < 86400) return Math.floor(sec / 3600) + 'h ago';
  return Math.floor(sec / 86400) + 'd ago';
}

export const fmtNum = (n) => (n === undefined || n === null ? '–' : Number(n).toLocaleString('en-US'));

export const LEVELS = ['informational', 'low', 'medium', 'high', 'critical'];
export const STATUSES = ['new', 'acknowledged', 'in_progress', 'closed'];
export const RESOLUTIONS = ['true_positive', 'false_positive', 'benign', 'duplicate'];
export const label = (s) => (s ? String(s).replace(/_/g, ' ') : '');

export const levelBadge = (level) => h('span', { class: 'badge lvl-' + level }, level === 'informational' ? 'info' : level);
export const statusBadge = (status, resolution) =>
  h('span', { class: 'status st-' + status }, label(status) + (status === 'closed' && resolution ? ': ' + label(resolution) : ''));

// `raw` with the matched values wrapped in <mark>. Spans are byte offsets into the UTF-8 form of
// raw (what the matcher saw), so slicing works on the encoded bytes, not on UTF-16 code units.
// A span outside the text is not trusted: its value is searched for instead, so a highlight is
// never put on the wrong characters.
export function highlightSpans(raw, spans) {
  raw = raw || '';
  const frag = document.createDocumentFragment();
  const bytes = new TextEncoder().encode(raw);
  const decoder = new TextDecoder();
  const ranges = [];
  for (const s of spans || []) {
    let start = Number(s.start), end = Number(s.end);
    if (!(Number.isInteger(start) && Number.isInteger(end) && start >= 0 && start < end && end <= bytes.length)) {
      const at = s.value ? raw.indexOf(s.value) : -1;
      if (at < 0) continue;
      start = new TextEncoder().encode(raw.slice(0, at)).length;
      end = start + new TextEncoder().encode(s.value).length;
    }
    ranges.push({ start, end, field: s.field, value: s.value });
  }
  ranges.sort((a, b) => a.start - b.start || b.end - a.end);
  let pos = 0;
  for (const r of ranges) {
    if (r.end <= pos) continue;  // inside a span already marked
    const start = Math.max(r.start, pos);
    if (start > pos) frag.append(decoder.decode(bytes.subarray(pos, start)));
    frag.append(h('mark', { class: 'span', title: (r.field || 'match') + ' = ' + (r.value ?? '') },
                  decoder.decode(bytes.subarray(start, r.end))));
    pos = r.end;
  }
  if (pos < bytes.length) frag.append(decoder.decode(bytes.subarray(pos)));
  return frag;
}

export function toast(message, bad = false) {
  const box = document.getElementById('toasts');
  const t = h('div', { class: 'toast' + (bad ? ' bad' : ''), role: bad ? 'alert' : 'status' }, message);
  box.append(t);
  setTimeout(() => t.remove(), bad ? 8000 : 3500);
}
