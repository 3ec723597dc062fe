// Small hand-written SVG charts (no library: the console works offline and loads in a blink).
import { h, fmtNum, fmtTime, parseTime, LEVELS } from './dom.js';

const SVG = 'http://www.w3.org/2000/svg';
function s(tag, attrs, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) if (v !== undefined && v !== null) el.setAttribute(k, String(v));
  for (const c of children) if (c !== undefined && c !== null) el.append(c instanceof Node ? c : String(c));
  return el;
}

const LEVEL_COLOURS = {
  informational: '#8a96a3', low: '#3b82c4', medium: '#d9a400', high: '#e8692c', critical: '#c3203a',
};

// A round step (1, 2, 5 x 10^n, at least 1) at or above `x`.
function niceStep(x) {
  if (x <= 1) return 1;
  const p = Math.pow(10, Math.floor(Math.log10(x)));
  for (const m of [1, 2, 5, 10]) if (m * p >= x) return m * p;
  return 10 * p;
}

function bucketLabel(date, bucket) {
  const pad = (n) => String(n).padStart(2, '0');
  if (bucket === '1d') return `${pad(date.getMonth() + 1)}-${pad(date.getDate())}`;
  return `${pad(date.getHours())}:${pad(date.getMinutes())}`;
}

// Alerts over time, stacked by level (informational at the bottom, critical on top).
// buckets: [{start, by_level: {high: N, ...}}]. onPick(start Date, end Date) on a bar click.
// `width`: the container's width in pixels, so labels keep their size (no scaling).
export function stackedLevelBars(buckets, bucket, onPick, width = 900) {
  const W = Math.max(320, Math.round(width)), H = 200, left = 40, right = 8, top = 8, bottom = 22;
  const plotW = W - left - right, plotH = H - top - bottom;
  const totals = buckets.map((b) => LEVELS.reduce((n, l) => n + (b.by_level?.[l] || 0), 0));
  const step = niceStep(Math.max(1, ...totals) / 4);
  const ticks = Math.max(1, Math.ceil(Math.max(1, ...totals) / step));
  const max = step * ticks;
  const svg = s('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': 'Alerts over time by level', class: 'levels-chart' });
  for (let i = 0; i <= ticks; i++) {
    const y = top + plotH - (plotH * i) / ticks;
    svg.append(s('line', { x1: left, x2: W - right, y1: y, y2: y, class: 'gridline' }));
    svg.append(s('text', { x: left - 4, y: y + 3, 'text-anchor': 'end', class: 'axis' }, fmtNum(step * i)));
  }
  const n = Math.max(1, buckets.length);
  const slot = plotW / n, barW = Math.max(1, slot * 0.8);
  const labelEvery = Math.ceil(n / Math.floor(plotW / 52));
  const span = bucket === '1d' ? 86400e3 : bucket === '1m' ? 60e3 : 3600e3;
  buckets.forEach((b, i) => {
    const x = left + i * slot + (slot - barW) / 2;
    const start = parseTime(b.start);
    let y = top + plotH;
    const g = s('g', { class: 'bar' + (totals[i] ? ' has' : ''), 'data-total': totals[i] });
    for (const level of LEVELS) {
      const count = b.by_level?.[level] || 0;
      if (!count) continue;
      const hgt = (plotH * count) / max;
      y -= hgt;
      g.append(s('rect', { x, y, width: barW, height: Math.max(hgt, 0.5), fill: LEVEL_COLOURS[level] },
                 s('title', {}, `${start ? fmtTime(start) : b.start} · ${level}: ${fmtNum(count)}`)));
    }
    if (totals[i] && onPick && start) {
      g.style.cursor = 'pointer';
      g.addEventListener('click', () => onPick(start, new Date(start.getTime() + span)));
    }
    svg.append(g);
    if (start && i % labelEvery === 0) {
      svg.append(s('text', { x: x + barW / 2, y: H - 6, 'text-anchor': 'middle', class: 'axis' }, bucketLabel(start, bucket)));
    }
  });
  const legend = h('div', { class: 'legend' },
    LEVELS.map((l) => { const i = h('i'); i.style.background = LEVEL_COLOURS[l]; return h('span', {}, i, l); }));
  return h('div', { class: 'chart' }, svg, legend);
}

// Horizontal bars: items [{label, count, title?}], onPick(item) on a click.
export function horizontalBars(items, kind, onPick) {
  if (!items.length) return h('p', { class: 'muted' }, 'No alerts in this range.');
  const max = Math.max(1, ...items.map((i) => i.count));
  const grid = h('div', { class: 'hbars ' + kind });
  for (const item of items) {
    const bar = h('div', { class: 'bar ' + kind });
    bar.style.width = ((100 * item.count) / max).toFixed(1) + '%';
    const labelEl = h('a', { class: 'label', href: '#', title: item.title || item.label }, item.label);
    labelEl.addEventListener('click', (e) => { e.preventDefault(); onPick?.(item); });
    grid.append(labelEl, h('div', {}, bar), h('span', { class: 'n' }, fmtNum(item.count)));
  }
  return grid;
}

// A sparkline of recent values (events per second of a collector).
export function sparkline(values) {
  const W = 120, H = 22;
  const max = Math.max(1e-9, ...values);
  const pts = values.map((v, i) => `${(values.length < 2 ? W : (W * i) / (values.length - 1)).toFixed(1)},${(H - 2 - ((H - 4) * v) / max).toFixed(1)}`);
  return s('svg', { viewBox: `0 0 ${W} ${H}`, class: 'spark', preserveAspectRatio: 'none' }, s('polyline', { points: pts.join(' ') }));
}
