// The HTTP API (see openapi/openapi.yaml): calls with the bearer token kept in session storage,
// asking for a token on a 401, and failures as RFC 9457 problems.

import { $ } from './dom.js';
import { state } from './state.js';

export const TOKEN_KEY = 'machvm.token';

export class Problem extends Error {
  constructor(status, body, fallback) {
    const title = (body && body.title) || fallback || `HTTP ${status}`;
    super(title);
    this.status = status;
    this.title = title;
    this.detail = (body && body.detail) || '';
    this.kern = body && body.kern;
  }
}

let tokenPrompt = null;

/** Asks for a token once, however many calls were refused meanwhile; resolves when one is given. */
export function askToken(message, refused) {
  if (tokenPrompt) return tokenPrompt;
  tokenPrompt = new Promise((resolve, reject) => {
    const dialog = $('auth-dialog');
    $('auth-message').textContent = message || 'The service asks for a bearer token.';
    $('auth-token').value = '';
    const done = (ok) => {
      dialog.removeEventListener('close', onClose);
      $('auth-cancel').removeEventListener('click', onCancel);
      tokenPrompt = null;
      if (ok) { state.authPaused = false; resolve(); } else {
        // after a refusal, background refreshes wait until a token is given through "Token…"
        if (refused) state.authPaused = true;
        reject(new Problem(401, { title: 'Unauthorized', detail: 'no token given; use "Token…" to sign in' }));
      }
    };
    const onClose = () => {
      const token = $('auth-token').value.trim();
      if (dialog.returnValue === 'ok' && token) {
        sessionStorage.setItem(TOKEN_KEY, token);
        done(true);
      } else {
        done(false);
      }
    };
    const onCancel = () => { dialog.returnValue = 'cancel'; dialog.close(); };
    dialog.addEventListener('close', onClose);
    $('auth-cancel').addEventListener('click', onCancel);
    dialog.returnValue = '';
    dialog.showModal();
    $('auth-token').focus();
  });
  return tokenPrompt;
}

async function problemOf(res) {
  let body = null;
  const type = res.headers.get('Content-Type') || '';
  try {
    if (type.includes('json')) body = await res.json();
    else { const text = await res.text(); body = { detail: text.slice(0, 300) }; }
  } catch (e) { /* no body */ }
  return new Problem(res.status, body, res.statusText);
}

/**
 * One call: adds the bearer token, asks for one on a 401 and retries, and throws a Problem for any
 * other failure. options: json (a body to send as JSON), body + type (raw), accept.
 */
export async function api(method, path, options = {}) {
  for (;;) {
    const headers = {};
    const token = sessionStorage.getItem(TOKEN_KEY);
    if (token) headers.Authorization = 'Bearer ' + token;
    let body = options.body;
    if (options.json !== undefined) {
      headers['Content-Type'] = 'application/json';
      body = JSON.stringify(options.json);
    } else if (options.type) {
      headers['Content-Type'] = options.type;
    }
    if (options.accept) headers.Accept = options.accept;
    const res = await fetch(path, { method, headers, body, cache: 'no-store', credentials: 'same-origin' });
    if (res.status === 401) {
      const p = await problemOf(res);
      if (options.background && state.authPaused) throw p;
      const why = token ? 'The token was refused' : 'The service asks for a bearer token';
      await askToken(`${why}${p.detail ? ': ' + p.detail : '.'}`, true);
      continue;
    }
    if (!res.ok) throw await problemOf(res);
    return res;
  }
}

export const getJson = async (path, options) => (await api('GET', path, options)).json();
export const taskPath = (id) => '/tasks/' + encodeURIComponent(id);
