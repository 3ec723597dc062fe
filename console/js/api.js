// The analyst REST API (/api/v1) as the console uses it. The token lives in sessionStorage:
// it survives a reload of the tab but not the closing of the browser, and other sites never see it.
const TOKEN_KEY = 'vigil.token';

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

export function getToken() { return sessionStorage.getItem(TOKEN_KEY) || ''; }
export function setToken(token) { sessionStorage.setItem(TOKEN_KEY, token); }
export function clearToken() { sessionStorage.removeItem(TOKEN_KEY); }

// Called on every 401 so the app can return to the login form (token revoked or daemon reset).
let onUnauthorized = () => {};
export function setUnauthorizedHandler(fn) { onUnauthorized = fn; }

// api('GET', '/alerts', {query: {...}}) or api('POST', '/alerts/ID/notes', {body: {...}}).
// Empty query values are left out, so a filter form maps onto the query string directly.
// Throws ApiError with the server's {"error": "..."} message.
export async function api(method, path, { query, body, signal } = {}) {
  const url = new URL('/api/v1' + path, location.origin);
  for (const [k, v] of Object.entries(query || {})) {
    if (v !== undefined && v !== null && v !== '') url.searchParams.set(k, String(v));
  }
  const headers = { Authorization: 'Bearer ' + getToken() };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let res;
  try {
    res = await fetch(url, {
      method, headers, signal, cache: 'no-store',
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    throw new ApiError(0, 'cannot reach the vigil daemon (' + e.message + ')');
  }
  const text = await res.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { /* not JSON: keep the text */ }
  if (!res.ok) {
    const message = (data && data.error) || text || res.statusText;
    if (res.status === 401) onUnauthorized(message);
    throw new ApiError(res.status, message);
  }
  return data;
}

export const alertPath = (id) => '/alerts/' + encodeURIComponent(id);
