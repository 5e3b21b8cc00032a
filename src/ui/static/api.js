// The REST API as the dashboard calls it: the caller's token (kept in this tab's session storage,
// entered once) on every request, the API's error body turned into an ApiError.

const config = JSON.parse(document.getElementById('dashboard-config')?.textContent ?? '{}');
const TOKEN_KEY = 'job-engine.token';

/** Settings the server put in the page: apiBase, temporalUiUrl, namespace. */
export const dashboardConfig = { apiBase: '/api/v1', temporalUiUrl: null, namespace: 'default', ...config };

/** The token entered in this tab (sessionStorage: gone when the tab closes, never in a URL). */
export const token = {
  get: () => sessionStorage.getItem(TOKEN_KEY),
  set: (value) => sessionStorage.setItem(TOKEN_KEY, value),
  clear: () => sessionStorage.removeItem(TOKEN_KEY),
};

/** Who the token says the caller is (for what the page offers; the API decides what is allowed). */
export function currentUser() {
  const jwt = token.get();
  if (!jwt) return { id: 'local', role: 'admin', anonymous: true };
  try {
    const payload = JSON.parse(atob(jwt.split('.')[1].replace(/-/g, '+').replace(/_/g, '/')));
    return { id: String(payload.sub ?? '?'), role: payload.role === 'admin' ? 'admin' : 'user', anonymous: false };
  } catch {
    return { id: '?', role: 'user', anonymous: false };
  }
}

/** The API's `{error, details}` answer (status 0: no answer at all). */
export class ApiError extends Error {
  constructor(status, error, details) {
    super(details ? `${error}: ${details}` : error);
    this.status = status;
    this.error = error;
    this.details = details;
  }
}

/** Listeners told when the API answers 401 (the page then asks for a token). */
export const authEvents = new EventTarget();

export function authHeaders() {
  const jwt = token.get();
  return jwt ? { authorization: `Bearer ${jwt}` } : {};
}

async function send(method, path, body) {
  let response;
  try {
    response = await fetch(dashboardConfig.apiBase + path, {
      method,
      headers: { ...authHeaders(), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (error) {
    throw new ApiError(0, 'No answer from the API', error.message);
  }
  if (response.status === 401) authEvents.dispatchEvent(new Event('unauthorized'));
  return response;
}

async function errorOf(response) {
  const text = await response.text();
  try {
    const body = JSON.parse(text);
    return new ApiError(response.status, body.error ?? response.statusText, body.details ?? '');
  } catch {
    return new ApiError(response.status, response.statusText || `HTTP ${response.status}`, text.slice(0, 200));
  }
}

/** Calls the API; resolves with the JSON body (and the response, for paging headers). */
export async function call(method, path, body) {
  const response = await send(method, path, body);
  if (!response.ok) throw await errorOf(response);
  const text = await response.text();
  return { body: text ? JSON.parse(text) : undefined, response };
}

export const get = async (path) => (await call('GET', path)).body;
/** GET that answers `{unavailable: true}` for a 404: an API this engine does not have (yet). */
export async function getOptional(path) {
  try {
    return (await call('GET', path)).body;
  } catch (error) {
    if (error.status === 404) return { unavailable: true };
    throw error;
  }
}
export const post = async (path, body = {}) => (await call('POST', path, body)).body;

/** `?a=1&b=2` of the non-empty values. */
export function query(params) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params))
    if (value !== undefined && value !== null && value !== '') search.set(key, String(value));
  const text = search.toString();
  return text ? `?${text}` : '';
}

/** Downloads a file the API serves (with the token, which a plain link could not send). */
export async function download(path, name) {
  const response = await send('GET', path);
  if (!response.ok) throw await errorOf(response);
  const url = URL.createObjectURL(await response.blob());
  const link = Object.assign(document.createElement('a'), { href: url, download: name });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
