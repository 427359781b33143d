// The API as the page calls it: sign-in and its tokens (kept in sessionStorage, so a reload keeps the sign-in
// and closing the tab ends it), a refresh before the access token expires, and errors with their Chinese text.

const KEY = "gridflow.session";
const listeners = new Set();
let session = load();
let refreshTimer = null;

function load() {
  try {
    return JSON.parse(sessionStorage.getItem(KEY)) || null;
  } catch {
    return null;
  }
}

function save(next) {
  session = next;
  if (next) sessionStorage.setItem(KEY, JSON.stringify(next));
  else sessionStorage.removeItem(KEY);
  schedule();
  for (const fn of listeners) fn(session);
}

export class ApiError extends Error {
  constructor(status, body) {
    super(messageOf(status, body));
    this.status = status;
    this.body = body;
  }
}

// The API's error bodies: {error, detail: {code, message} | [{loc, msg}] | string, state?, action?}.
export function messageOf(status, body) {
  const detail = body && body.detail;
  if (typeof detail === "string") return detail;
  if (detail && detail.message) return detail.message;
  if (Array.isArray(detail)) return detail.map((d) => `${(d.loc || []).slice(1).join(".")}: ${d.msg}`).join("；");
  if (status === 0) return "无法连接服务器，请稍后重试";
  return `请求失败 (HTTP ${status})`;
}

export const current = () => session;
export const onSession = (fn) => listeners.add(fn);
export const accessToken = () => (session ? session.access : null);

function tokens(body) {
  const now = Date.now();
  return {
    access: body.access_token,
    refresh: body.refresh_token,
    expiresAt: now + body.expires_in * 1000,
    refreshUntil: now + body.refresh_expires_in * 1000,
  };
}

export async function signIn(username, password) {
  const form = new URLSearchParams({ username, password });
  const answer = await fetch("/api/v1/auth/token", { method: "POST", body: form });
  const body = await answer.json().catch(() => null);
  if (!answer.ok) throw new ApiError(answer.status, body);
  const fresh = tokens(body);
  session = fresh; // /me needs the token before the session is announced
  const me = await request("/api/v1/auth/me");
  save({ ...fresh, user: me });
  return me;
}

export function signOut() {
  save(null);
}

let refreshing = null;
export function refresh() {
  if (!session) return Promise.resolve(false);
  if (!refreshing) {
    refreshing = (async () => {
      try {
        const answer = await fetch("/api/v1/auth/refresh", {
          method: "POST",
          headers: { "Content-Type": "application/json" },
          body: JSON.stringify({ refresh_token: session.refresh }),
        });
        if (answer.status === 401) {
          save(null); // the sign-in is over (expired, revoked, password changed): sign in again
          return false;
        }
        if (!answer.ok) return false; // the API is away: keep the session, try again later
        save({ ...tokens(await answer.json()), user: session.user });
        return true;
      } catch {
        return false;
      } finally {
        refreshing = null;
      }
    })();
  }
  return refreshing;
}

function schedule() {
  clearTimeout(refreshTimer);
  if (!session) return;
  // At 80 % of the access token's life, and again every 10 s while the API cannot be reached.
  const wait = Math.max(1000, (session.expiresAt - Date.now()) * 0.8);
  refreshTimer = setTimeout(async () => {
    if (!(await refresh()) && session) refreshTimer = setTimeout(schedule, 10000);
  }, Math.min(wait, 2 ** 31 - 1));
}
schedule();

// JSON in and out, with the bearer token; one refresh and retry on a 401.
export async function request(path, { method = "GET", body, retried = false, headers = {} } = {}) {
  const init = { method, headers: { ...headers } };
  if (session) init.headers.Authorization = `Bearer ${session.access}`;
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let answer;
  try {
    answer = await fetch(path, init);
  } catch {
    throw new ApiError(0, null);
  }
  if (answer.status === 401 && session && !retried && (await refresh())) {
    return request(path, { method, body, headers, retried: true });
  }
  const text = await answer.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = text;
  }
  if (!answer.ok) throw new ApiError(answer.status, data);
  return data;
}

export const get = (path) => request(path);
export const post = (path, body) => request(path, { method: "POST", body });
