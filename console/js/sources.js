// Sources: every log source vigil tracks (GET /api/v1/sources), with its last event, its usual
// gap and its state, silent and tampered ones first. Polled while the view is open.
import { api } from './api.js';
import { h, append, clear, fmtNum, fmtTime, ago } from './dom.js';

const EVERY_MS = 5000;
const ORDER = { silent: 0, ok: 2, learning: 3 };

const seconds = (s) => s == null ? '—' : s >= 3600 ? (s / 3600).toFixed(1) + ' h' : s >= 60 ? (s / 60).toFixed(1) + ' min' : s.toFixed(1) + ' s';

export function mountSources(root) {
  let timer = null, alive = true;
  const stateSel = h('select', { 'aria-label': 'state' },
    ['', 'silent', 'tampered', 'ok', 'learning'].map((s) => h('option', { value: s }, s || 'any state')));
  const box = h('div', { id: 'sources' });
  append(root, h('form', { class: 'filters', onsubmit: (e) => { e.preventDefault(); load(); } },
    h('label', {}, 'State', stateSel), h('button', { class: 'primary', type: 'submit' }, 'Apply')),
    h('section', { class: 'panel panel-pad' }, h('h2', {}, 'Log sources'), box));

  async function load() {
    let data;
    try {
      data = await api('GET', '/sources' + (stateSel.value ? '?state=' + stateSel.value : ''));
    } catch (e) {
      if (alive && e.status !== 401) append(clear(box), h('p', { class: 'error' }, 'Sources unavailable: ' + e.message));
      return;
    }
    if (!alive) return;
    const rows = (data.sources || []).slice().sort((a, b) =>
      (a.tampered ? 1 : ORDER[a.state] ?? 4) - (b.tampered ? 1 : ORDER[b.state] ?? 4));
    append(clear(box), rows.length ? h('table', { class: 'ingest', id: 'sources-table' },
      h('thead', {}, h('tr', {}, ['State', 'Source', 'Tenant', 'Last event', 'Usual gap', 'Silent after', 'Events'].map((t) => h('th', {}, t)))),
      h('tbody', {}, rows.map((s) => h('tr', { class: 'source-' + s.state },
        h('td', { class: s.state === 'silent' || s.tampered ? 'drops' : '' },
          s.state + (s.tampered ? ' · tampered (' + s.tamper_reason + ', ' + fmtTime(s.tampered_at) + ')' : '')),
        h('td', {}, s.name), h('td', {}, s.tenant || '—'),
        h('td', { title: fmtTime(s.last_seen) }, ago(s.last_seen)),
        h('td', { class: 'num' }, seconds(s.usual_gap_s)),
        h('td', { class: 'num' }, seconds(s.threshold_s)),
        h('td', { class: 'num' }, fmtNum(s.events))))))
      : h('p', { class: 'muted' }, 'No source has sent anything yet.'),
      h('p', { class: 'updated' }, `${fmtNum(data.total)} sources · updated ` + fmtTime(new Date()).slice(11)));
  }

  async function poll() {
    if (!document.hidden) await load();
    if (alive) timer = setTimeout(poll, EVERY_MS);
  }
  poll();
  return () => { alive = false; clearTimeout(timer); };
}
