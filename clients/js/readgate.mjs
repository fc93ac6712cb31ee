// readgate browser client: sessions, WebCrypto request signing, session
// refresh, 429 back-off, paging and typed errors. No dependencies.
//
// This ES module is the source. readgate.js (classic script, window.Readgate)
// and loader.js (the <script data-site-id> loader) are generated from it by
// build.mjs: edit this file, then run `node clients/js/build.mjs`.
//
// The build strips the `export` keyword from top-level declarations, so the
// file must keep to `export class|function|async function|const NAME` and
// must not import anything.

export const VERSION = '1.0.0';

const SITE_ID_RE = /^[a-z0-9]{8,32}$/;
const NONCE_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
// 401 codes after which one new session is opened and the request sent again.
const REOPEN_CODES = ['session_expired', 'session_ended', 'invalid_session'];
const ENCODER = new TextEncoder();

/**
 * An error answered by the gateway (`{"error":{...}}`) or met on the way to it.
 * `code` is the gateway's code, or one of the client's own: network_error,
 * timeout, invalid_response, http_error, session_failed, insecure_context.
 */
export class ReadgateError extends Error {
  constructor(message, { code = 'error', status = 0, field = null, retryAfter = null,
    provider = null, cause } = {}) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = 'ReadgateError';
    /** stable error code, e.g. "rate_limited", "invalid_value", "network_error" */
    this.code = code;
    /** HTTP status, 0 when no answer was received */
    this.status = status;
    /** JSON path of the offending part of the query body, or null */
    this.field = field;
    /** seconds from the Retry-After header, or null */
    this.retryAfter = retryAfter;
    /** the AI provider that failed a token request, or null */
    this.provider = provider;
  }
}

function subtleCrypto() {
  const c = globalThis.crypto;
  if (!c || !c.subtle || typeof c.getRandomValues !== 'function') {
    throw new ReadgateError(
      'WebCrypto (crypto.subtle) is not available: readgate needs a secure context ' +
      '(an https:// page, or http://localhost)', { code: 'insecure_context' });
  }
  return c.subtle;
}

function toBytes(body) {
  if (body === undefined || body === null) return new Uint8Array(0);
  if (typeof body === 'string') return ENCODER.encode(body);
  if (body instanceof Uint8Array) return body;
  if (body instanceof ArrayBuffer) return new Uint8Array(body);
  throw new TypeError('body must be a string, a Uint8Array or an ArrayBuffer');
}

function hex(buffer) {
  const b = new Uint8Array(buffer);
  let s = '';
  for (let i = 0; i < b.length; i++) s += (b[i] < 16 ? '0' : '') + b[i].toString(16);
  return s;
}

/** Lower-case hex SHA-256 of a string (its UTF-8 bytes) or of bytes. */
export async function sha256Hex(body) {
  return hex(await subtleCrypto().digest('SHA-256', toBytes(body)));
}

/**
 * The string to sign: "v1\n" ts "\n" nonce "\n" METHOD "\n" path "\n" hex(sha256(body)).
 */
export function stringToSign(timestamp, nonce, method, path, bodySha256Hex) {
  return ['v1', String(timestamp), nonce, method, path, bodySha256Hex].join('\n');
}

/**
 * Signs one request. `signingSecret` is the string the token answer gave: its
 * UTF-8 bytes are the HMAC key (it is not decoded). `body` is the exact body
 * that will be sent (string or bytes; empty for GET and DELETE).
 * Returns {stringToSign, signature} where signature is "sha256=<hex>".
 */
export async function signRequest({ signingSecret, timestamp, nonce, method, path, body }) {
  const subtle = subtleCrypto();
  const toSign = stringToSign(timestamp, nonce, method, path, await sha256Hex(body));
  const key = await subtle.importKey('raw', ENCODER.encode(signingSecret),
    { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  const mac = await subtle.sign('HMAC', key, ENCODER.encode(toSign));
  return { stringToSign: toSign, signature: 'sha256=' + hex(mac) };
}

/** A fresh nonce: 32 characters of [A-Za-z0-9_-] (192 random bits). */
export function newNonce() {
  subtleCrypto();
  const bytes = new Uint8Array(32);
  globalThis.crypto.getRandomValues(bytes);
  let s = '';
  // 256 is a multiple of 64, so every character is uniformly distributed.
  for (let i = 0; i < bytes.length; i++) s += NONCE_ALPHABET[bytes[i] & 63];
  return s;
}

function parseRetryAfter(value) {
  if (value === null || value === undefined || value === '') return null;
  const v = String(value).trim();
  if (/^\d+$/.test(v)) return Number(v);
  const date = Date.parse(v);
  if (!Number.isNaN(date)) return Math.max(0, Math.ceil((date - Date.now()) / 1000));
  return null;
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function errorFromAnswer(status, doc, retryAfter) {
  const e = doc && typeof doc === 'object' && doc.error;
  if (e && typeof e === 'object' && typeof e.code === 'string') {
    return new ReadgateError(typeof e.message === 'string' ? e.message : e.code, {
      code: e.code,
      status,
      field: typeof e.field === 'string' ? e.field : null,
      retryAfter,
      provider: typeof e.provider === 'string' ? e.provider : null,
    });
  }
  return new ReadgateError('the gateway answered HTTP ' + status + ' without a readgate error',
    { code: 'http_error', status, retryAfter });
}

function checkTokenAnswer(answer) {
  if (!answer || typeof answer !== 'object' ||
      typeof answer.session_token !== 'string' || !answer.session_token ||
      typeof answer.signing_secret !== 'string' || !answer.signing_secret ||
      !(Number.isFinite(answer.expires_in) || Number.isFinite(answer.expires_at))) {
    throw new ReadgateError('the session answer lacks session_token, signing_secret or ' +
      'expires_in/expires_at', { code: 'invalid_response' });
  }
  return answer;
}

/**
 * A readgate client for one site.
 *
 * Options:
 *  - baseUrl: the gateway, e.g. "https://gateway.example.com" (a path prefix is kept)
 *  - siteId: the site id
 *  - session: optional async () => token answer (backend mode); without it the
 *    browser opens the session itself with its Origin (browser mode)
 *  - refreshMarginS (60): open a new session before a request when the current
 *    one expires within this many seconds (half the session's lifetime when
 *    the margin is not shorter than the lifetime)
 *  - maxRetries (3): retries of a request answered 429 (or 503 overloaded)
 *  - retryAfterCapS (30): longest wait, in seconds, before such a retry
 *  - timeoutMs (30000): per HTTP request; 0 for none
 *  - fetch (globalThis.fetch)
 *
 * Events (it is an EventTarget): "session" after every new session.
 */
export class ReadgateClient extends EventTarget {
  #baseUrl;
  #siteId;
  #sessionFn;
  #refreshMarginMs;
  #maxRetries;
  #retryAfterCapMs;
  #timeoutMs;
  #fetch;
  #session = null;
  #opening = null;

  constructor({ baseUrl, siteId, session = null, refreshMarginS = 60, maxRetries = 3,
    retryAfterCapS = 30, timeoutMs = 30000, fetch = globalThis.fetch } = {}) {
    super();
    if (typeof baseUrl !== 'string' || !/^https?:\/\//i.test(baseUrl)) {
      throw new TypeError('baseUrl must be an http:// or https:// URL');
    }
    if (typeof siteId !== 'string' || !SITE_ID_RE.test(siteId)) {
      throw new TypeError('siteId must be 8 to 32 characters of a-z and 0-9');
    }
    if (session !== null && typeof session !== 'function') {
      throw new TypeError('session must be a function returning the token answer');
    }
    if (typeof fetch !== 'function') throw new TypeError('fetch must be a function');
    for (const [name, v] of [['refreshMarginS', refreshMarginS], ['maxRetries', maxRetries],
      ['retryAfterCapS', retryAfterCapS], ['timeoutMs', timeoutMs]]) {
      if (typeof v !== 'number' || !(v >= 0) || v === Infinity) {
        throw new TypeError(name + ' must be a finite number >= 0');
      }
    }
    this.#baseUrl = baseUrl.replace(/\/+$/, '');
    this.#siteId = siteId;
    this.#sessionFn = session;
    this.#refreshMarginMs = refreshMarginS * 1000;
    this.#maxRetries = Math.floor(maxRetries);
    this.#retryAfterCapMs = retryAfterCapS * 1000;
    this.#timeoutMs = timeoutMs;
    this.#fetch = fetch;
  }

  get siteId() { return this.#siteId; }
  get baseUrl() { return this.#baseUrl; }
  /** The AI provider credential of the current session (the token answer's `ai`), or null. */
  get ai() { return this.#session ? this.#session.ai : null; }
  /** The current session token (sst_…), or null. */
  get sessionToken() { return this.#session ? this.#session.token : null; }
  /** The gateway's expires_at (unix seconds) of the current session, or null. */
  get expiresAt() { return this.#session ? this.#session.expiresAt : null; }

  /**
   * Opens a new session (browser mode: POST /token; backend mode: session()).
   * Concurrent calls share one request. Resolves {sessionToken, expiresAt, expiresIn, ai}.
   */
  open() {
    if (!this.#opening) {
      this.#opening = this.#open().finally(() => { this.#opening = null; });
    }
    return this.#opening;
  }

  async #open() {
    const started = Date.now();
    let answer;
    if (this.#sessionFn) {
      try {
        answer = await this.#sessionFn();
        if (answer && typeof answer.json === 'function' && typeof answer.status === 'number') {
          const res = answer; // a fetch Response from the customer's own endpoint
          let doc = null;
          try { doc = await res.json(); } catch (e) { doc = null; }
          if (!res.ok) throw errorFromAnswer(res.status, doc, null);
          answer = doc;
        }
      } catch (e) {
        if (e instanceof ReadgateError) throw e;
        throw new ReadgateError('session() failed: ' + (e && e.message ? e.message : String(e)),
          { code: 'session_failed', cause: e });
      }
    } else {
      answer = await this.#call('POST', 'token', null, null);
    }
    checkTokenAnswer(answer);
    const expiresAt = Number.isFinite(answer.expires_at) ? answer.expires_at : null;
    // Measured on this clock from before the request, so a skewed client
    // clock neither keeps a dead session nor refreshes a live one too early.
    const lifeMs = Number.isFinite(answer.expires_in)
      ? answer.expires_in * 1000
      : expiresAt * 1000 - started;
    // Refresh refreshMarginS before the end; a margin as long as the whole
    // session would refresh before every request, so then refresh at half-life.
    const marginMs = this.#refreshMarginMs < lifeMs ? this.#refreshMarginMs : lifeMs / 2;
    this.#session = {
      token: answer.session_token,
      secret: answer.signing_secret,
      expiresAt,
      refreshAt: started + lifeMs - marginMs,
      ai: answer.ai && typeof answer.ai === 'object' ? answer.ai : null,
    };
    this.dispatchEvent(new Event('session'));
    return {
      sessionToken: this.#session.token,
      expiresAt,
      expiresIn: Number.isFinite(answer.expires_in) ? answer.expires_in : null,
      ai: this.#session.ai,
    };
  }

  async #currentSession() {
    const s = this.#session;
    if (s && Date.now() < s.refreshAt) return s;
    await this.open();
    return this.#session;
  }

  #url(endpoint) {
    return this.#baseUrl + '/v1/' + this.#siteId + '/' + endpoint;
  }

  /** One HTTP exchange; resolves {status, doc, retryAfter}; throws network_error/timeout. */
  async #exchange(method, url, bodyBytes, session) {
    const headers = {};
    if (session) {
      const timestamp = String(Math.floor(Date.now() / 1000));
      const nonce = newNonce();
      const { signature } = await signRequest({
        signingSecret: session.secret, timestamp, nonce, method,
        path: new URL(url).pathname, body: bodyBytes,
      });
      headers['X-Readgate-Session'] = session.token;
      headers['X-Readgate-Timestamp'] = timestamp;
      headers['X-Readgate-Nonce'] = nonce;
      headers['X-Readgate-Signature'] = signature;
    }
    const init = { method, headers, credentials: 'omit', mode: 'cors', cache: 'no-store',
      redirect: 'error' };
    if (bodyBytes) {
      headers['Content-Type'] = 'application/json';
      init.body = bodyBytes;
    }
    let timer = null;
    let timedOut = false;
    if (this.#timeoutMs > 0 && typeof AbortController === 'function') {
      const ac = new AbortController();
      init.signal = ac.signal;
      timer = setTimeout(() => { timedOut = true; ac.abort(); }, this.#timeoutMs);
    }
    try {
      let res;
      try {
        res = await this.#fetch.call(globalThis, url, init);
      } catch (e) {
        if (timedOut) {
          throw new ReadgateError('no answer from ' + url + ' within ' + this.#timeoutMs + ' ms',
            { code: 'timeout', cause: e });
        }
        throw new ReadgateError('could not reach ' + url + ': network failure, or the gateway ' +
          'does not allow this page\'s origin (CORS)', { code: 'network_error', cause: e });
      }
      const retryAfter = parseRetryAfter(res.headers.get('Retry-After'));
      let text;
      try {
        text = await res.text();
      } catch (e) {
        throw new ReadgateError((timedOut ? 'timed out' : 'connection lost') +
          ' while reading the answer of ' + url,
          { code: timedOut ? 'timeout' : 'network_error', status: res.status, cause: e });
      }
      let doc = null;
      try { doc = JSON.parse(text); } catch (e) { doc = null; }
      return { status: res.status, ok: res.ok, doc, retryAfter };
    } finally {
      if (timer !== null) clearTimeout(timer);
    }
  }

  /**
   * Sends a request with the retry rules: 429 (and 503 overloaded) wait
   * Retry-After (capped) up to maxRetries times; a signed request answered
   * 401 session_expired/session_ended/invalid_session opens a new session and
   * is sent once more. `bodyBytes` are serialised once and sent unchanged.
   */
  async #call(method, endpoint, bodyBytes, signed) {
    const url = this.#url(endpoint);
    let retries = 0;
    let reopened = false;
    for (;;) {
      const session = signed ? await this.#currentSession() : null;
      const { status, ok, doc, retryAfter } = await this.#exchange(method, url, bodyBytes, session);
      if (ok) {
        if (doc === null || typeof doc !== 'object') {
          throw new ReadgateError('the gateway answered HTTP ' + status + ' without a JSON object',
            { code: 'invalid_response', status });
        }
        return doc;
      }
      const err = errorFromAnswer(status, doc, retryAfter);
      if (signed && status === 401 && !reopened && REOPEN_CODES.includes(err.code)) {
        reopened = true;
        // Unless another request already replaced it, this session is dead.
        if (this.#session === session) this.#session = null;
        continue;
      }
      const retryable = status === 429 || (status === 503 && err.code === 'overloaded');
      if (retryable && retries < this.#maxRetries) {
        retries++;
        const wantMs = retryAfter !== null ? retryAfter * 1000 : 1000 * 2 ** (retries - 1);
        await sleep(Math.min(wantMs, this.#retryAfterCapMs) + Math.floor(Math.random() * 50));
        continue;
      }
      throw err;
    }
  }

  /** POST /query: resolves {rows, next_cursor}. */
  query(body) {
    if (!body || typeof body !== 'object' || Array.isArray(body)) {
      return Promise.reject(new TypeError('query body must be an object'));
    }
    return this.#call('POST', 'query', ENCODER.encode(JSON.stringify(body)), true);
  }

  /**
   * Async iterator over the pages of a query, following next_cursor until it
   * is null (or maxPages pages were read). Each page is {rows, next_cursor}.
   */
  async *pages(body, { maxPages = Infinity } = {}) {
    if (!body || typeof body !== 'object' || Array.isArray(body)) {
      throw new TypeError('query body must be an object');
    }
    let cursor = body.cursor === undefined ? null : body.cursor;
    for (let n = 0; n < maxPages; n++) {
      const q = Object.assign({}, body);
      if (cursor === null) delete q.cursor; else q.cursor = cursor;
      const page = await this.query(q);
      yield page;
      cursor = page.next_cursor === undefined ? null : page.next_cursor;
      if (cursor === null) return;
    }
  }

  /**
   * Every row of a query, reading at most maxPages pages (default 100).
   * Resolves {rows, next_cursor}: next_cursor is null when every row was read,
   * or the cursor to continue from when maxPages stopped it.
   */
  async queryAll(body, { maxPages = 100 } = {}) {
    const rows = [];
    let next = null;
    for await (const page of this.pages(body, { maxPages })) {
      for (const r of page.rows) rows.push(r);
      next = page.next_cursor === undefined ? null : page.next_cursor;
    }
    return { rows, next_cursor: next };
  }

  /** GET /collections: the collections document. */
  collections() {
    return this.#call('GET', 'collections', null, true);
  }

  /** The ready-made LLM tool definitions: the `tool` of every collection. */
  async tools() {
    const doc = await this.collections();
    return (doc.collections || []).map((c) => c.tool).filter((t) => t && typeof t === 'object');
  }

  /**
   * DELETE /session: ends the current session (the next request opens a new
   * one). Resolves {ended: true}, or {ended: false} when there was no session.
   * A session the gateway already considers expired or ended counts as ended.
   */
  async end() {
    const session = this.#session;
    if (!session) return { ended: false };
    const url = this.#url('session');
    let retries = 0;
    try {
      for (;;) {
        const { status, ok, doc, retryAfter } = await this.#exchange('DELETE', url, null, session);
        if (ok) return doc && typeof doc === 'object' ? doc : { ended: true };
        const err = errorFromAnswer(status, doc, retryAfter);
        if (status === 401 && (err.code === 'session_expired' || err.code === 'session_ended')) {
          return { ended: true };
        }
        if (status === 429 && retries < this.#maxRetries) {
          retries++;
          const wantMs = retryAfter !== null ? retryAfter * 1000 : 1000 * 2 ** (retries - 1);
          await sleep(Math.min(wantMs, this.#retryAfterCapMs));
          continue;
        }
        throw err;
      }
    } finally {
      if (this.#session === session) this.#session = null;
    }
  }
}

/**
 * The loader: reads data-site-id, data-gateway and optionally
 * data-refresh-margin-s and data-max-retries from a <script> element, creates
 * a client, opens its session, sets win.readgate and dispatches
 * "readgate:ready" (detail {client}) or "readgate:error" (detail {error}) on
 * the document. Reads the dataset synchronously, before any await.
 */
export function startLoader(script, win = globalThis) {
  const doc = win.document;
  const data = script && script.dataset ? Object.assign({}, script.dataset) : {};
  const emit = (type, detail) => {
    if (doc && typeof win.CustomEvent === 'function') {
      doc.dispatchEvent(new win.CustomEvent(type, { detail }));
    }
  };
  let client;
  try {
    const opts = { baseUrl: data.gateway, siteId: data.siteId };
    if (data.refreshMarginS !== undefined) opts.refreshMarginS = Number(data.refreshMarginS);
    if (data.maxRetries !== undefined) opts.maxRetries = Number(data.maxRetries);
    client = new ReadgateClient(opts);
  } catch (e) {
    const error = new ReadgateError('readgate loader: ' + e.message +
      ' (set data-site-id and data-gateway on the <script> tag)', { code: 'invalid_config', cause: e });
    win.readgateError = error;
    emit('readgate:error', { error });
    return Promise.resolve(null);
  }
  return client.open().then(() => {
    win.readgate = client;
    emit('readgate:ready', { client });
    return client;
  }, (error) => {
    win.readgateError = error;
    emit('readgate:error', { error, client });
    return null;
  });
}
