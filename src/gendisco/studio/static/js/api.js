// Talking to the studio server: the per-run token, JSON requests, the event stream.
//
// The token arrives once in the page's URL (?token=...). It is kept for this tab in
// sessionStorage and removed from the address bar, as Jupyter does; every request sends
// it in a header (media elements and the event stream carry the cookie the server set).

const TOKEN_KEY = "gendisco-studio-token";

function takeToken() {
  const url = new URL(window.location.href);
  const fromUrl = url.searchParams.get("token");
  if (fromUrl) {
    sessionStorage.setItem(TOKEN_KEY, fromUrl);
    url.searchParams.delete("token");
    window.history.replaceState(null, "", url.pathname + url.search + url.hash);
  }
  return sessionStorage.getItem(TOKEN_KEY) || "";
}

export const token = takeToken();

/** An error answered by the server: `lines` are its one-line messages. */
export class ApiError extends Error {
  constructor(status, body) {
    const lines = body && body.errors ? body.errors : [body && body.error ? body.error : `HTTP ${status}`];
    super(lines.join(" "));
    this.status = status;
    this.lines = lines;
    this.body = body || {};
  }
}

export async function request(method, path, body) {
  const options = { method, headers: { "X-Gendisco-Token": token } };
  if (body !== undefined) {
    options.headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, options);
  } catch (error) {
    throw new ApiError(0, { error: "the studio server does not answer (was it stopped?)" });
  }
  const type = response.headers.get("Content-Type") || "";
  const data = type.includes("application/json") ? await response.json() : await response.arrayBuffer();
  if (!response.ok) throw new ApiError(response.status, type.includes("json") ? data : null);
  return { data, headers: response.headers };
}

export const get = async (path) => (await request("GET", path)).data;
export const post = async (path, body) => (await request("POST", path, body ?? {})).data;
export const patch = async (path, body) => (await request("PATCH", path, body)).data;

/** Server-Sent Events: handlers by event name ({job: fn, project: fn, ...}). */
export function listen(handlers, onState) {
  const source = new EventSource("/api/events");
  for (const [name, handler] of Object.entries(handlers)) {
    source.addEventListener(name, (event) => handler(JSON.parse(event.data)));
  }
  source.onopen = () => onState && onState(true);
  source.onerror = () => onState && onState(false);
  return source;
}

/** A media URL that changes when the file does, so the browser never shows an old video. */
export function mediaUrl(path, version) {
  return `${path}?v=${encodeURIComponent(version || 0)}`;
}
