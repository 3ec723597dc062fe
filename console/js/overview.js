// Overview: alerts over time by level, counts by status, top rules and hosts (from
// /api/v1/stats) and ingest health per collector (from /api/v1/ingest, polled).
import { api } from './api.js';
import { h, append, clear, fmtNum, fmtTime, label, toast, STATUSES } from './dom.js';
import { stackedLevelBars, horizontalBars, sparkline } from './charts.js';
import { saveFilters } from './alerts.js';

const RANGES = { '1h': [3600e3, '1m'], '24h': [86400e3, '1h'], '7d': [7 * 86400e3, '1h'], '30d': [30 * 86400e3, '1d'] };
const INGEST_EVERY_MS = 3000;
const SPARK_POINTS = 40;

export function mountOverview(root, ctx) {
  let range = sessionStorage.getItem('vigil.overview.range') || '24h';
  if (!RANGES[range]) range = '24h';
  let timer = null, alive = true;
  const history = new Map();  // collector name -> recent events_per_second samples

  const rangeSel = h('select', { 'aria-label': 'overview range', value: range },
    Object.keys(RANGES).map((r) => h('option', { value: r }, 'last ' + r)));
  const tenant = h('input', { type: 'search', placeholder: 'all tenants', 'aria-label': 'tenant',
    value: ctx.user.tenant === '*' ? '' : ctx.user.tenant, disabled: ctx.user.tenant !== '*' });
  const kpis = h('div', { class: 'kpis', id: 'kpis' });
  const timeChart = h('div', { id: 'chart-levels' });
  const rulesBox = h('div', { id: 'top-rules' });
  const hostsBox = h('div', { id: 'top-hosts' });
  const tenantsBox = h('div', { id: 'by-tenant' });
  const ingestBox = h('div', { id: 'ingest' });
  append(root, 
    h('form', { class: 'filters', onsubmit: (e) => { e.preventDefault(); loadStats(); } },
      h('label', {}, 'Range', rangeSel), h('label', {}, 'Tenant', tenant), h('button', { class: 'primary', type: 'submit' }, 'Apply')),
    h('div', { class: 'grid2' },
      h('section', { class: 'wide' }, kpis),
      h('section', { class: 'panel panel-pad wide' }, h('h2', {}, 'Alerts over time by level'), timeChart),
      h('section', { class: 'panel panel-pad' }, h('h2', {}, 'Top rules'), rulesBox),
      h('section', { class: 'panel panel-pad' }, h('h2', {}, 'Top hosts'), hostsBox),
      h('section', { class: 'panel panel-pad wide' }, h('h2', {}, 'Ingest health'), ingestBox),
      h('section', { class: 'panel panel-pad' }, h('h2', {}, 'Alerts by tenant'), tenantsBox)));
  rangeSel.addEventListener('change', () => { range = rangeSel.value; sessionStorage.setItem('vigil.overview.range', range); loadStats(); });

  // Opens the queue with these filters over the overview's range.
  function drill(extra) {
    saveFilters({ range: range, tenant: tenant.disabled ? '' : tenant.value.trim(), ...extra });
    ctx.navigate('#/alerts');
  }

  async function loadStats() {
    const [ms, bucket] = RANGES[range];
    let st;
    try {
      st = await api('GET', '/stats', { query: { from: new Date(Date.now() - ms).toISOString(), bucket, tenant: tenant.disabled ? '' : tenant.value.trim() } });
    } catch (e) {
      if (e.status !== 401 && alive) toast('Statistics: ' + e.message, true);
      return;
    }
    if (!alive) return;
    const total = Object.values(st.by_level || {}).reduce((a, b) => a + b, 0);
    append(clear(kpis), kpi('alerts', total),
      STATUSES.map((s) => kpi(label(s), st.by_status?.[s] || 0)),
      kpi('high + critical', (st.by_level?.high || 0) + (st.by_level?.critical || 0)));
    append(clear(timeChart), stackedLevelBars(st.buckets || [], bucket,
      (from, to) => drill({ range: 'custom', from: from.toISOString(), to: to.toISOString() }), timeChart.clientWidth || 900));
    append(clear(rulesBox), horizontalBars((st.top_rules || []).map((r) => ({ label: r.title || r.id, title: r.id, count: r.count, id: r.id })),
      'rule', (item) => drill({ rule: item.id })));
    append(clear(hostsBox), horizontalBars((st.top_hosts || []).map((x) => ({ label: x.host || '(none)', count: x.count, host: x.host })),
      'host', (item) => drill({ host: item.host })));
    const tenants = Object.entries(st.by_tenant || {}).sort((a, b) => b[1] - a[1]).map(([t, n]) => ({ label: t || '(none)', count: n, tenant: t }));
    append(clear(tenantsBox), horizontalBars(tenants, 'host', (item) => drill({ tenant: item.tenant })));
  }

  const kpi = (l, n) => h('div', { class: 'kpi' }, h('div', { class: 'n' }, fmtNum(n)), h('div', { class: 'l' }, l));

  async function loadIngest() {
    let data;
    try {
      data = await api('GET', '/ingest');
    } catch (e) {
      if (alive && e.status !== 401) append(clear(ingestBox), h('p', { class: 'error' }, 'Ingest health unavailable: ' + e.message));
      return;
    }
    if (!alive) return;
    const rows = data.collectors || [];
    for (const c of rows) {
      const list = history.get(c.name) || [];
      list.push(Number(c.events_per_second) || 0);
      if (list.length > SPARK_POINTS) list.shift();
      history.set(c.name, list);
    }
    append(clear(ingestBox), rows.length ? h('table', { class: 'ingest', id: 'ingest-table' },
      h('thead', {}, h('tr', {}, ['Collector', 'Kind', 'Events/s', 'Trend', 'Received', 'Dropped', 'Parse errors'].map((t) => h('th', {}, t)))),
      h('tbody', {}, rows.map((c) => h('tr', {},
        h('td', {}, c.name), h('td', {}, c.kind),
        h('td', { class: 'num' }, (Number(c.events_per_second) || 0).toFixed(1)),
        h('td', {}, sparkline(history.get(c.name))),
        h('td', { class: 'num' }, fmtNum(c.received)),
        h('td', { class: 'num' + (c.dropped > 0 ? ' drops' : '') }, fmtNum(c.dropped)),
        h('td', { class: 'num' + (c.parse_errors > 0 ? ' drops' : '') }, fmtNum(c.parse_errors))))))
      : h('p', { class: 'muted' }, 'No collectors configured.'),
      h('p', { class: 'updated' }, 'updated ' + fmtTime(new Date()).slice(11) + ` · every ${INGEST_EVERY_MS / 1000} s`));
  }

  async function poll() {
    if (!document.hidden) await loadIngest();
    if (alive) timer = setTimeout(poll, INGEST_EVERY_MS);
  }

  loadStats();
  poll();
  return () => { alive = false; clearTimeout(timer); };
}
