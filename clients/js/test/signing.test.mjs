// The JS signer against every shared vector of vectors.json (the C unit test
// reads the same file), and against an independent node:crypto computation.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createHash, createHmac } from 'node:crypto';
import { signRequest, stringToSign, sha256Hex, newNonce } from '../readgate.mjs';

const vectors = JSON.parse(readFileSync(new URL('./vectors.json', import.meta.url), 'utf8'));
const FIELDS = ['signing_secret', 'timestamp', 'nonce', 'method', 'path', 'body',
  'string_to_sign', 'signature'];

test('vectors.json has the agreed shape and the documented examples', () => {
  assert.ok(Array.isArray(vectors) && vectors.length >= 6);
  for (const v of vectors) {
    assert.deepEqual(Object.keys(v).sort(), [...FIELDS].sort());
    for (const f of FIELDS) assert.equal(typeof v[f], 'string', f);
    assert.match(v.signature, /^sha256=[0-9a-f]{64}$/);
    assert.match(v.nonce, /^[A-Za-z0-9_-]{16,64}$/);
    assert.match(v.timestamp, /^[0-9]{1,12}$/);
  }
  const sigs = vectors.map((v) => v.signature);
  // docs/http-api.md, "Worked example", and tests/unit/test_signature.c
  assert.ok(sigs.includes('sha256=480322ab917cbfe416dff288192df8c6341518adce68af70250f5f252f200356'));
  assert.ok(sigs.includes('sha256=b2457bcd48ccf7feb5a535fe41e93a74a1b81d923e0e7af2f3617f35e6062bac'));
  assert.ok(vectors.some((v) => v.method === 'DELETE' && v.body === ''));
  assert.ok(vectors.some((v) => /[^\x00-\x7f]/.test(v.body)), 'a non-ASCII body');
  assert.equal(new Set(sigs).size, sigs.length);
});

for (const [i, v] of vectors.entries()) {
  test(`vector ${i}: ${v.method} ${v.path} (${Buffer.byteLength(v.body)} body bytes)`, async () => {
    const bodyHex = await sha256Hex(v.body);
    assert.equal(bodyHex, createHash('sha256').update(v.body, 'utf8').digest('hex'));
    assert.equal(stringToSign(v.timestamp, v.nonce, v.method, v.path, bodyHex), v.string_to_sign);
    const args = { signingSecret: v.signing_secret, timestamp: v.timestamp, nonce: v.nonce,
      method: v.method, path: v.path };
    // the body as a string and as the exact bytes give the same signature
    for (const body of [v.body, new TextEncoder().encode(v.body)]) {
      const got = await signRequest({ ...args, body });
      assert.equal(got.stringToSign, v.string_to_sign);
      assert.equal(got.signature, v.signature);
    }
    // independent check of the vector itself
    assert.equal('sha256=' + createHmac('sha256', Buffer.from(v.signing_secret, 'utf8'))
      .update(v.string_to_sign, 'utf8').digest('hex'), v.signature);
    // any change of an input changes the signature
    for (const [k, changed] of [['signingSecret', v.signing_secret + 'x'],
      ['timestamp', String(Number(v.timestamp) + 1)], ['nonce', v.nonce.slice(1) + 'Z'],
      ['method', v.method === 'POST' ? 'GET' : 'POST'], ['path', v.path + 'x']]) {
      const other = await signRequest({ ...args, body: v.body, [k]: changed });
      assert.notEqual(other.signature, v.signature, k);
    }
    const otherBody = await signRequest({ ...args, body: v.body + ' ' });
    assert.notEqual(otherBody.signature, v.signature);
  });
}

test('the key is the secret string, not its base64url decoding', async () => {
  const v = vectors[0];
  const decoded = Buffer.from(v.signing_secret, 'base64url');
  const wrong = 'sha256=' + createHmac('sha256', decoded).update(v.string_to_sign).digest('hex');
  assert.notEqual(wrong, v.signature);
});

test('nonces are 32 characters of [A-Za-z0-9_-] and do not repeat', () => {
  const seen = new Set();
  for (let i = 0; i < 2000; i++) {
    const n = newNonce();
    assert.match(n, /^[A-Za-z0-9_-]{32}$/);
    seen.add(n);
  }
  assert.equal(seen.size, 2000);
});
