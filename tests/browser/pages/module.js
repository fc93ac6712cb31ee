// Scenarios of module.html, run by browser.test.mjs through page.evaluate:
// each resolves to plain JSON (errors included) for the test to check.
import { ReadgateClient, ReadgateError } from '/clients/js/readgate.mjs';

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function errorInfo(e) {
  return { isReadgateError: e instanceof ReadgateError, name: e.name, code: e.code,
    status: e.status, field: e.field, retryAfter: e.retryAfter, provider: e.provider,
    message: e.message };
}

/** A fetch that records every exchange the client makes. */
function recordingFetch(log) {
  return async (url, init = {}) => {
    const headers = init.headers || {};
    const entry = { url: String(url), path: new URL(url).pathname, method: init.method || 'GET',
      session: headers['X-Readgate-Session'] || null, t: Date.now() };
    log.push(entry);
    try {
      const res = await fetch(url, init);
      entry.status = res.status;
      entry.retryAfter = res.headers.get('Retry-After');
      return res;
    } catch (e) {
      entry.error = String(e);
      throw e;
    }
  };
}

function newClient(args, log, opts = {}) {
  return new ReadgateClient({ baseUrl: args.gateway, siteId: args.site,
    fetch: recordingFetch(log), ...opts });
}

async function capture(fn) {
  try {
    return await fn();
  } catch (e) {
    return { thrown: errorInfo(e) };
  }
}

window.scenarios = {
  async openAndQuery(args) {
    const log = [];
    const c = newClient(args, log);
    const info = await c.open();
    const page = await c.query(args.query);
    return { info, ai: c.ai, token: c.sessionToken, expiresAt: c.expiresAt, page, log,
      secureContext: window.isSecureContext };
  },

  async endAndReopen(args) {
    const log = [];
    const c = newClient(args, log);
    await c.open();
    const first = c.sessionToken;
    const ended = await c.end();
    const afterEnd = c.sessionToken;
    const page = await c.query(args.query);
    return { first, ended, afterEnd, second: c.sessionToken, rows: page.rows, log };
  },

  async paging(args) {
    const log = [];
    const c = newClient(args, log);
    const body = { ...args.query, limit: 2 };
    delete body.cursor;
    const all = await c.queryAll(body);
    const pages = [];
    for await (const p of c.pages(body)) pages.push(p);
    const capped = await c.queryAll(body, { maxPages: 1 });
    return { all, pages, capped, queries: log.filter((e) => e.path.endsWith('/query')).length };
  },

  async refresh(args) {
    const log = [];
    const c = newClient(args, log, { refreshMarginS: 58 });
    let sessionEvents = 0;
    c.addEventListener('session', () => { sessionEvents++; });
    const t0 = Date.now();
    const info = await c.open();
    const first = c.sessionToken;
    const p1 = await c.query(args.query);
    const afterFirst = c.sessionToken;
    const firstQueryAfterMs = Date.now() - t0;
    await sleep(args.waitMs);
    const p2 = await c.query(args.query);
    const second = c.sessionToken;
    const p3 = await c.query(args.query);
    return { info, first, afterFirst, second, third: c.sessionToken, firstQueryAfterMs,
      rows: [p1.rows, p2.rows, p3.rows], sessionEvents, log };
  },

  // Backend mode: session() hands over a token answer. The first session is
  // ended behind the client's back; its next query gets 401 session_ended,
  // asks session() for a new one and is sent again.
  async reopenAfter401(args) {
    const minted = [];
    const mint = async () => {
      const r = await fetch(args.gateway + '/v1/' + args.site + '/token',
        { method: 'POST', credentials: 'omit' });
      const answer = await r.json();
      minted.push(answer.session_token);
      return answer;
    };
    const firstAnswer = await mint();
    let sessionCalls = 0;
    const log = [];
    const c = newClient(args, log, { session: async () => {
      sessionCalls++;
      return sessionCalls === 1 ? firstAnswer : mint();
    } });
    const ender = newClient(args, [], { session: async () => firstAnswer });
    await ender.open();
    await c.open();
    const p1 = await c.query(args.query);
    const ended = await ender.end();
    const p2 = await c.query(args.query);
    return { minted, sessionCalls, ended, token: c.sessionToken, rows: [p1.rows, p2.rows], log };
  },

  async errors(args) {
    const log = [];
    const c = newClient(args, log);
    const unknownField = await capture(() => c.query({ collection: args.collection,
      filters: [{ field: 'no_such_field_x', op: 'eq', value: 1 }] }));
    const unknownCollection = await capture(() => c.query({ collection: 'no_such_collection_x' }));
    const badLimit = await capture(() => c.query({ collection: args.collection, limit: 0 }));
    return { unknownField, unknownCollection, badLimit, log };
  },

  async collections(args) {
    const log = [];
    const c = newClient(args, log);
    const doc = await c.collections();
    const tools = await c.tools();
    return { doc, tools, log };
  },

  // Against a site allowing 2 queries a minute.
  async rateLimit(args) {
    const result = { fill: [], exhaust: null, wait: null };
    // 1. Use up the window (a previous run may already have used some of it).
    const fillLog = [];
    const filler = newClient(args, fillLog, { maxRetries: 0 });
    for (let i = 0; i < 10; i++) {
      const r = await capture(() => filler.query(args.query));
      result.fill.push(r.thrown ? { error: r.thrown } : { rows: r.rows.length });
      if (r.thrown) break;
    }
    result.fillLog = fillLog;
    // 2. One retry with a 1 s cap: waits 1 s instead of Retry-After, then raises.
    const exhaustLog = [];
    const ex = newClient(args, exhaustLog, { maxRetries: 1, retryAfterCapS: 1 });
    await ex.open();
    let t0 = Date.now();
    result.exhaust = await capture(() => ex.query(args.query));
    result.exhaustMs = Date.now() - t0;
    result.exhaustLog = exhaustLog.filter((e) => e.path.endsWith('/query'));
    // 3. The defaults (maxRetries 3, Retry-After capped at 30 s): waits and succeeds.
    const waitLog = [];
    const w = newClient(args, waitLog);
    await w.open();
    t0 = Date.now();
    result.wait = await capture(() => w.query(args.query));
    result.waitMs = Date.now() - t0;
    result.waitLog = waitLog.filter((e) => e.path.endsWith('/query'));
    return result;
  },

  async forbidden(args) {
    const log = [];
    const c = newClient(args, log);
    const open = await capture(() => c.open());
    const query = await capture(() => c.query(args.query));
    return { open, query, token: c.sessionToken, log };
  },
};
document.getElementById('status').textContent = 'ready';
