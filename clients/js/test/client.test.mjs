// ReadgateClient against an in-process fake gateway (a fetch function) that
// checks every signature with node:crypto.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { ReadgateClient, ReadgateError } from '../readgate.mjs';

const SITE = 'demo0001';
const BASE = 'https://gw.example.com';

function json(status, doc, headers = {}) {
  return new Response(JSON.stringify(doc), {
    status, headers: { 'Content-Type': 'application/json; charset=utf-8', ...headers } });
}

/** A fake gateway. `handlers[endpoint]` may return a Response to override. */
function fakeGateway({ ttl = 600, ai = null, handlers = {}, prefix = '' } = {}) {
  const gw = { calls: [], sessions: new Map(), tokens: [], nonces: new Set() };
  gw.fetch = async (url, init = {}) => {
    const u = new URL(url);
    const method = init.method || 'GET';
    const headers = new Headers(init.headers || {});
    const body = init.body === undefined ? new Uint8Array(0) : new Uint8Array(init.body);
    const m = new RegExp('^' + prefix + '/v1/([a-z0-9]+)/(token|query|collections|session)$')
      .exec(u.pathname);
    const call = { method, url: String(url), path: u.pathname, headers, body, init,
      endpoint: m && m[2], t: Date.now() };
    gw.calls.push(call);
    if (!m) return json(404, { error: { code: 'not_found', message: 'no' } });
    if (m[2] === 'token' && handlers.token) {
      const r = await handlers.token(call, gw);
      if (r) return r;
    }
    if (m[2] === 'token') {
      const token = 'sst_' + randomBytes(12).toString('base64url');
      const secret = randomBytes(32).toString('base64url');
      gw.sessions.set(token, { secret, ended: false });
      gw.tokens.push(token);
      const now = Math.floor(Date.now() / 1000);
      return json(200, { session_token: token, signing_secret: secret, expires_in: ttl,
        expires_at: now + ttl, ...(ai ? { ai } : {}) });
    }
    // signed
    const token = headers.get('X-Readgate-Session');
    const ts = headers.get('X-Readgate-Timestamp');
    const nonce = headers.get('X-Readgate-Nonce');
    const sig = headers.get('X-Readgate-Signature');
    call.token = token;
    if (!token || !ts || !nonce || !sig) {
      return json(401, { error: { code: 'missing_signature', message: 'missing' } });
    }
    assert.match(ts, /^[0-9]{1,12}$/);
    assert.ok(Math.abs(Number(ts) - Date.now() / 1000) < 5, 'timestamp is now');
    assert.match(nonce, /^[A-Za-z0-9_-]{16,64}$/);
    const s = gw.sessions.get(token);
    if (!s) return json(401, { error: { code: 'invalid_session', message: 'bad session' } });
    if (s.ended) return json(401, { error: { code: 'session_ended', message: 'ended' } });
    const sts = ['v1', ts, nonce, method, u.pathname,
      createHash('sha256').update(body).digest('hex')].join('\n');
    const want = 'sha256=' + createHmac('sha256', Buffer.from(s.secret)).update(sts).digest('hex');
    call.signatureOk = sig === want;
    if (!call.signatureOk) {
      return json(401, { error: { code: 'invalid_signature', message: 'signature does not match' } });
    }
    if (gw.nonces.has(nonce)) return json(401, { error: { code: 'replayed_request', message: 'r' } });
    gw.nonces.add(nonce);
    if (handlers[m[2]]) { // scripted answers to correctly signed requests
      const r = await handlers[m[2]](call, gw);
      if (r) return r;
    }
    if (m[2] === 'query') {
      assert.equal(headers.get('Content-Type'), 'application/json');
      call.json = JSON.parse(new TextDecoder().decode(body));
      return json(200, { rows: [{ id: 1 }], next_cursor: null });
    }
    if (m[2] === 'collections') {
      assert.equal(body.length, 0);
      return json(200, { collections: [
        { name: 'products', tool: { type: 'function', function: { name: 'query_products' } } },
        { name: 'stores', tool: { type: 'function', function: { name: 'query_stores' } } }] });
    }
    if (m[2] === 'session') {
      s.ended = true;
      return json(200, { ended: true });
    }
    return json(500, { error: { code: 'internal', message: 'internal error' } });
  };
  gw.of = (endpoint) => gw.calls.filter((c) => c.endpoint === endpoint);
  return gw;
}

function client(gw, opts = {}) {
  return new ReadgateClient({ baseUrl: BASE, siteId: SITE, fetch: gw.fetch, ...opts });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

test('constructor validates its options', () => {
  const f = async () => {};
  assert.throws(() => new ReadgateClient({ baseUrl: 'gw.example.com', siteId: SITE, fetch: f }), TypeError);
  assert.throws(() => new ReadgateClient({ baseUrl: BASE, siteId: 'Demo0001', fetch: f }), TypeError);
  assert.throws(() => new ReadgateClient({ baseUrl: BASE, siteId: 'short', fetch: f }), TypeError);
  assert.throws(() => new ReadgateClient({ baseUrl: BASE, siteId: SITE, fetch: f, maxRetries: -1 }), TypeError);
  assert.throws(() => new ReadgateClient({ baseUrl: BASE, siteId: SITE, fetch: f, session: 'x' }), TypeError);
  const c = new ReadgateClient({ baseUrl: BASE + '//', siteId: SITE, fetch: f });
  assert.equal(c.baseUrl, BASE);
  assert.equal(c.sessionToken, null);
  assert.equal(c.ai, null);
});

test('browser mode: open() posts to /token without credentials or signature', async () => {
  const ai = { provider: 'openai-realtime', value: 'ek_123', expires_at: 1795677359 };
  const gw = fakeGateway({ ai });
  const c = client(gw);
  let events = 0;
  c.addEventListener('session', () => events++);
  const info = await c.open();
  const [call] = gw.of('token');
  assert.equal(gw.calls.length, 1);
  assert.equal(call.method, 'POST');
  assert.equal(call.url, BASE + '/v1/demo0001/token');
  assert.equal(call.init.credentials, 'omit');
  assert.equal(call.init.body, undefined);
  assert.equal(call.headers.get('X-Readgate-Signature'), null);
  assert.equal(call.headers.get('Authorization'), null);
  assert.equal(info.sessionToken, gw.tokens[0]);
  assert.equal(info.expiresIn, 600);
  assert.equal(c.sessionToken, gw.tokens[0]);
  assert.deepEqual(c.ai, ai);
  assert.deepEqual(info.ai, ai);
  assert.equal(typeof c.expiresAt, 'number');
  assert.equal(events, 1);
  assert.equal(JSON.stringify(info).includes(gw.sessions.get(gw.tokens[0]).secret), false);
});

test('query is signed over exactly the bytes sent', async () => {
  const gw = fakeGateway();
  const c = client(gw);
  const body = { collection: 'products', search: 'café 東京 😀', limit: 3 };
  const page = await c.query(body); // opens the session itself
  assert.deepEqual(page, { rows: [{ id: 1 }], next_cursor: null });
  const [q] = gw.of('query');
  assert.equal(q.signatureOk, true);
  assert.equal(q.method, 'POST');
  assert.equal(q.path, '/v1/demo0001/query');
  assert.deepEqual(q.json, body);
  assert.equal(new TextDecoder().decode(q.body), JSON.stringify(body));
  assert.equal(q.token, gw.tokens[0]);
  assert.match(q.headers.get('X-Readgate-Signature'), /^sha256=[0-9a-f]{64}$/);
  await c.query(body);
  const [a, b] = gw.of('query');
  assert.notEqual(a.headers.get('X-Readgate-Nonce'), b.headers.get('X-Readgate-Nonce'));
  assert.equal(gw.of('token').length, 1);
});

test('a path prefix of baseUrl is part of the signed path', async () => {
  const gw = fakeGateway({ prefix: '/readgate' });
  const c = new ReadgateClient({ baseUrl: BASE + '/readgate/', siteId: SITE, fetch: gw.fetch });
  await c.collections();
  const [call] = gw.of('collections');
  assert.equal(call.path, '/readgate/v1/demo0001/collections');
  assert.equal(call.signatureOk, true);
});

test('collections() and tools() sign an empty GET', async () => {
  const gw = fakeGateway();
  const c = client(gw);
  const doc = await c.collections();
  assert.equal(doc.collections.length, 2);
  const tools = await c.tools();
  assert.deepEqual(tools.map((t) => t.function.name), ['query_products', 'query_stores']);
  for (const call of gw.of('collections')) {
    assert.equal(call.method, 'GET');
    assert.equal(call.init.body, undefined);
    assert.equal(call.headers.get('Content-Type'), null);
    assert.equal(call.signatureOk, true);
  }
});

test('the session is refreshed when it expires within refreshMarginS', async () => {
  const gw = fakeGateway({ ttl: 1 });
  const c = client(gw, { refreshMarginS: 0.6 });
  await c.open();
  await c.query({ collection: 'products' });
  assert.equal(gw.of('token').length, 1, 'no refresh while more than the margin is left');
  const first = c.sessionToken;
  await sleep(500);
  await c.query({ collection: 'products' });
  assert.equal(gw.of('token').length, 2, 'refreshed before the request');
  assert.notEqual(c.sessionToken, first);
  const q = gw.of('query');
  assert.equal(q[1].token, c.sessionToken);
  assert.equal(q[1].signatureOk, true);
  // the token request came before the query that needed it
  assert.ok(gw.calls.indexOf(gw.of('token')[1]) < gw.calls.indexOf(q[1]));
});

test('a margin not shorter than the session refreshes at half-life', async () => {
  const gw = fakeGateway({ ttl: 1 });
  const c = client(gw); // refreshMarginS 60 > 1 s
  await c.query({ collection: 'products' });
  await c.query({ collection: 'products' });
  assert.equal(gw.of('token').length, 1, 'not before every request');
  await sleep(550);
  await c.query({ collection: 'products' });
  assert.equal(gw.of('token').length, 2, 'after half of the second');
});

for (const code of ['session_expired', 'session_ended', 'invalid_session']) {
  test(`401 ${code}: one new session, the request sent again`, async () => {
    let refusals = 0;
    const gw = fakeGateway({ handlers: { query: () => (refusals++ < 1
      ? json(401, { error: { code, message: 'x' } }) : null) } });
    const c = client(gw);
    await c.open();
    const first = c.sessionToken;
    const page = await c.query({ collection: 'products' });
    assert.deepEqual(page.rows, [{ id: 1 }]);
    assert.equal(gw.of('token').length, 2);
    assert.notEqual(c.sessionToken, first);
    assert.equal(gw.of('query').length, 2);
  });
}

test('401 twice in a row: only one new session, then the error', async () => {
  const gw = fakeGateway({ handlers: { query: () =>
    json(401, { error: { code: 'session_expired', message: 'expired' } }) } });
  const c = client(gw);
  await assert.rejects(c.query({ collection: 'products' }), (e) => {
    assert.ok(e instanceof ReadgateError);
    assert.equal(e.code, 'session_expired');
    assert.equal(e.status, 401);
    return true;
  });
  assert.equal(gw.of('token').length, 2);
  assert.equal(gw.of('query').length, 2);
});

test('other 401 codes are not retried', async () => {
  const gw = fakeGateway({ handlers: { query: () =>
    json(401, { error: { code: 'invalid_signature', message: 'signature does not match' } }) } });
  const c = client(gw);
  await assert.rejects(c.query({ collection: 'products' }), { code: 'invalid_signature', status: 401 });
  assert.equal(gw.of('token').length, 1);
  assert.equal(gw.of('query').length, 1);
});

test('429: waits Retry-After, re-signs, and succeeds', async () => {
  let n = 0;
  const gw = fakeGateway({ handlers: { query: () => (n++ < 2
    ? json(429, { error: { code: 'rate_limited', message: 'retry after 1 s' } }, { 'Retry-After': '1' })
    : null) } });
  const c = client(gw, { maxRetries: 3 });
  const t0 = Date.now();
  const page = await c.query({ collection: 'products' });
  const elapsed = Date.now() - t0;
  assert.deepEqual(page.rows, [{ id: 1 }]);
  const q = gw.of('query');
  assert.equal(q.length, 3);
  assert.ok(q[1].t - q[0].t >= 1000 && q[2].t - q[1].t >= 1000, 'waited 1 s each time');
  assert.ok(elapsed >= 2000 && elapsed < 4000, String(elapsed));
  assert.equal(new Set(q.map((c) => c.headers.get('X-Readgate-Nonce'))).size, 3);
  assert.ok(q.every((c) => c.signatureOk));
});

test('429: Retry-After is capped, and after maxRetries the error is raised', async () => {
  const gw = fakeGateway({ handlers: { query: () =>
    json(429, { error: { code: 'rate_limited', message: 'retry after 120 s' } }, { 'Retry-After': '120' }) } });
  const c = client(gw, { maxRetries: 2, retryAfterCapS: 0.2 });
  const t0 = Date.now();
  await assert.rejects(c.query({ collection: 'products' }), (e) => {
    assert.ok(e instanceof ReadgateError);
    assert.equal(e.code, 'rate_limited');
    assert.equal(e.status, 429);
    assert.equal(e.retryAfter, 120);
    return true;
  });
  const elapsed = Date.now() - t0;
  assert.equal(gw.of('query').length, 3);
  assert.ok(elapsed >= 400 && elapsed < 1500, String(elapsed));
});

test('maxRetries 0 raises the first 429', async () => {
  const gw = fakeGateway({ handlers: { query: () =>
    json(429, { error: { code: 'rate_limited', message: 'x' } }, { 'Retry-After': '7' }) } });
  const c = client(gw, { maxRetries: 0 });
  await assert.rejects(c.query({ collection: 'products' }), { code: 'rate_limited', retryAfter: 7 });
  assert.equal(gw.of('query').length, 1);
});

test('429 on /token is retried too', async () => {
  let n = 0;
  const gw = fakeGateway({ handlers: { token: () => (n++ < 1
    ? json(429, { error: { code: 'rate_limited', message: 'x' } }, { 'Retry-After': '1' }) : null) } });
  const c = client(gw, { retryAfterCapS: 0.05 });
  await c.open();
  assert.equal(gw.of('token').length, 2);
  assert.ok(c.sessionToken);
});

test('errors carry code, status, field and provider', async () => {
  const gw = fakeGateway({ handlers: {
    query: () => json(400, { error: { code: 'invalid_value', message: 'bad value',
      field: 'filters[0].value' } }),
    token: () => json(502, { error: { code: 'upstream_error', message: 'provider failed',
      provider: 'openai-realtime' } }),
  } });
  const c = client(gw);
  await assert.rejects(c.open(), (e) => {
    assert.ok(e instanceof ReadgateError && e instanceof Error);
    assert.equal(e.name, 'ReadgateError');
    assert.equal(e.code, 'upstream_error');
    assert.equal(e.status, 502);
    assert.equal(e.provider, 'openai-realtime');
    assert.equal(e.field, null);
    assert.equal(e.message, 'provider failed');
    return true;
  });
  const c2 = client(fakeGateway({ handlers: { query: () => json(400, { error: {
    code: 'invalid_value', message: 'bad value', field: 'filters[0].value' } }) } }));
  await assert.rejects(c2.query({ collection: 'products' }),
    { code: 'invalid_value', status: 400, field: 'filters[0].value', provider: null, retryAfter: null });
});

test('a non-JSON error page becomes http_error; a non-JSON success invalid_response', async () => {
  const gw = fakeGateway({ handlers: { query: () => new Response('<html>413</html>',
    { status: 413, headers: { 'Content-Type': 'text/html' } }) } });
  await assert.rejects(client(gw).query({ collection: 'products' }), { code: 'http_error', status: 413 });
  const gw2 = fakeGateway({ handlers: { collections: () => new Response('ok', { status: 200 }) } });
  await assert.rejects(client(gw2).collections(), { code: 'invalid_response', status: 200 });
});

test('a fetch that throws (network failure, CORS refusal) is network_error', async () => {
  const c = new ReadgateClient({ baseUrl: BASE, siteId: SITE,
    fetch: async () => { throw new TypeError('Failed to fetch'); } });
  await assert.rejects(c.open(), (e) => {
    assert.ok(e instanceof ReadgateError);
    assert.equal(e.code, 'network_error');
    assert.equal(e.status, 0);
    assert.ok(e.cause instanceof TypeError);
    return true;
  });
});

test('a request without an answer within timeoutMs is timeout', async () => {
  const c = new ReadgateClient({ baseUrl: BASE, siteId: SITE, timeoutMs: 100,
    fetch: (url, init) => new Promise((resolve, reject) => {
      init.signal.addEventListener('abort', () => reject(new DOMException('aborted', 'AbortError')));
    }) });
  const t0 = Date.now();
  await assert.rejects(c.open(), { code: 'timeout' });
  assert.ok(Date.now() - t0 < 1000);
});

test('backend mode: session() supplies the token answer', async () => {
  const gw = fakeGateway();
  let calls = 0;
  const minting = fakeGateway(); // "the customer's server" gets sessions from the gateway
  minting.sessions = gw.sessions;
  const c = client(gw, { session: async () => {
    calls++;
    return (await minting.fetch(BASE + '/v1/demo0001/token', { method: 'POST' })).json();
  } });
  await c.query({ collection: 'products' });
  assert.equal(calls, 1);
  assert.equal(gw.of('token').length, 0, 'the browser never calls /token');
  assert.equal(gw.of('query')[0].signatureOk, true);
  // a Response is accepted as well
  const c2 = client(gw, { session: () => minting.fetch(BASE + '/v1/demo0001/token', { method: 'POST' }) });
  await c2.collections();
  assert.equal(gw.of('collections')[0].signatureOk, true);
});

test('backend mode: failures of session()', async () => {
  const gw = fakeGateway();
  await assert.rejects(client(gw, { session: async () => { throw new Error('boom'); } }).open(),
    (e) => e instanceof ReadgateError && e.code === 'session_failed' && /boom/.test(e.message));
  await assert.rejects(client(gw, { session: async () => ({ session_token: 'sst_x' }) }).open(),
    { code: 'invalid_response' });
  await assert.rejects(client(gw, { session: async () => json(404,
    { error: { code: 'widget_unavailable', message: 'widget unavailable' } }) }).open(),
  { code: 'widget_unavailable', status: 404 });
});

test('concurrent requests share one open()', async () => {
  const gw = fakeGateway();
  const c = client(gw);
  await Promise.all([c.query({ collection: 'products' }), c.query({ collection: 'products' }),
    c.collections(), c.open()]);
  assert.equal(gw.of('token').length, 1);
});

test('pages() and queryAll() follow next_cursor', async () => {
  const data = [1, 2, 3, 4, 5].map((id) => ({ id }));
  const gw = fakeGateway({ handlers: { query: (call) => {
    const q = JSON.parse(new TextDecoder().decode(call.body));
    call.q = q;
    const start = q.cursor ? Number(q.cursor.slice(1)) : 0;
    const rows = data.slice(start, start + q.limit);
    const end = start + rows.length;
    return json(200, { rows, next_cursor: end < data.length ? 'c' + end : null });
  } } });
  const c = client(gw);
  const pages = [];
  for await (const p of c.pages({ collection: 'products', limit: 2 })) pages.push(p);
  assert.deepEqual(pages.map((p) => p.rows.map((r) => r.id)), [[1, 2], [3, 4], [5]]);
  const sent = gw.of('query').map((q) => q.q);
  assert.equal('cursor' in sent[0], false);
  assert.deepEqual(sent.slice(1).map((q) => q.cursor), ['c2', 'c4']);
  const all = await c.queryAll({ collection: 'products', limit: 2 });
  assert.deepEqual(all, { rows: data, next_cursor: null });
  const some = await c.queryAll({ collection: 'products', limit: 2 }, { maxPages: 2 });
  assert.deepEqual(some, { rows: data.slice(0, 4), next_cursor: 'c4' });
  const rest = await c.queryAll({ collection: 'products', limit: 2, cursor: some.next_cursor });
  assert.deepEqual(rest.rows, data.slice(4));
});

test('end() deletes the session; the next request opens a new one', async () => {
  const gw = fakeGateway();
  const c = client(gw);
  assert.deepEqual(await c.end(), { ended: false });
  assert.equal(gw.calls.length, 0);
  await c.open();
  const first = c.sessionToken;
  assert.deepEqual(await c.end(), { ended: true });
  const [del] = gw.of('session');
  assert.equal(del.method, 'DELETE');
  assert.equal(del.signatureOk, true);
  assert.equal(del.init.body, undefined);
  assert.equal(gw.sessions.get(first).ended, true);
  assert.equal(c.sessionToken, null);
  await c.query({ collection: 'products' });
  assert.notEqual(c.sessionToken, first);
  assert.equal(gw.of('token').length, 2);
});
