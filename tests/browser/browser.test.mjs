// The browser client (clients/js) in Debian's chromium against a running
// readgate. Run by tests/browser/run.sh; see README.md there for the
// environment (RG_GATEWAY, RG_SITE, RG_ALLOWED_PORT, RG_FORBIDDEN_PORT,
// RG_COLLECTION, RG_EXPECT).
//
// The test serves the client files and the pages of pages/ itself, on
// 127.0.0.1 at RG_ALLOWED_PORT (an allowed origin of the site) and
// RG_FORBIDDEN_PORT (not allowed), and opens them as http://localhost:PORT/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createHash, createHmac } from 'node:crypto';
import { chromium } from 'playwright-core';
import { startStaticServer, csp } from './server.mjs';

function env(name) {
  const v = process.env[name];
  if (!v) {
    throw new Error(name + ' is not set: the browser test needs RG_GATEWAY, RG_SITE, ' +
      'RG_ALLOWED_PORT, RG_FORBIDDEN_PORT, RG_COLLECTION and RG_EXPECT (see tests/browser/README.md)');
  }
  return v;
}

const GATEWAY = env('RG_GATEWAY').replace(/\/+$/, '');
const GATEWAY_ORIGIN = new URL(GATEWAY).origin;
const SITE = env('RG_SITE');
const ALLOWED_PORT = Number(env('RG_ALLOWED_PORT'));
const FORBIDDEN_PORT = Number(env('RG_FORBIDDEN_PORT'));
const COLLECTION = env('RG_COLLECTION');
const EXPECT = JSON.parse(readFileSync(env('RG_EXPECT'), 'utf8'));
const CHROMIUM = process.env.RG_CHROMIUM || '/usr/bin/chromium';
// RG_BROWSER_DEBUG=1 prints every console message of the pages on stderr.
const QUERY = EXPECT.query;
const LIMITED_SITE = EXPECT.limited_site;
const ALLOWED_ORIGIN = 'http://localhost:' + ALLOWED_PORT;
const FORBIDDEN_ORIGIN = 'http://localhost:' + FORBIDDEN_PORT;
const ARGS = { gateway: GATEWAY, site: SITE, collection: COLLECTION, query: QUERY };

assert.ok(Number.isInteger(ALLOWED_PORT) && Number.isInteger(FORBIDDEN_PORT) &&
  ALLOWED_PORT !== FORBIDDEN_PORT, 'RG_ALLOWED_PORT and RG_FORBIDDEN_PORT are two ports');
assert.ok(QUERY && QUERY.collection === COLLECTION, 'RG_EXPECT.query is a query of RG_COLLECTION');
assert.ok(Array.isArray(EXPECT.rows) && EXPECT.rows.length > 0, 'RG_EXPECT.rows is not empty');
assert.ok(Array.isArray(EXPECT.all_rows) && EXPECT.all_rows.length > 2,
  'RG_EXPECT.all_rows has more than one page of 2 rows');
assert.ok(typeof LIMITED_SITE === 'string' && LIMITED_SITE, 'RG_EXPECT.limited_site is set');

const LAUNCH = {
  executablePath: CHROMIUM,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
};

const T = { timeout: 30000 }; // per test; the 429 test has its own
let browser;
const servers = [];
const openPages = [];
let rateLimitRun; // the 429 scenario takes about a minute: it runs alongside the others

before(async () => {
  servers.push(await startStaticServer({ port: ALLOWED_PORT, gatewayOrigin: GATEWAY_ORIGIN }));
  servers.push(await startStaticServer({ port: FORBIDDEN_PORT, gatewayOrigin: GATEWAY_ORIGIN }));
  browser = await chromium.launch(LAUNCH);
  rateLimitRun = (async () => {
    const p = await openPage(ALLOWED_PORT, '/pages/module.html');
    const result = await scenario(p, 'rateLimit', { ...ARGS, site: LIMITED_SITE });
    return { p, result };
  })();
  rateLimitRun.catch(() => {}); // awaited (and reported) by its test
});

after(async () => {
  for (const p of openPages) await p.context.close().catch(() => {});
  if (browser) await browser.close();
  for (const s of servers) await s.close();
});

/**
 * Opens a page in a fresh browser context and records its console messages,
 * page errors and exchanges with the gateway.
 */
async function openPage(port, path) {
  const context = await browser.newContext();
  const page = await context.newPage();
  const rec = { context, page, console: [], pageErrors: [], gateway: [], failed: [],
    pending: [] };
  openPages.push(rec);
  page.on('console', (m) => {
    rec.console.push({ type: m.type(), text: m.text(), url: m.location().url });
    if (process.env.RG_BROWSER_DEBUG) {
      process.stderr.write(`[${port}${path.split('?')[0]}] console.${m.type()}: ${m.text()}\n`);
    }
  });
  page.on('pageerror', (e) => rec.pageErrors.push(String(e && e.stack ? e.stack : e)));
  page.on('requestfailed', (req) => {
    if (!req.url().startsWith(GATEWAY_ORIGIN + '/')) return;
    rec.failed.push({ method: req.method(), path: new URL(req.url()).pathname,
      failure: req.failure() && req.failure().errorText });
  });
  page.on('response', (r) => {
    if (!r.url().startsWith(GATEWAY_ORIGIN + '/')) return;
    rec.pending.push((async () => {
      const req = r.request();
      rec.gateway.push({ method: req.method(), url: r.url(), path: new URL(r.url()).pathname,
        status: r.status(), headers: await req.allHeaders(), postData: req.postDataBuffer(),
        body: await r.body().catch(() => null) });
    })());
  });
  rec.response = await page.goto('http://localhost:' + port + path);
  assert.equal(rec.response.status(), 200, path);
  return rec;
}

/** Runs window.scenarios[name](args) in the page, once the page script defined it. */
async function scenario(p, name, args) {
  return p.page.evaluate(async ([n, a]) => {
    for (let i = 0; i < 200 && !(window.scenarios && window.scenarios[n]); i++) {
      await new Promise((r) => setTimeout(r, 25));
    }
    if (!window.scenarios || !window.scenarios[n]) throw new Error('no scenario ' + n);
    return window.scenarios[n](a);
  }, [name, args]);
}

/** Polls a page expression (no eval in the page: evaluate runs through the protocol). */
async function waitFor(p, fn, timeoutMs = 10000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await p.page.evaluate(fn);
    if (v !== null && v !== undefined) return v;
    if (Date.now() > deadline) throw new Error('timed out waiting for ' + fn);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function errorsOf(p) {
  return p.console.filter((m) => m.type === 'error');
}

/**
 * The page's console holds no error other than the expected ones
 * ([{re, count}]: exactly count messages matching re), no CSP violation
 * report and no uncaught exception.
 */
async function assertConsole(p, expected = []) {
  await Promise.all(p.pending);
  assert.deepEqual(p.pageErrors, [], 'no uncaught exception in the page');
  const violations = await p.page.evaluate(() => window.cspViolations);
  assert.deepEqual(violations, [], 'no Content-Security-Policy violation');
  let rest = errorsOf(p);
  for (const { re, count } of expected) {
    // an expected error is about an answer of the gateway
    const match = (m) => re.test(m.text) && m.url.startsWith(GATEWAY_ORIGIN + '/');
    const hits = rest.filter(match);
    assert.equal(hits.length, count, 'console errors matching ' + re + ': ' +
      JSON.stringify(errorsOf(p), null, 1));
    rest = rest.filter((m) => !match(m));
  }
  assert.deepEqual(rest, [], 'no other console error');
  const cspWarnings = p.console.filter((m) => /Content.Security.Policy|Trusted Type/i.test(m.text));
  assert.deepEqual(cspWarnings, [], 'no console message about the CSP');
}

const httpStatusError = (status, count = 1) => ({ count,
  re: new RegExp('^Failed to load resource: the server responded with a status of ' + status + '\\b') });

function strip(entry) {
  return { method: entry.method, path: entry.path, status: entry.status };
}

test('browser mode: open() and a signed query return the expected rows', T, async () => {
  const p = await openPage(ALLOWED_PORT, '/pages/module.html');
  assert.equal(p.response.headers()['content-security-policy'], csp(GATEWAY_ORIGIN));
  const r = await scenario(p, 'openAndQuery', ARGS);
  assert.equal(r.secureContext, true, 'http://localhost is a secure context (WebCrypto)');
  assert.match(r.token, /^sst_[A-Za-z0-9_-]+$/);
  assert.equal(r.info.sessionToken, r.token);
  assert.equal(r.info.expiresIn, 60, 'RG_SITE has session_ttl_s 60');
  assert.ok(Math.abs(r.expiresAt - (Date.now() / 1000 + 60)) < 10, 'expires_at is in ~60 s');
  assert.equal(r.ai, null, 'no ai block on this site');
  assert.deepEqual(r.page.rows, EXPECT.rows);
  assert.ok(r.page.next_cursor === null || typeof r.page.next_cursor === 'string');
  assert.deepEqual(r.log.map((e) => [e.method, e.path, e.status, e.session]), [
    ['POST', `/v1/${SITE}/token`, 200, null],
    ['POST', `/v1/${SITE}/query`, 200, r.token],
  ]);

  // What went over the wire, as chromium sent it: the browser's Origin, no
  // cookies, and a signature over exactly the bytes of the body.
  await Promise.all(p.pending);
  const token = p.gateway.find((g) => g.path.endsWith('/token'));
  const query = p.gateway.find((g) => g.path.endsWith('/query'));
  assert.ok(token && query, 'chromium reported both exchanges');
  assert.equal(token.headers.origin, ALLOWED_ORIGIN);
  assert.equal(token.headers.cookie, undefined);
  assert.equal(token.headers['x-readgate-signature'], undefined);
  const answer = JSON.parse(token.body.toString('utf8'));
  assert.equal(answer.session_token, r.token);
  const h = query.headers;
  assert.equal(h.origin, ALLOWED_ORIGIN);
  assert.equal(h['content-type'], 'application/json');
  assert.equal(h['x-readgate-session'], r.token);
  assert.match(h['x-readgate-timestamp'], /^[0-9]{1,12}$/);
  assert.ok(Math.abs(Number(h['x-readgate-timestamp']) - Date.now() / 1000) < 30);
  assert.match(h['x-readgate-nonce'], /^[A-Za-z0-9_-]{16,64}$/);
  assert.deepEqual(JSON.parse(query.postData.toString('utf8')), QUERY);
  const toSign = ['v1', h['x-readgate-timestamp'], h['x-readgate-nonce'], 'POST',
    `/v1/${SITE}/query`, createHash('sha256').update(query.postData).digest('hex')].join('\n');
  assert.equal(h['x-readgate-signature'], 'sha256=' +
    createHmac('sha256', Buffer.from(answer.signing_secret, 'utf8')).update(toSign).digest('hex'));
  await assertConsole(p);
});

test('end() ends the session; the next query opens a new one', T, async () => {
  const p = await openPage(ALLOWED_PORT, '/pages/module.html');
  const r = await scenario(p, 'endAndReopen', ARGS);
  assert.deepEqual(r.ended, { ended: true });
  assert.equal(r.afterEnd, null);
  assert.match(r.second, /^sst_/);
  assert.notEqual(r.second, r.first);
  assert.deepEqual(r.rows, EXPECT.rows);
  assert.deepEqual(r.log.map((e) => [e.method, e.path, e.status, e.session]), [
    ['POST', `/v1/${SITE}/token`, 200, null],
    ['DELETE', `/v1/${SITE}/session`, 200, r.first],
    ['POST', `/v1/${SITE}/token`, 200, null],
    ['POST', `/v1/${SITE}/query`, 200, r.second],
  ]);
  await assertConsole(p);
});

test('paging follows next_cursor and returns all_rows in order', T, async () => {
  const p = await openPage(ALLOWED_PORT, '/pages/module.html');
  const r = await scenario(p, 'paging', ARGS);
  assert.deepEqual(r.all, { rows: EXPECT.all_rows, next_cursor: null });
  const n = EXPECT.all_rows.length;
  assert.equal(r.pages.length, Math.ceil(n / 2));
  assert.deepEqual(r.pages.flatMap((pg) => pg.rows), EXPECT.all_rows);
  r.pages.forEach((pg, i) => {
    const last = i === r.pages.length - 1;
    assert.equal(pg.rows.length, last ? n - 2 * i : 2);
    if (last) assert.equal(pg.next_cursor, null);
    else assert.equal(typeof pg.next_cursor, 'string');
  });
  assert.deepEqual(r.capped.rows, EXPECT.all_rows.slice(0, 2));
  assert.equal(r.capped.next_cursor, r.pages[0].next_cursor);
  assert.equal(r.queries, 2 * Math.ceil(n / 2) + 1);
  await assertConsole(p);
});

test('refresh: refreshMarginS 58 and a 60 s session give a new session after ~2 s', T,
  async () => {
  const p = await openPage(ALLOWED_PORT, '/pages/module.html');
  const r = await scenario(p, 'refresh', { ...ARGS, waitMs: 2500 });
  assert.equal(r.info.expiresIn, 60);
  assert.ok(r.firstQueryAfterMs < 1800, 'the first query ran within the first 2 s: ' +
    r.firstQueryAfterMs + ' ms');
  assert.equal(r.afterFirst, r.first, 'no refresh while more than 58 s are left');
  assert.match(r.second, /^sst_/);
  assert.notEqual(r.second, r.first, 'a new session after 2.5 s');
  assert.equal(r.third, r.second, 'and then no other one');
  assert.equal(r.sessionEvents, 2);
  for (const rows of r.rows) assert.deepEqual(rows, EXPECT.rows);
  assert.deepEqual(r.log.map((e) => [e.method, e.path, e.status, e.session]), [
    ['POST', `/v1/${SITE}/token`, 200, null],
    ['POST', `/v1/${SITE}/query`, 200, r.first],
    ['POST', `/v1/${SITE}/token`, 200, null],
    ['POST', `/v1/${SITE}/query`, 200, r.second],
    ['POST', `/v1/${SITE}/query`, 200, r.second],
  ]);
  const refreshAt = r.log[2].t - r.log[0].t;
  assert.ok(refreshAt >= 2000, 'refreshed after 2 s, not before: ' + refreshAt + ' ms');
  await assertConsole(p);
});

test('backend mode: 401 session_ended opens one new session and the query succeeds', T, async () => {
  const p = await openPage(ALLOWED_PORT, '/pages/module.html');
  const r = await scenario(p, 'reopenAfter401', ARGS);
  assert.deepEqual(r.ended, { ended: true });
  assert.equal(r.sessionCalls, 2, 'session() asked twice: at open and after the 401');
  assert.equal(r.minted.length, 2);
  assert.notEqual(r.minted[0], r.minted[1]);
  assert.equal(r.token, r.minted[1]);
  for (const rows of r.rows) assert.deepEqual(rows, EXPECT.rows);
  assert.deepEqual(r.log.map((e) => [e.method, e.path, e.status, e.session]), [
    ['POST', `/v1/${SITE}/query`, 200, r.minted[0]],
    ['POST', `/v1/${SITE}/query`, 401, r.minted[0]],
    ['POST', `/v1/${SITE}/query`, 200, r.minted[1]],
  ], 'the client itself never called /token');
  await Promise.all(p.pending);
  const refused = p.gateway.filter((g) => g.status === 401);
  assert.equal(refused.length, 1);
  assert.equal(JSON.parse(refused[0].body.toString('utf8')).error.code, 'session_ended');
  await assertConsole(p, [httpStatusError(401)]);
});

test('errors of the gateway are ReadgateError with code, status and field', T, async () => {
  const p = await openPage(ALLOWED_PORT, '/pages/module.html');
  const r = await scenario(p, 'errors', ARGS);
  const want = (got, code, field) => {
    assert.ok(got.thrown, code + ' was raised');
    assert.equal(got.thrown.isReadgateError, true);
    assert.equal(got.thrown.name, 'ReadgateError');
    assert.equal(got.thrown.code, code);
    assert.equal(got.thrown.status, 400);
    assert.equal(got.thrown.field, field);
    assert.equal(got.thrown.retryAfter, null);
    assert.ok(got.thrown.message.length > 10);
  };
  want(r.unknownField, 'unknown_field', 'filters[0].field');
  assert.match(r.unknownField.thrown.message, /no_such_field_x/);
  want(r.unknownCollection, 'unknown_collection', 'collection');
  want(r.badLimit, 'invalid_limit', 'limit');
  assert.deepEqual(r.log.map((e) => e.status), [200, 400, 400, 400], 'no retry of a 400');
  await assertConsole(p, [httpStatusError(400, 3)]);
});

test('collections() and tools(): the ready-made tool definitions', T, async () => {
  const p = await openPage(ALLOWED_PORT, '/pages/module.html');
  const r = await scenario(p, 'collections', ARGS);
  const names = r.doc.collections.map((c) => c.name);
  assert.ok(names.includes(COLLECTION), names.join(','));
  assert.deepEqual(r.tools, r.doc.collections.map((c) => c.tool));
  const tool = r.tools[names.indexOf(COLLECTION)];
  assert.equal(tool.type, 'function');
  assert.equal(tool.function.name, 'query_' + COLLECTION.replace(/[^A-Za-z0-9_-]/g, '_'));
  assert.equal(tool.function.parameters.properties.collection.const, COLLECTION);
  assert.deepEqual(r.log.map((e) => [e.method, e.path, e.status]), [
    ['POST', `/v1/${SITE}/token`, 200],
    ['GET', `/v1/${SITE}/collections`, 200],
    ['GET', `/v1/${SITE}/collections`, 200],
  ]);
  await assertConsole(p);
});

test('the classic build (window.Readgate) works in the page', T, async () => {
  const p = await openPage(ALLOWED_PORT, '/pages/classic.html');
  const r = await scenario(p, 'classic', ARGS);
  assert.equal(r.error, undefined, JSON.stringify(r.error));
  assert.equal(r.module, 'function');
  assert.match(r.token, /^sst_/);
  assert.deepEqual(r.rows, EXPECT.rows);
  await assertConsole(p);
});

test('a page of a forbidden origin gets network_error (CORS refusal)', T, async () => {
  const p = await openPage(FORBIDDEN_PORT, '/pages/module.html');
  const r = await scenario(p, 'forbidden', ARGS);
  for (const got of [r.open, r.query]) {
    assert.ok(got.thrown, 'raised');
    assert.equal(got.thrown.isReadgateError, true);
    assert.equal(got.thrown.code, 'network_error');
    assert.equal(got.thrown.status, 0);
    assert.equal(got.thrown.retryAfter, null);
  }
  assert.equal(r.token, null);
  // Both attempts reached the gateway's token endpoint and failed in the browser.
  assert.deepEqual(r.log.map((e) => [e.method, e.path, e.status]),
    [['POST', `/v1/${SITE}/token`, undefined], ['POST', `/v1/${SITE}/token`, undefined]]);
  assert.ok(r.log.every((e) => /TypeError/.test(e.error)));
  await Promise.all(p.pending);
  assert.equal(p.gateway.length, 0, 'no answer reached the page');
  assert.equal(p.failed.length, 2, 'chromium failed both requests');
  for (const f of p.failed) {
    assert.equal(f.path, `/v1/${SITE}/token`);
    assert.equal(f.failure, 'net::ERR_FAILED');
  }
  // The gateway's side of it: this origin gets 404 widget_unavailable without
  // CORS headers, the allowed one 200 with them.
  for (const [origin, status] of [[FORBIDDEN_ORIGIN, 404], [ALLOWED_ORIGIN, 200]]) {
    const res = await fetch(`${GATEWAY}/v1/${SITE}/token`, { method: 'POST', headers: { origin } });
    assert.equal(res.status, status, origin);
    assert.equal(res.headers.get('access-control-allow-origin'), status === 200 ? origin : null);
    if (status === 404) assert.equal((await res.json()).error.code, 'widget_unavailable');
  }
  // It is CORS, not the page's CSP (which allows the gateway): chromium says so.
  assert.deepEqual(await p.page.evaluate(() => window.cspViolations), []);
  const cors = errorsOf(p).filter((m) => /blocked by CORS policy/.test(m.text) &&
    m.text.includes(FORBIDDEN_ORIGIN));
  assert.equal(cors.length, 2, JSON.stringify(p.console));
  assert.deepEqual(p.pageErrors, []);
});

test('the loader under a strict CSP fires readgate:ready; its client queries', T, async () => {
  const qs = new URLSearchParams({ site: SITE, gateway: GATEWAY, query: JSON.stringify(QUERY) });
  const p = await openPage(ALLOWED_PORT, '/pages/loader.html?' + qs);
  const policy = p.response.headers()['content-security-policy'];
  assert.equal(policy, csp(GATEWAY_ORIGIN));
  assert.match(policy, /script-src 'self'(;|$)/);
  assert.doesNotMatch(policy, /unsafe-inline|unsafe-eval|\*/);
  const outcome = await waitFor(p, () => window.loaderOutcome);
  assert.equal(outcome.event, 'ready', JSON.stringify(outcome));
  assert.deepEqual(await p.page.evaluate(() => window.loaderEvents), ['readgate:ready']);
  assert.equal(outcome.isClient, true);
  assert.equal(outcome.sameAsGlobal, true, 'window.readgate is the client');
  assert.match(outcome.sessionToken, /^sst_/);
  assert.deepEqual(outcome.rows, EXPECT.rows);
  assert.equal(await p.page.textContent('#status'), 'ready');
  assert.ok(servers[0].served.some((r) => r.path === '/clients/js/loader.js'));
  await Promise.all(p.pending);
  assert.deepEqual(p.gateway.map(strip), [
    { method: 'POST', path: `/v1/${SITE}/token`, status: 200 },
    { method: 'POST', path: `/v1/${SITE}/query`, status: 200 },
  ]);
  await assertConsole(p);
});

test('control: a CSP without the gateway blocks the loader, and the test sees it', T, async () => {
  const qs = new URLSearchParams({ site: SITE, gateway: GATEWAY, csp: 'nogateway' });
  const p = await openPage(ALLOWED_PORT, '/pages/loader.html?' + qs);
  assert.equal(p.response.headers()['content-security-policy'], csp(GATEWAY_ORIGIN, 'nogateway'));
  const outcome = await waitFor(p, () => window.loaderOutcome);
  assert.equal(outcome.event, 'error');
  assert.equal(outcome.error.isReadgateError, true);
  assert.equal(outcome.error.code, 'network_error');
  assert.equal(await p.page.evaluate(() => window.readgate), undefined);
  const violations = await p.page.evaluate(() => window.cspViolations);
  assert.equal(violations.length, 1, JSON.stringify(violations));
  assert.equal(violations[0].directive, 'connect-src');
  assert.ok(violations[0].blocked.startsWith(GATEWAY_ORIGIN), violations[0].blocked);
  assert.ok(errorsOf(p).some((m) => /Content Security Policy/.test(m.text)),
    'the CSP refusal is a console error: ' + JSON.stringify(p.console));
  await assert.rejects(assertConsole(p), 'assertConsole catches the violation');
  assert.equal(p.gateway.length, 0, 'nothing reached the gateway');
});

test('429: the client waits Retry-After (capped) and retries; exhausted retries raise rate_limited',
  { timeout: 180000 }, async (t) => {
    const { p, result: r } = await rateLimitRun;
    t.diagnostic('fill: ' + JSON.stringify(r.fill));
    for (const [name, log] of [['exhaust', r.exhaustLog], ['wait', r.waitLog]]) {
      t.diagnostic(name + ': ' + log.map((e, i) => (i ? '+' + (e.t - log[i - 1].t) + 'ms ' : '') +
        e.status + (e.retryAfter ? ' (Retry-After ' + e.retryAfter + ')' : '')).join(', '));
    }
    // 1. The window of 2 queries a minute: at most 2 admitted, then 429.
    const fill = r.fill;
    const admitted = fill.filter((f) => !f.error).length;
    assert.ok(admitted <= 2, 'at most 2 queries a minute: ' + JSON.stringify(fill));
    const refused = fill[fill.length - 1].error;
    assert.ok(refused, 'a 429 came: ' + JSON.stringify(fill));
    assert.equal(refused.code, 'rate_limited');
    assert.equal(refused.status, 429);
    assert.ok(Number.isInteger(refused.retryAfter) && refused.retryAfter >= 1 &&
      refused.retryAfter <= 60, 'Retry-After readable by the page: ' + refused.retryAfter);
    assert.equal(r.fillLog.filter((e) => e.path.endsWith('/query')).length, admitted + 1,
      'maxRetries 0: no retry');

    // 2. maxRetries 1, retryAfterCapS 1: two attempts one second apart, then the error.
    assert.ok(r.exhaust.thrown, 'raised after maxRetries: ' + JSON.stringify(r.exhaust));
    const ex = r.exhaust.thrown;
    assert.equal(ex.isReadgateError, true);
    assert.equal(ex.code, 'rate_limited');
    assert.equal(ex.status, 429);
    assert.ok(Number.isInteger(ex.retryAfter) && ex.retryAfter > 1, String(ex.retryAfter));
    assert.deepEqual(r.exhaustLog.map((e) => e.status), [429, 429]);
    const gap = r.exhaustLog[1].t - r.exhaustLog[0].t;
    assert.ok(gap >= 1000 && gap < 2500, 'waited the 1 s cap, not Retry-After: ' + gap + ' ms');

    // 3. Defaults (maxRetries 3, cap 30 s): every attempt but the last is a
    // 429, each wait is min(Retry-After, 30 s), and the query succeeds once the
    // window has room again.
    const w = r.waitLog;
    assert.ok(!r.wait.thrown, 'succeeded: ' + JSON.stringify(r.wait));
    assert.deepEqual(r.wait.rows, EXPECT.rows);
    assert.ok(w.length >= 2 && w.length <= 4, 'between 1 and 3 retries: ' + w.length);
    assert.equal(w[w.length - 1].status, 200);
    for (const e of w.slice(0, -1)) {
      assert.equal(e.status, 429);
      assert.match(e.retryAfter, /^[0-9]+$/);
    }
    for (let i = 1; i < w.length; i++) {
      const ra = Number(w[i - 1].retryAfter);
      const expected = Math.min(ra, 30) * 1000;
      const waited = w[i].t - w[i - 1].t;
      assert.ok(waited >= expected && waited < expected + 2500,
        `wait ${i}: ${waited} ms for Retry-After ${ra}`);
    }
    const ra0 = Number(w[0].retryAfter);
    if (ra0 > 30) assert.ok(w.length >= 3, 'Retry-After > 30 s: the capped wait is not enough');
    assert.ok(r.waitMs >= (ra0 - 1) * 1000, 'the query waited for the window: ' + r.waitMs);
    const statuses = w.map((e) => e.status);
    await assertConsole(p, [httpStatusError(429,
      1 + 2 + statuses.filter((s) => s === 429).length)]);
  });
