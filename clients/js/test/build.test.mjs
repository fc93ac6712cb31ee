// The classic builds (readgate.js, loader.js) are generated from readgate.mjs
// by build.mjs: they must be up to date and must work as classic scripts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import vm from 'node:vm';
import { generate, transform } from '../build.mjs';

const dir = new URL('../', import.meta.url);
const read = (name) => readFileSync(new URL(name, dir), 'utf8');
const vectors = JSON.parse(read('test/vectors.json'));

test('readgate.js and loader.js are up to date with readgate.mjs', () => {
  const out = generate();
  assert.deepEqual(Object.keys(out).sort(), ['loader.js', 'readgate.js']);
  for (const [name, text] of Object.entries(out)) {
    assert.ok(read(name) === text, `${name} is stale: run node clients/js/build.mjs`);
  }
  // the CLI's --check agrees (exit status 0)
  execFileSync(process.execPath, [new URL('build.mjs', dir).pathname, '--check']);
});

test('the build refuses what it cannot convert', () => {
  assert.throws(() => transform("import x from './x.mjs';\nexport const A = 1;\n"), /import/);
  assert.throws(() => transform('const A = 1;\nexport { A };\n'), /export/);
  assert.throws(() => transform('export default 1;\n'), /export/);
  assert.deepEqual(transform('export const A = 1;\nexport async function f() {}\n').names, ['A', 'f']);
});

test('no eval or Function() in the generated files', () => {
  for (const name of ['readgate.mjs', 'readgate.js', 'loader.js']) {
    const src = read(name);
    assert.doesNotMatch(src, /\beval\s*\(|\bnew\s+Function\b|\bFunction\s*\(|innerHTML|document\.write|setAttribute\s*\(\s*['"]style/, name);
  }
});

function context(extra = {}) {
  const ctx = { crypto: globalThis.crypto, TextEncoder, TextDecoder, EventTarget, Event,
    CustomEvent, URL, Headers, Response, setTimeout, clearTimeout, AbortController, ...extra };
  ctx.globalThis = ctx;
  ctx.window = ctx;
  vm.createContext(ctx);
  return ctx;
}

test('readgate.js defines window.Readgate as a classic script', async () => {
  const ctx = context();
  vm.runInContext(read('readgate.js'), ctx, { filename: 'readgate.js' });
  const R = ctx.Readgate;
  assert.deepEqual(Object.keys(R).sort(), ['newNonce', 'ReadgateClient', 'ReadgateError',
    'sha256Hex', 'signRequest', 'startLoader', 'stringToSign', 'VERSION'].sort());
  for (const v of vectors) {
    const got = await R.signRequest({ signingSecret: v.signing_secret, timestamp: v.timestamp,
      nonce: v.nonce, method: v.method, path: v.path, body: v.body });
    assert.equal(got.signature, v.signature);
  }
  assert.equal(ctx.readgate, undefined, 'readgate.js does not start the loader');
});

function fakeDocument(dataset) {
  const document = new EventTarget();
  document.currentScript = { dataset };
  return document;
}

test('loader.js reads its script tag, opens a session and fires readgate:ready', async () => {
  const calls = [];
  const fetch = async (url, init) => {
    calls.push({ url, init });
    return new Response(JSON.stringify({ session_token: 'sst_abc', signing_secret: 's',
      expires_in: 600, expires_at: 2000000000 }), { status: 200 });
  };
  const document = fakeDocument({ siteId: 'demo0001', gateway: 'https://gw.example.com/' });
  const ctx = context({ fetch, document });
  const ready = new Promise((resolve) => document.addEventListener('readgate:ready', resolve));
  vm.runInContext(read('loader.js'), ctx, { filename: 'loader.js' });
  // dataset changes after the script started are not seen
  document.currentScript = null;
  const ev = await ready;
  assert.equal(calls.length, 1);
  assert.equal(calls[0].url, 'https://gw.example.com/v1/demo0001/token');
  assert.equal(calls[0].init.method, 'POST');
  assert.equal(ctx.readgate, ev.detail.client);
  assert.equal(ctx.readgate.sessionToken, 'sst_abc');
  assert.ok(ctx.readgate instanceof ctx.Readgate.ReadgateClient);
});

test('loader.js fires readgate:error on a refused session or a missing attribute', async () => {
  const fetch = async () => new Response(JSON.stringify(
    { error: { code: 'widget_unavailable', message: 'widget unavailable' } }), { status: 404 });
  const document = fakeDocument({ siteId: 'demo0001', gateway: 'https://gw.example.com' });
  const ctx = context({ fetch, document });
  const failed = new Promise((resolve) => document.addEventListener('readgate:error', resolve));
  vm.runInContext(read('loader.js'), ctx);
  const ev = await failed;
  assert.equal(ev.detail.error.code, 'widget_unavailable');
  assert.equal(ctx.readgate, undefined);
  assert.equal(ctx.readgateError, ev.detail.error);

  const doc2 = fakeDocument({ siteId: 'demo0001' }); // no data-gateway
  const ctx2 = context({ fetch: async () => { throw new Error('not called'); }, document: doc2 });
  const failed2 = new Promise((resolve) => doc2.addEventListener('readgate:error', resolve));
  vm.runInContext(read('loader.js'), ctx2);
  const ev2 = await failed2;
  assert.equal(ev2.detail.error.code, 'invalid_config');
  assert.match(ev2.detail.error.message, /data-gateway/);
});
