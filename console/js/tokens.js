// Tokens (admins): who can reach the API, with role, tenant, expiry and last use; create a
// token (its secret is shown once, here, and never again) and revoke one. A tenant's admin sees
// and manages its own tenant's tokens only (the API enforces it; the page just follows).
import { api } from './api.js';
import { h, append, clear, fmtTime, toast } from './dom.js';

export function mountTokens(root, ctx) {
  let alive = true;
  const table = h('tbody');
  const secret = h('div', { id: 'token-secret', class: 'panel', hidden: true });
  const name = h('input', { name: 'token-name', placeholder: 'name (who or what uses it)', required: true, maxlength: 100 });
  const role = h('select', { name: 'token-role' }, ['viewer', 'analyst', 'admin'].map((r) => h('option', { value: r }, r)));
  const tenant = h('input', { name: 'token-tenant', placeholder: ctx.user.tenant === '*' ? 'tenant (* = all)' : ctx.user.tenant,
    value: ctx.user.tenant === '*' ? '' : ctx.user.tenant, disabled: ctx.user.tenant !== '*' });
  const days = h('input', { name: 'token-days', type: 'number', min: 1, max: 3650, value: 90, title: 'expires in days (empty = never)' });
  const form = h('form', { id: 'token-form', class: 'bar' }, name, role, tenant, h('label', { class: 'muted' }, 'expires in days ', days),
    h('button', { class: 'primary', type: 'submit' }, 'Create token'));

  if (ctx.user.role !== 'admin') {
    append(root, h('p', { class: 'error' }, `Managing tokens needs the admin role (yours: ${ctx.user.role}).`));
    return () => { alive = false; };
  }
  append(root, h('section', { class: 'panel', id: 'tokens' },
    h('h3', {}, 'API tokens'), form, secret,
    h('table', { class: 'grid' },
      h('thead', {}, h('tr', {}, ['Name', 'Role', 'Tenant', 'Created', 'Expires', 'Last used', ''].map((c) => h('th', {}, c)))),
      table)));

  async function load() {
    const r = await api('GET', '/tokens');
    if (!alive) return;
    clear(table);
    for (const t of r.tokens) {
      const revoke = h('button', { class: 'revoke', 'data-name': t.name }, 'Revoke');
      revoke.addEventListener('click', async () => {
        if (!confirm(`Revoke the token '${t.name}'? Whatever uses it stops working at once.`)) return;
        try {
          await api('DELETE', '/tokens/' + encodeURIComponent(t.name));
          toast(`Token '${t.name}' revoked`);
          load();
        } catch (e) { toast(e.message, true); }
      });
      append(table, h('tr', { 'data-name': t.name },
        h('td', {}, t.name), h('td', {}, t.role), h('td', {}, t.tenant === '*' ? 'all' : t.tenant),
        h('td', {}, fmtTime(t.created)), h('td', {}, t.expires ? fmtTime(t.expires) : 'never'),
        h('td', {}, t.last_used ? fmtTime(t.last_used) : 'never'), h('td', {}, t.name === ctx.user.name ? '' : revoke)));
    }
  }

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const body = { name: name.value.trim(), role: role.value };
    if (tenant.value.trim()) body.tenant = tenant.value.trim();
    if (days.value) body.expires_in_days = Number(days.value);
    try {
      const r = await api('POST', '/tokens', { body });
      secret.hidden = false;
      append(clear(secret), h('p', {}, `Token '${body.name}' created. Copy it now: it is not shown again.`),
        h('code', { id: 'token-value' }, r.token));
      name.value = '';
      load();
    } catch (err) { toast(err.message, true); }
  });

  load().catch((e) => toast(e.message, true));
  return () => { alive = false; secret.hidden = true; };
}
