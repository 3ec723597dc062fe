// Rule tester: a Sigma rule and log lines go to POST /api/v1/rules/test; each line comes back
// with whether it matched and where (byte spans), shown highlighted.
import { api } from './api.js';
import { h, append, clear, highlightSpans } from './dom.js';

const RULE_KEY = 'vigil.tester.rule';
const LOGS_KEY = 'vigil.tester.logs';
const FORMATS = ['auto', 'json', 'rfc3164', 'rfc5424', 'cef', 'kv', 'access', 'plain'];

const EXAMPLE_RULE = `title: SSH failed password for a user that does not exist
id: 00000000-0000-4000-8000-000000000001
status: experimental
logsource:
  product: linux
  service: auth
detection:
  selection:
    program|startswith: sshd
    message|contains: 'Failed password for invalid user '
  condition: selection
level: low
`;
const EXAMPLE_LOGS = `Nov 25 08:31:07 dvc-app02 sshd[48213]: Failed password for invalid user oracle from 192.0.2.88 port 51022 ssh2
Nov 25 08:31:09 dvc-app02 sshd[48213]: Connection closed by invalid user oracle 192.0.2.88 port 51022 [preauth]
Nov 25 08:31:14 dvc-app02 sshd[48221]: Failed password for invalid user admin from 192.0.2.88 port 51040 ssh2
Nov 25 08:31:20 dvc-app02 sshd[48220]: Failed password for trungnv from 10.10.20.15 port 60122 ssh2
`;

export function mountTester(root, ctx) {
  let alive = true;
  const rule = h('textarea', { id: 'tester-rule', spellcheck: 'false', 'aria-label': 'Sigma rule' });
  rule.value = sessionStorage.getItem(RULE_KEY) ?? EXAMPLE_RULE;
  const logs = h('textarea', { id: 'tester-logs', spellcheck: 'false', 'aria-label': 'log lines' });
  logs.value = sessionStorage.getItem(LOGS_KEY) ?? EXAMPLE_LOGS;
  const format = h('select', { 'aria-label': 'format', id: 'tester-format' }, FORMATS.map((f) => h('option', { value: f }, f)));
  const summary = h('span', { class: 'muted', id: 'tester-summary' });
  const results = h('section', { class: 'panel results', id: 'tester-results' });
  const run = h('button', { class: 'primary', id: 'tester-run', disabled: !ctx.canChange() }, 'Test rule');
  append(root, h('div', { class: 'tester' },
    h('section', {}, h('h3', {}, 'Sigma rule (YAML)'), rule),
    h('section', {}, h('h3', {}, 'Log lines (one event per line)'), logs),
    h('div', { class: 'bar' }, run, h('label', { class: 'muted' }, 'format ', format),
      h('button', { onclick: () => { rule.value = EXAMPLE_RULE; logs.value = EXAMPLE_LOGS; } }, 'Example'),
      summary,
      ctx.canChange() ? null : h('span', { class: 'error' }, `Testing rules needs the analyst role (yours: ${ctx.user.role}).`)),
    results));

  run.addEventListener('click', async () => {
    sessionStorage.setItem(RULE_KEY, rule.value);
    sessionStorage.setItem(LOGS_KEY, logs.value);
    run.disabled = true;
    summary.textContent = 'testing…';
    let r;
    try {
      r = await api('POST', '/rules/test', { body: { rule: rule.value, logs: logs.value, format: format.value } });
    } catch (e) {
      if (!alive) return;
      summary.textContent = '';
      append(clear(results), h('ul', { class: 'errors' }, h('li', {}, e.message)));
      return;
    } finally { run.disabled = false; }
    if (!alive) return;
    const lines = r.results || [];
    const hits = lines.filter((l) => l.matched).length;
    summary.textContent = `${hits} of ${lines.length} line${lines.length === 1 ? '' : 's'} matched`;
    append(clear(results), 
      (r.errors || []).length ? h('ul', { class: 'errors' }, r.errors.map((e) => h('li', {}, typeof e === 'string' ? e : JSON.stringify(e)))) : null,
      lines.map((l) => h('div', { class: 'result-line' + (l.matched ? ' hit' : '') },
        h('span', { class: 'muted' }, '#' + l.line),
        h('span', { class: l.matched ? 'yes' : 'no' }, l.matched ? 'MATCH' : 'no match'),
        h('span', { class: 'raw-line' }, highlightSpans(l.raw, l.spans)))));
  });

  return () => { alive = false; };
}
