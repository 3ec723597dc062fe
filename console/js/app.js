// The console's entry point: login, the signed-in user, and the router between the views
// (#/alerts[/ID], #/overview, #/sources, #/tester, #/tokens). Each view is a module with mount(root, ctx) returning
// an unmount function, so timers (live refresh, ingest polling) stop when the view is left.
import { api, ApiError, getToken, setToken, clearToken, setUnauthorizedHandler } from './api.js';
import { clear } from './dom.js';
import { mountAlerts } from './alerts.js';
import { mountOverview } from './overview.js';
import { mountTester } from './tester.js';
import { mountTokens } from './tokens.js';
import { mountSources } from './sources.js';

const $ = (id) => document.getElementById(id);
const ctx = {
  user: null,  // {name, role, tenant}
  canChange() { return this.user && (this.user.role === 'analyst' || this.user.role === 'admin'); },
  navigate(hash) { if (location.hash !== hash) location.hash = hash; else route(); },
};

let unmount = null;
let mountedView = '';

function showLogin(message) {
  if (unmount) { unmount(); unmount = null; mountedView = ''; }
  clear($('view'));
  $('shell').hidden = true;
  $('login').hidden = false;
  $('login-error').textContent = message || '';
  $('login-token').value = '';
  $('login-token').focus();
}

async function signIn(token) {
  setToken(token);
  try {
    ctx.user = await api('GET', '/whoami');
  } catch (e) {
    clearToken();
    ctx.user = null;
    showLogin(e instanceof ApiError && e.status === 401 ? 'This token is not valid.' : e.message);
    return false;
  }
  $('login').hidden = true;
  $('shell').hidden = false;
  $('nav-tokens').hidden = ctx.user.role !== 'admin';
  $('whoami').textContent = `${ctx.user.name} · ${ctx.user.role} · ${ctx.user.tenant === '*' ? 'all tenants' : 'tenant ' + ctx.user.tenant}`;
  route();
  return true;
}

function route() {
  if (!ctx.user) return;
  const parts = location.hash.replace(/^#\/?/, '').split('/');
  const view = ['alerts', 'overview', 'sources', 'tester', 'tokens'].includes(parts[0]) ? parts[0] : 'alerts';
  for (const a of document.querySelectorAll('.topbar nav a')) a.classList.toggle('active', a.dataset.view === view);
  const arg = parts.slice(1).map(decodeURIComponent).join('/');
  // The alerts view follows its selected alert itself; re-mounting would lose paging and selection.
  if (view === mountedView && view === 'alerts' && unmount?.select) { unmount.select(arg); return; }
  if (unmount) unmount();
  const root = clear($('view'));
  mountedView = view;
  unmount = view === 'overview' ? mountOverview(root, ctx)
          : view === 'sources' ? mountSources(root, ctx)
          : view === 'tester' ? mountTester(root, ctx)
          : view === 'tokens' ? mountTokens(root, ctx)
          : mountAlerts(root, ctx, arg);
}

setUnauthorizedHandler((message) => {
  clearToken();
  ctx.user = null;
  showLogin('Signed out: ' + message);
});

$('login-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const token = $('login-token').value.trim();
  if (token) signIn(token);
});
// Signing out forgets everything this tab kept (token, filters, tester text): consoles are
// often on shared SOC workstations.
$('logout').addEventListener('click', () => {
  sessionStorage.clear();
  ctx.user = null;
  history.replaceState(null, '', '#/alerts');  // the next person starts at the queue
  showLogin('');
});
window.addEventListener('hashchange', route);

if (getToken()) signIn(getToken()); else showLogin('');
