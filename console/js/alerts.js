// The alert queue (filters, live refresh, cursor paging, bulk actions) and the alert detail
// (evidence with the matched spans highlighted, parsed fields, rule source, history, actions).
import { api, alertPath, ApiError } from './api.js';
import { h, append, clear, fmtTime, ago, fmtNum, label, levelBadge, statusBadge, highlightSpans, toast,
         LEVELS, STATUSES, RESOLUTIONS } from './dom.js';

const PAGE_SIZES = [10, 25, 50, 100, 200];
const HISTORY_ACTIONS = { status: 'Status', assign: 'Assigned', note: 'Note' };
const LIVE_EVERY_MS = 5000;
const FILTERS_KEY = 'vigil.filters';
const RANGES = [['15m', 15 * 60e3], ['1h', 3600e3], ['24h', 86400e3], ['7d', 7 * 86400e3], ['30d', 30 * 86400e3], ['all', 0]];
const DEFAULT_FILTERS = { range: '24h', from: '', to: '', min_level: '', status: '', tenant: '', rule: '', host: '', technique: '', q: '' };
// An alert's ATT&CK techniques (both revisions of a renumbered one: "T1562.002 T1685.001").
const techniquesOf = (a) => (a.attack?.techniques || []).join(' ');

export function loadFilters() {
  try { return { ...DEFAULT_FILTERS, ...JSON.parse(sessionStorage.getItem(FILTERS_KEY) || '{}') }; } catch { return { ...DEFAULT_FILTERS }; }
}
// Used by the overview's charts: a click on a bar, a rule or a host opens the queue filtered so.
export function saveFilters(filters) { sessionStorage.setItem(FILTERS_KEY, JSON.stringify({ ...DEFAULT_FILTERS, ...filters })); }

function toQuery(f) {
  const q = { min_level: f.min_level, status: f.status, tenant: f.tenant, rule: f.rule, host: f.host,
    technique: f.technique, q: f.q };
  if (f.range === 'custom') { q.from = f.from; q.to = f.to; }
  else {
    const ms = (RANGES.find((r) => r[0] === f.range) || [])[1];
    if (ms) q.from = new Date(Date.now() - ms).toISOString();
  }
  return q;
}

export function mountAlerts(root, ctx, initialId) {
  let filters = loadFilters();
  let cursors = [''];          // cursors[i] = cursor of page i (page 0 = newest)
  let nextCursor = '';
  let alerts = [];
  let selectedId = initialId || '';
  const checked = new Set();
  let knownIds = null;          // ids of the last load, to flash what live refresh brings in
  let listSeq = 0, detailSeq = 0;
  let live = sessionStorage.getItem('vigil.live') !== 'off';
  let pageSize = Number(sessionStorage.getItem('vigil.page_size')) || 50;
  let timer = null;
  let busy = false;             // an action is in flight: live refresh waits

  // ---- filter bar ----
  const field = (name, placeholder, cls) =>
    h('input', { name, placeholder, value: filters[name], class: cls, type: 'search', 'aria-label': name });
  const rangeSel = h('select', { name: 'range', 'aria-label': 'time range', value: filters.range },
    RANGES.map(([r]) => h('option', { value: r }, r === 'all' ? 'all time' : 'last ' + r)),
    filters.range === 'custom' ? h('option', { value: 'custom' }, `${fmtTime(filters.from)} – ${fmtTime(filters.to)}`) : null);
  const levelSel = h('select', { name: 'min_level', 'aria-label': 'minimum level', value: filters.min_level },
    h('option', { value: '' }, 'any level'), LEVELS.slice(1).map((l) => h('option', { value: l }, l + ' +')));
  const statusSel = h('select', { name: 'status', 'aria-label': 'status', value: filters.status },
    h('option', { value: '' }, 'any status'), STATUSES.map((s) => h('option', { value: s }, label(s))));
  const inputs = {
    tenant: field('tenant', 'tenant'), rule: field('rule', 'rule id'), host: field('host', 'host'),
    technique: field('technique', 'T1003 or T1562.002'), q: field('q', 'text in raw event', 'wide'),
  };
  if (ctx.user.tenant !== '*') { inputs.tenant.value = ctx.user.tenant; inputs.tenant.disabled = true; }
  const liveBox = h('input', { type: 'checkbox', checked: live, name: 'live' });
  const updated = h('span', { class: 'updated' });
  const bar = h('form', { class: 'filters', id: 'filters' },
    h('label', {}, 'Time', rangeSel), h('label', {}, 'Min level', levelSel), h('label', {}, 'Status', statusSel),
    h('label', {}, 'Tenant', inputs.tenant), h('label', {}, 'Rule', inputs.rule), h('label', {}, 'Host', inputs.host),
    h('label', {}, 'ATT&CK', inputs.technique), h('label', {}, 'Search', inputs.q),
    h('button', { type: 'submit', class: 'primary' }, 'Apply'),
    h('button', { type: 'button', onclick: resetFilters }, 'Reset'),
    h('span', { class: 'spacer' }),
    h('label', { class: 'live' }, liveBox, 'Live'), updated);

  function readFilters() {
    filters = {
      ...filters, range: rangeSel.value, min_level: levelSel.value, status: statusSel.value,
      tenant: inputs.tenant.disabled ? '' : inputs.tenant.value.trim(), rule: inputs.rule.value.trim(),
      host: inputs.host.value.trim(), technique: inputs.technique.value.trim(), q: inputs.q.value,
    };
    saveFilters(filters);
  }
  function applyFilters() { readFilters(); cursors = ['']; knownIds = null; checked.clear(); loadList(); }
  function resetFilters() { saveFilters({}); filters = loadFilters(); rangeSel.value = filters.range; levelSel.value = '';
    statusSel.value = ''; for (const [k, i] of Object.entries(inputs)) if (!i.disabled) i.value = filters[k]; applyFilters(); }
  bar.addEventListener('submit', (e) => { e.preventDefault(); applyFilters(); });
  for (const sel of [rangeSel, levelSel, statusSel]) sel.addEventListener('change', applyFilters);
  liveBox.addEventListener('change', () => { live = liveBox.checked; sessionStorage.setItem('vigil.live', live ? 'on' : 'off'); schedule(); });

  // ---- queue ----
  const bulk = h('div', { class: 'bulkbar', hidden: true });
  const tbody = h('tbody');
  const allBox = h('input', { type: 'checkbox', 'aria-label': 'select all on this page' });
  allBox.addEventListener('change', () => {
    for (const a of alerts) allBox.checked ? checked.add(a.id) : checked.delete(a.id);
    renderRows(); renderBulk();
  });
  const table = h('table', { class: 'queue', id: 'queue' },
    h('thead', {}, h('tr', {}, h('th', {}, allBox), h('th', {}, 'Time'), h('th', {}, 'Level'), h('th', {}, 'Rule'),
      h('th', {}, 'Host'), h('th', { class: 'c-wide' }, 'Tenant'), h('th', {}, 'Status'), h('th', { class: 'c-wide' }, 'Assignee'), h('th', {}, '#'))),
    tbody);
  const pageInfo = h('span');
  const sizeSel = h('select', { 'aria-label': 'alerts per page', name: 'page_size', value: String(pageSize) },
    PAGE_SIZES.map((n) => h('option', { value: String(n) }, n + ' per page')));
  sizeSel.addEventListener('change', () => {
    pageSize = Number(sizeSel.value);
    sessionStorage.setItem('vigil.page_size', String(pageSize));
    cursors = [''];
    loadList();
  });
  const newerBtn = h('button', { type: 'button', onclick: () => { cursors.pop(); loadList(); } }, '← Newer');
  const olderBtn = h('button', { type: 'button', onclick: () => { cursors.push(nextCursor); loadList(); } }, 'Older →');
  const queuePanel = h('section', { class: 'panel queue-panel' }, bulk, table, h('div', { class: 'pager' }, newerBtn, h('span', {}, pageInfo, ' ', sizeSel), olderBtn));
  const detail = h('section', { class: 'panel panel-pad detail', id: 'detail', hidden: !selectedId });
  const layout = h('div', { class: 'alerts-layout' + (selectedId ? '' : ' no-detail') }, queuePanel, detail);
  append(root, bar, layout);

  async function loadList({ silent = false } = {}) {
    const seq = ++listSeq;
    const page = cursors.length - 1;
    let data;
    try {
      data = await api('GET', '/alerts', { query: { ...toQuery(filters), limit: pageSize, cursor: cursors[page] } });
    } catch (e) {
      if (seq !== listSeq || e.status === 401) return;
      if (!silent || !(e instanceof ApiError) || e.status !== 0) toast('Alerts: ' + e.message, true);
      append(clear(tbody), h('tr', {}, h('td', { colspan: 9, class: 'empty' }, 'Could not load alerts: ' + e.message)));
      return;
    }
    if (seq !== listSeq) return;  // a newer load (filter change) superseded this one
    const fresh = new Set();
    if (silent && knownIds) for (const a of data.alerts) if (!knownIds.has(a.id)) fresh.add(a.id);
    alerts = data.alerts || [];
    knownIds = new Set(alerts.map((a) => a.id));
    nextCursor = data.next_cursor || '';
    renderRows(fresh);
    renderBulk();
    newerBtn.disabled = page === 0;
    olderBtn.disabled = !nextCursor;
    pageInfo.textContent = alerts.length
      ? `page ${page + 1} · ${page * pageSize + 1}–${page * pageSize + alerts.length}${nextCursor ? '' : ' (end)'}`
      : '';
    updated.textContent = 'updated ' + fmtTime(new Date()).slice(11);
  }

  function renderRows(fresh = new Set()) {
    clear(tbody);
    if (!alerts.length) {
      tbody.append(h('tr', {}, h('td', { colspan: 9, class: 'empty' }, 'No alerts match these filters.')));
      allBox.checked = false;
      return;
    }
    for (const a of alerts) {
      const box = h('input', { type: 'checkbox', checked: checked.has(a.id), 'aria-label': 'select alert' });
      box.addEventListener('click', (e) => e.stopPropagation());
      box.addEventListener('change', () => { box.checked ? checked.add(a.id) : checked.delete(a.id); renderBulk(); });
      const tr = h('tr', { class: [a.id === selectedId ? 'selected' : '', fresh.has(a.id) ? 'fresh' : ''].join(' ').trim(), dataset: { id: a.id } },
        h('td', {}, box),
        h('td', { class: 'time', title: `received ${fmtTime(a.created)} (${ago(a.created)})` }, fmtTime(a.created).slice(5)),
        h('td', {}, levelBadge(a.rule?.level)),
        h('td', { class: 'rule', title: [a.rule?.title, techniquesOf(a)].filter(Boolean).join(' · ') }, a.rule?.title || a.rule?.id,
          techniquesOf(a) ? h('span', { class: 'techniques' }, techniquesOf(a)) : null),
        h('td', { class: 'host' }, a.host), h('td', { class: 'c-wide' }, a.tenant),
        h('td', {}, statusBadge(a.status, a.resolution)),
        h('td', { class: 'c-wide' }, a.assignee || ''),
        h('td', { class: 'num' }, a.count > 1 ? '×' + fmtNum(a.count) : ''));
      tr.addEventListener('click', () => ctx.navigate('#/alerts/' + encodeURIComponent(a.id)));
      tbody.append(tr);
    }
    allBox.checked = alerts.every((a) => checked.has(a.id));
  }

  // ---- bulk actions ----
  function renderBulk() {
    clear(bulk);
    bulk.hidden = checked.size === 0;
    if (!checked.size) return;
    const can = ctx.canChange();
    const assignee = h('input', { placeholder: 'assignee', 'aria-label': 'bulk assignee', size: 12 });
    const resolution = h('select', { 'aria-label': 'bulk resolution' }, h('option', { value: '' }, 'close as…'),
      RESOLUTIONS.map((r) => h('option', { value: r }, label(r))));
    const note = h('input', { placeholder: 'note (optional)', 'aria-label': 'bulk note', size: 18 });
    const run = (body, what) => bulkChange({ ...body, note: note.value.trim() || undefined }, what);
    append(bulk, h('span', { class: 'count' }, `${checked.size} selected`),
      h('button', { disabled: !can, onclick: () => run({ status: 'acknowledged' }, 'acknowledged') }, 'Acknowledge'),
      h('button', { disabled: !can, onclick: () => run({ status: 'in_progress' }, 'in progress') }, 'In progress'),
      assignee, h('button', { disabled: !can, onclick: () => assignee.value.trim() && run({ assignee: assignee.value.trim() }, 'assigned') }, 'Assign'),
      resolution, h('button', { disabled: !can, onclick: () => resolution.value && run({ status: 'closed', resolution: resolution.value }, 'closed') }, 'Close'),
      note, h('span', { class: 'spacer' }),
      h('button', { onclick: () => { checked.clear(); renderRows(); renderBulk(); } }, 'Clear'));
  }
  async function bulkChange(body, what) {
    busy = true;
    try {
      const r = await api('POST', '/alerts/bulk', { body: { ids: [...checked], ...body } });
      const errs = r.errors || [];
      toast(`${fmtNum(r.updated)} alert${r.updated === 1 ? '' : 's'} ${what}` + (errs.length ? `, ${errs.length} failed: ${errs[0].error}` : ''), errs.length > 0);
      checked.clear();
    } catch (e) {
      if (e.status !== 401) toast('Bulk change failed: ' + e.message, true);
    } finally { busy = false; }
    await loadList();
    if (selectedId) loadDetail(selectedId);
  }

  // ---- detail ----
  async function loadDetail(id) {
    const seq = ++detailSeq;
    let d;
    try {
      d = await api('GET', alertPath(id));
    } catch (e) {
      if (seq !== detailSeq || e.status === 401) return;
      append(clear(detail), h('p', { class: 'error' }, e.status === 404 ? 'No such alert (or not in your tenant).' : e.message));
      return;
    }
    if (seq !== detailSeq) return;
    renderDetail(d);
  }

  function renderDetail(d) {
    const a = d.alert, ev = d.evidence || {};
    const matchedFields = new Set((a.matched || []).map((m) => m.field));
    clear(detail);
    append(detail, 
      h('div', { class: 'detail-head' }, levelBadge(a.rule?.level), h('h2', {}, a.rule?.title || a.rule?.id),
        statusBadge(a.status, a.resolution),
        h('button', { type: 'button', title: 'close the detail (Esc)', onclick: () => ctx.navigate('#/alerts') }, '✕')),
      h('dl', { class: 'meta' },
        meta('Event time', a.event_time || ''), meta('Received', fmtTime(a.received)),
        meta('Host', a.host), meta('Tenant', a.tenant), meta('System', a.system), meta('Collector', a.collector),
        meta('Peer', a.peer), meta('Format', a.format), meta('Assignee', a.assignee || '—'), meta('Count', fmtNum(a.count)),
        meta('ATT&CK techniques', techniquesOf(a)), meta('ATT&CK tactics', (a.attack?.tactics || []).join(', ')),
        meta('Rule id', a.rule?.id), meta('Alert id', a.id)),
      actions(a),
      h('h3', {}, 'Evidence'),
      h('pre', { class: 'raw', id: 'evidence' }, highlightSpans(ev.raw ?? a.raw, ev.spans)),
      (a.matched || []).length ? h('p', { class: 'muted' }, 'Matched: ',
        a.matched.map((m, i) => [i ? ', ' : '', h('code', {}, m.field), ' = ', h('mark', { class: 'span' }, m.value)])) : null,
      h('h3', {}, 'Parsed fields'),
      fieldsTable(a.fields || {}, matchedFields),
      h('h3', {}, 'History'),
      historyList(d.history || []),
      (d.delivery || []).length ? [h('h3', {}, 'Delivery'), deliveryTable(d.delivery)] : null,
      h('h3', {}, 'Rule source', a.rule?.path ? h('span', { class: 'path' }, ' · ' + a.rule.path) : null),
      d.rule_source ? h('pre', { class: 'source' }, d.rule_source) : h('p', { class: 'muted' }, 'Rule source not available.'));
  }

  const meta = (k, v) => [h('dt', {}, k), h('dd', {}, v || '—')];

  function fieldsTable(fields, matched) {
    const keys = Object.keys(fields).sort();
    if (!keys.length) return h('p', { class: 'muted' }, 'No parsed fields.');
    return h('table', { class: 'fields' }, h('tbody', {}, keys.map((k) => {
      const v = fields[k];
      return h('tr', { class: matched.has(k) ? 'matched' : '' }, h('td', {}, k), h('td', {}, typeof v === 'string' ? v : JSON.stringify(v)));
    })));
  }

  function historyList(history) {
    if (!history.length) return h('p', { class: 'muted' }, 'No changes yet.');
    return h('ul', { class: 'history', id: 'history' }, history.map((e) =>
      h('li', {}, h('div', { class: 'when' }, fmtTime(e.time), ' · ', e.actor), h('div', {}, h('span', { class: 'what' }, HISTORY_ACTIONS[e.action] || label(e.action)),
        e.detail ? ' — ' + e.detail : ''))));
  }

  function deliveryTable(rows) {
    return h('table', {}, h('thead', {}, h('tr', {}, ['Destination', 'State', 'Attempts', 'Last error'].map((t) => h('th', {}, t)))),
      h('tbody', {}, rows.map((r) => h('tr', {}, h('td', {}, r.destination), h('td', {}, r.state), h('td', {}, fmtNum(r.attempts)), h('td', {}, r.last_error || '')))));
  }

  function actions(a) {
    if (!ctx.canChange()) return h('p', { class: 'muted' }, `Your role (${ctx.user.role}) can read alerts but not change them.`);
    const note = h('textarea', { id: 'note', placeholder: 'Note (kept in the history; sent with Close)', 'aria-label': 'note' });
    const assignee = h('input', { id: 'assignee', value: a.assignee || '', placeholder: 'assignee', 'aria-label': 'assignee', size: 14 });
    const resolution = h('select', { id: 'resolution', 'aria-label': 'resolution' }, h('option', { value: '' }, 'resolution…'),
      RESOLUTIONS.map((r) => h('option', { value: r }, label(r))));
    const closeBtn = h('button', { class: 'primary', id: 'close-alert', disabled: true }, 'Close alert');
    resolution.addEventListener('change', () => { closeBtn.disabled = !resolution.value; });
    const statusBtn = (status, text) => h('button', { disabled: a.status === status, onclick: () => change('/status', { status }, text) }, text);
    closeBtn.addEventListener('click', () => change('/status', { status: 'closed', resolution: resolution.value, note: note.value.trim() || undefined },
      'closed as ' + label(resolution.value)));
    return h('div', { class: 'actions' },
      h('div', { class: 'row' },
        statusBtn('acknowledged', 'Acknowledge'), statusBtn('in_progress', 'In progress'),
        a.status !== 'new' ? statusBtn('new', 'Reopen') : null,
        h('span', { class: 'spacer' }),
        assignee,
        h('button', { onclick: () => assignee.value.trim() && change('/assign', { assignee: assignee.value.trim() }, 'assigned to ' + assignee.value.trim()) }, 'Assign'),
        h('button', { title: 'assign to ' + ctx.user.name, onclick: () => change('/assign', { assignee: ctx.user.name }, 'assigned to you') }, 'Take')),
      note,
      h('div', { class: 'row' }, resolution, closeBtn, h('span', { class: 'spacer' }),
        h('button', { id: 'add-note', onclick: () => note.value.trim() && change('/notes', { note: note.value.trim() }, 'note added') }, 'Add note')));

    async function change(suffix, body, done) {
      busy = true;
      try {
        await api('POST', alertPath(a.id) + suffix, { body });
        toast('Alert ' + done);
      } catch (e) {
        if (e.status !== 401) toast(e.status === 403 ? 'Not allowed: ' + e.message : 'Change failed: ' + e.message, true);
        busy = false;
        return;
      }
      busy = false;
      await Promise.all([loadDetail(a.id), loadList({ silent: true })]);
    }
  }

  function select(id) {
    selectedId = id || '';
    layout.classList.toggle('no-detail', !selectedId);
    detail.hidden = !selectedId;
    for (const tr of tbody.querySelectorAll('tr[data-id]')) tr.classList.toggle('selected', tr.dataset.id === selectedId);
    if (selectedId) { append(clear(detail), h('p', { class: 'muted' }, 'Loading…')); loadDetail(selectedId); }
  }

  // ---- keyboard: j/k move through the queue, x ticks, Esc closes the detail ----
  function onKey(e) {
    if (e.target.closest('input, textarea, select') || e.ctrlKey || e.metaKey || e.altKey) return;
    const i = alerts.findIndex((a) => a.id === selectedId);
    if (e.key === 'j' || e.key === 'k') {
      const next = alerts[Math.min(alerts.length - 1, Math.max(0, i + (e.key === 'j' ? 1 : -1)))];
      if (next) ctx.navigate('#/alerts/' + encodeURIComponent(next.id));
    } else if (e.key === 'x' && i >= 0) {
      checked.has(selectedId) ? checked.delete(selectedId) : checked.add(selectedId);
      renderRows(); renderBulk();
    } else if (e.key === 'Escape' && selectedId) ctx.navigate('#/alerts');
  }
  document.addEventListener('keydown', onKey);

  // ---- live refresh: only the first page (later pages would shift under the reader) ----
  function schedule() {
    clearTimeout(timer);
    if (!live) return;
    timer = setTimeout(async () => {
      if (!busy && !document.hidden && cursors.length === 1) await loadList({ silent: true });
      schedule();
    }, LIVE_EVERY_MS);
  }

  loadList();
  if (selectedId) loadDetail(selectedId);
  schedule();

  const unmount = () => { clearTimeout(timer); live = false; listSeq++; detailSeq++; document.removeEventListener('keydown', onKey); };
  unmount.select = select;
  return unmount;
}
