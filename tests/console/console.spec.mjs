// The analyst workflow in headless chromium against a running daemon (started by
// browser_test.cpp, which passes VIGIL_URL, VIGIL_TOKEN, VIGIL_CHROMIUM, SCREENSHOT_DIR).
// Every expectation about data is checked against the API itself, so the page must show what
// the daemon holds. Any request to another origin fails the run: the console must work offline.
// Run by hand: VIGIL_URL=http://127.0.0.1:8080 VIGIL_TOKEN=vgl_... node console.spec.mjs
import { chromium } from 'playwright-core';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';

const BASE = process.env.VIGIL_URL;
const TOKEN = process.env.VIGIL_TOKEN;
const SHOTS = process.env.SCREENSHOT_DIR || 'console-screenshots';
if (!BASE || !TOKEN) {
  console.error('set VIGIL_URL and VIGIL_TOKEN');
  process.exit(2);
}
fs.mkdirSync(SHOTS, { recursive: true });

async function apiGet(p) {
  const r = await fetch(BASE + '/api/v1' + p, { headers: { Authorization: 'Bearer ' + TOKEN } });
  assert.equal(r.status, 200, `GET ${p}: ${r.status} ${await r.clone().text()}`);
  return r.json();
}
const allAlerts = async (query = '') => (await apiGet('/alerts?limit=1000' + query)).alerts;
const started = Date.now();
const step = (name) => console.log(`[${((Date.now() - started) / 1000).toFixed(1)}s] ${name}`);

const browser = await chromium.launch({
  executablePath: process.env.VIGIL_CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
});
const problems = [];
try {
  const context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
  const page = await context.newPage();
  page.setDefaultTimeout(10000);
  const origin = new URL(BASE).origin;
  await context.route('**/*', (route) => {
    const url = route.request().url();
    if (url.startsWith(origin + '/') || url.startsWith('data:')) return route.continue();
    problems.push('request outside the daemon: ' + url);
    return route.abort();
  });
  page.on('pageerror', (e) => problems.push('page error: ' + e.message));
  page.on('console', (m) => { if (m.type() === 'error' && !/status of 401/.test(m.text())) problems.push('console error: ' + m.text()); });
  const shot = (name) => page.screenshot({ path: path.join(SHOTS, name + '.png'), fullPage: false });

  // ---- login: a wrong token is refused, the right one signs in ----
  step('login');
  await page.goto(BASE + '/');
  await page.locator('#login-form').waitFor();
  await shot('01-login');
  await page.fill('#login-token', 'vgl_not_a_token');
  await page.click('#login-form button[type=submit]');
  await page.locator('#login-error', { hasText: 'not valid' }).waitFor();
  await page.fill('#login-token', TOKEN);
  await page.click('#login-form button[type=submit]');
  await page.locator('#whoami', { hasText: 'admin' }).waitFor();
  assert.equal(await page.evaluate(() => sessionStorage.getItem('vigil.token')), TOKEN);

  // ---- the queue shows the newest alerts (what the API lists for the last 24 hours) ----
  step('queue');
  const everything = await allAlerts();
  assert.ok(everything.length >= 5, `the sample should raise alerts, got ${everything.length}`);
  const rowIds = () => page.$$eval('#queue tbody tr[data-id]', (trs) => trs.map((t) => t.dataset.id));
  const waitRows = async (expected, what) => {
    const want = JSON.stringify(expected);
    await page.waitForFunction((w) => JSON.stringify([...document.querySelectorAll('#queue tbody tr[data-id]')].map((t) => t.dataset.id)) === w,
      want, { timeout: 10000 }).catch(async () => {
      throw new Error(`${what}: rows ${JSON.stringify(await rowIds())}, expected ${want}`);
    });
  };
  await waitRows(everything.slice(0, 50).map((a) => a.id), 'unfiltered queue');
  await shot('02-queue');

  // ---- cursor paging: 10 per page, older and back, page by page as the API pages ----
  step('paging');
  const page1 = await apiGet('/alerts?limit=10');
  const page2 = await apiGet('/alerts?limit=10&cursor=' + encodeURIComponent(page1.next_cursor));
  assert.ok(page1.next_cursor && page2.alerts.length > 0, 'the sample should fill more than one page of 10');
  await page.selectOption('select[name=page_size]', '10');
  await waitRows(page1.alerts.map((a) => a.id), 'page 1');
  await page.click('.pager button:has-text("Older")');
  await waitRows(page2.alerts.map((a) => a.id), 'page 2');
  await page.locator('.pager', { hasText: 'page 2 · 11–' }).waitFor();
  await page.click('.pager button:has-text("Newer")');
  await waitRows(page1.alerts.map((a) => a.id), 'back to page 1');
  await page.selectOption('select[name=page_size]', '50');
  await waitRows(everything.slice(0, 50).map((a) => a.id), 'page size 50');

  // ---- filters: minimum level, then host, then tenant + text; each as the API answers ----
  step('filters');
  await page.selectOption('select[name=min_level]', 'medium');
  const medium = await allAlerts('&min_level=medium');
  assert.ok(medium.length > 0 && medium.length < everything.length, 'the sample should have alerts below and above medium');
  await waitRows(medium.map((a) => a.id), 'min level medium');
  const levels = await page.$$eval('#queue tbody .badge', (b) => b.map((x) => x.textContent));
  assert.ok(levels.every((l) => ['medium', 'high', 'critical'].includes(l)), 'levels shown: ' + levels);

  const byHost = new Map();
  for (const a of medium) byHost.set(a.host, (byHost.get(a.host) || 0) + 1);
  const host = [...byHost.keys()].find((h) => h && byHost.get(h) < medium.length) || medium[0].host;
  await page.fill('input[name=host]', host);
  await page.press('input[name=host]', 'Enter');
  await waitRows((await allAlerts('&min_level=medium&host=' + encodeURIComponent(host))).map((a) => a.id), 'host ' + host);
  await shot('03-filtered');

  await page.selectOption('select[name=min_level]', '');
  await page.fill('input[name=host]', '');
  await page.fill('input[name=tenant]', 'beta');
  await page.fill('input[name=q]', 'sshd');
  await page.press('input[name=q]', 'Enter');
  await waitRows((await allAlerts('&tenant=beta&q=sshd')).map((a) => a.id), 'tenant beta + text sshd');
  // ATT&CK technique (the API's technique= filter: a parent finds its sub-techniques).
  const tagged = everything.find((a) => (a.attack?.techniques || []).length);
  assert.ok(tagged, 'the sample should raise alerts with ATT&CK techniques');
  const technique = tagged.attack.techniques[0].split('.')[0];
  await page.fill('input[name=q]', '');
  await page.fill('input[name=tenant]', '');
  await page.fill('input[name=technique]', technique);
  await page.press('input[name=technique]', 'Enter');
  const byTechnique = await allAlerts('&technique=' + technique);
  assert.ok(byTechnique.length > 0 && byTechnique.every((a) => a.attack.techniques.some((t) => t.split('.')[0] === technique)),
    'every alert listed for ' + technique + ' carries it');
  await waitRows(byTechnique.slice(0, 50).map((a) => a.id), 'technique ' + technique);
  await page.locator('#queue tbody td.rule .techniques', { hasText: technique }).first().waitFor();
  await page.click('#filters button:has-text("Reset")');
  await waitRows(everything.slice(0, 50).map((a) => a.id), 'after reset');

  // ---- open an alert: evidence with the matched values highlighted, fields, rule, history ----
  step('detail');
  const target = everything.find((a) => a.status === 'new' && (a.matched || []).length) || everything[0];
  await page.click(`#queue tbody tr[data-id="${target.id}"]`);
  await page.locator('#detail h2', { hasText: target.rule.title }).waitFor();
  for (const t of target.attack?.techniques || []) await page.locator('#detail dd', { hasText: t }).first().waitFor();
  const detail = await apiGet('/alerts/' + encodeURIComponent(target.id));
  const evidence = await page.locator('#evidence').textContent();
  assert.equal(evidence, detail.evidence.raw, 'the evidence shows the raw event unchanged');
  const marks = await page.$$eval('#evidence mark.span', (m) => m.map((x) => x.textContent));
  if (detail.evidence.spans.length) {
    assert.ok(marks.length > 0, 'matched spans are highlighted');
    // Each highlight is exactly the bytes the API's span points at.
    const raw = Buffer.from(detail.evidence.raw, 'utf8');
    const expected = [...detail.evidence.spans].sort((a, b) => a.start - b.start).map((s) => raw.subarray(s.start, s.end).toString('utf8'));
    for (const m of marks) assert.ok(expected.includes(m), `highlight "${m}" is one of the spans ${JSON.stringify(expected)}`);
  }
  if (detail.rule_source) await page.locator('#detail pre.source', { hasText: 'detection' }).waitFor();
  const fieldNames = Object.keys(target.fields || {});
  if (fieldNames.length) await page.locator('#detail table.fields td', { hasText: fieldNames[0] }).first().waitFor();
  await shot('04-detail');

  // ---- close as false positive with a note; the history shows both ----
  step('close as false positive');
  const note = 'Vulnerability scanner from the SOC lab (ticket SOC-4711)';
  await page.selectOption('#resolution', 'false_positive');
  await page.fill('#note', note);
  await page.click('#close-alert');
  await page.locator('#history li', { hasText: 'false_positive' }).waitFor();
  await page.locator('#history li', { hasText: note }).waitFor();
  await page.locator('#detail .detail-head .status', { hasText: 'closed: false positive' }).waitFor();
  await page.locator(`#queue tbody tr[data-id="${target.id}"] .status`, { hasText: 'closed' }).waitFor();
  const after = await apiGet('/alerts/' + encodeURIComponent(target.id));
  assert.equal(after.alert.status, 'closed');
  assert.equal(after.alert.resolution, 'false_positive');
  assert.ok(after.history.some((h) => h.detail.includes(note)), 'the note is in the stored history');
  await shot('05-closed');

  // ---- assign and a note from the detail ----
  step('assign + note');
  await page.fill('#assignee', 'linh');
  await page.click('#detail button:has-text("Assign")');
  await page.locator('#history li', { hasText: 'linh' }).waitFor();

  // ---- bulk: tick two open alerts, acknowledge them ----
  step('bulk');
  const open = everything.filter((a) => a.status === 'new' && a.id !== target.id).slice(0, 2);
  for (const a of open) await page.check(`#queue tbody tr[data-id="${a.id}"] input[type=checkbox]`);
  await page.locator('.bulkbar .count', { hasText: '2 selected' }).waitFor();
  await page.click('.bulkbar button:has-text("Acknowledge")');
  for (const a of open) await page.locator(`#queue tbody tr[data-id="${a.id}"] .status`, { hasText: 'acknowledged' }).waitFor();
  for (const a of open) assert.equal((await apiGet('/alerts/' + encodeURIComponent(a.id))).alert.status, 'acknowledged');

  // ---- live refresh: an alert ingested now shows up without a reload ----
  step('live refresh');
  const line = 'Nov 26 09:00:01 live-host01 sshd[777]: Failed password for invalid user oracle from 192.0.2.99 port 50000 ssh2';
  const ingest = await fetch(BASE + '/ingest?tenant=alpha', { method: 'POST', body: line + '\n' });
  assert.equal(ingest.status, 200, 'HTTP ingest');
  await page.locator('#queue tbody tr[data-id] td', { hasText: 'live-host01' }).waitFor({ timeout: 12000 });

  // ---- overview: stacked level bars, top rules and hosts, ingest health ----
  step('overview');
  await page.click('nav a[data-view=overview]');
  await page.locator('#chart-levels svg g.bar.has rect').first().waitFor();
  const stats = await apiGet('/stats?from=' + new Date(Date.now() - 86400e3).toISOString() + '&bucket=1h');
  const chartTotal = await page.$$eval('#chart-levels svg g.bar', (g) => g.reduce((n, x) => n + Number(x.dataset.total || 0), 0));
  const statsTotal = stats.buckets.reduce((n, b) => n + Object.values(b.by_level).reduce((x, y) => x + y, 0), 0);
  assert.equal(chartTotal, statsTotal, 'the chart adds up to the statistics');
  assert.ok(chartTotal > 0);
  const topRule = stats.top_rules[0];
  await page.locator('#top-rules a', { hasText: topRule.title || topRule.id }).first().waitFor();
  await page.locator('#top-hosts .label').first().waitFor();
  await page.locator('#ingest-table tbody tr', { hasText: 'web-ingest' }).waitFor();
  const received = Number((await page.locator('#ingest-table tbody tr', { hasText: 'web-ingest' }).locator('td').nth(4).textContent()).replace(/,/g, ''));
  assert.ok(received > 0, 'the ingest collector counts what it received');
  await shot('06-overview');
  // A click on a top rule opens the queue filtered to it.
  await page.locator('#top-rules a').first().click();
  await page.locator('input[name=rule]').waitFor();
  assert.equal(await page.inputValue('input[name=rule]'), topRule.id);
  await waitRows((await allAlerts('&rule=' + encodeURIComponent(topRule.id))).slice(0, 50).map((a) => a.id), 'top rule drill-down');

  // ---- sources: the host ingested above is listed with its last event and state ----
  step('sources');
  await page.click('nav a[data-view=sources]');
  const sourceRow = page.locator('#sources-table tbody tr', { hasText: 'live-host01' });
  await sourceRow.waitFor();
  assert.match(await sourceRow.locator('td').first().textContent(), /^(learning|ok)/, 'a new source is learning or ok');
  assert.match(await sourceRow.locator('td').nth(3).textContent(), /ago$/, 'its last event');
  await shot('06b-sources');

  // ---- rule tester: the example rule over the example lines ----
  step('rule tester');
  await page.click('nav a[data-view=tester]');
  await page.click('#tester-run');
  await page.locator('#tester-results .result-line').first().waitFor();
  const summary = await page.locator('#tester-summary').textContent();
  assert.match(summary, /^2 of 4 lines matched$/, summary);
  const hits = await page.$$eval('#tester-results .result-line.hit mark.span', (m) => m.map((x) => x.textContent));
  assert.ok(hits.length >= 2, 'matches are highlighted in the tested lines: ' + JSON.stringify(hits));
  await shot('07-rule-tester');
  // A broken rule shows the error, not a crash.
  await page.fill('#tester-rule', 'title: broken\ndetection: [');
  await page.click('#tester-run');
  await page.locator('#tester-results .errors li').first().waitFor();

  // ---- tokens: create one (secret shown once), see it listed, revoke it ----
  step('tokens');
  await page.click('nav a[data-view=tokens]');
  await page.locator('#tokens tbody tr[data-name="admin"]').waitFor();
  await page.fill('input[name=token-name]', 'console-made');
  await page.selectOption('select[name=token-role]', 'viewer');
  await page.click('#token-form button[type=submit]');
  const made = (await page.locator('#token-value').textContent()).trim();
  assert.match(made, /^vgl_[0-9a-f]{64}$/, 'the new token is shown once');
  await page.locator('#tokens tbody tr[data-name="console-made"]').waitFor();
  const who = await fetch(BASE + '/api/v1/whoami', { headers: { Authorization: 'Bearer ' + made } });
  assert.equal(who.status, 200, 'the token made in the console works');
  assert.ok((await apiGet('/tokens')).tokens.find((t) => t.name === 'console-made' && t.expires), 'it expires (90 days by default)');
  page.once('dialog', (d) => d.accept());
  await page.click('#tokens tbody tr[data-name="console-made"] button.revoke');
  await page.locator('#tokens tbody tr[data-name="console-made"]').waitFor({ state: 'detached' });
  const gone = await fetch(BASE + '/api/v1/whoami', { headers: { Authorization: 'Bearer ' + made } });
  assert.equal(gone.status, 401, 'the revoked token stops working');
  await shot('07b-tokens');

  // ---- sign out: the token is gone ----
  step('sign out');
  await page.click('#logout');
  await page.locator('#login-form').waitFor();
  assert.equal(await page.evaluate(() => sessionStorage.getItem('vigil.token')), null);

  // ---- a viewer scoped to tenant alpha: only alpha's alerts, no actions ----
  step('viewer of one tenant');
  const created = await fetch(BASE + '/api/v1/tokens', {
    method: 'POST', headers: { Authorization: 'Bearer ' + TOKEN, 'Content-Type': 'application/json' },
    body: JSON.stringify({ name: 'night-shift', role: 'viewer', tenant: 'alpha' }),
  });
  assert.equal(created.status, 200, 'token creation');
  const viewerToken = (await created.json()).token;
  await page.fill('#login-token', viewerToken);
  await page.click('#login-form button[type=submit]');
  await page.locator('#whoami', { hasText: 'night-shift · viewer · tenant alpha' }).waitFor();
  const alphaIds = (await (await fetch(BASE + '/api/v1/alerts?limit=50', { headers: { Authorization: 'Bearer ' + viewerToken } })).json()).alerts.map((a) => a.id);
  assert.ok(alphaIds.length > 0 && alphaIds.length < everything.length + 1);
  await waitRows(alphaIds, 'viewer of tenant alpha');
  assert.equal(await page.isDisabled('input[name=tenant]'), true, 'a tenant-scoped token cannot pick another tenant');
  await page.click(`#queue tbody tr[data-id="${alphaIds[0]}"]`);
  await page.locator('#detail', { hasText: 'can read alerts but not change them' }).waitFor();
  assert.equal(await page.locator('#close-alert').count(), 0, 'a viewer has no close button');
  await shot('08-viewer');
  await page.click('nav a[data-view=tester]');
  assert.equal(await page.isDisabled('#tester-run'), true, 'a viewer cannot run the rule tester');

  assert.deepEqual(problems, [], 'no page errors and no request outside the daemon');
  step('all passed');
} catch (e) {
  console.error('FAILED:', e.message);
  if (problems.length) console.error('page problems:\n  ' + problems.join('\n  '));
  try {
    const pages = browser.contexts().flatMap((c) => c.pages());
    if (pages[0]) await pages[0].screenshot({ path: path.join(SHOTS, 'failure.png') });
  } catch { /* the browser may be gone */ }
  process.exitCode = 1;
} finally {
  await browser.close();
}
