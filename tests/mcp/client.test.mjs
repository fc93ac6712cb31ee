// readgate's MCP endpoint driven by the official MCP TypeScript SDK client.
//
//   RG_MCP_URL=http://127.0.0.1:PORT/v1/SITE/mcp \
//   RG_MCP_BEARER=rgk_... \
//   RG_MCP_CASES=/path/cases.json \
//   node --test tests/mcp/client.test.mjs
//
// RG_MCP_CASES names a JSON file written by the harness that started readgate:
//
//   {"tools": ["describe_collections", "query_products", ...],
//    "calls":  [{"tool": ..., "arguments": {...}, "rows": [...]}],
//    "pages":  [{"tool": ..., "arguments": {..., "limit": 3}, "rows": [...]}],
//    "errors": [{"tool": ..., "arguments": {...}, "contains": "invalid_value"}],
//    "protocol_versions": ["2025-11-25", "2025-06-18", "2025-03-26"]}
//
// tools: the exact set of names tools/list must return. calls: the
// structuredContent.rows of one call must deep-equal rows. pages: call, then
// call again with the same arguments plus cursor = next_cursor until it is
// null; the rows of all pages in order must deep-equal rows. errors: the
// result must have isError true and a text containing `contains`.
// protocol_versions: the versions readgate speaks; each one is forced in turn.
// Every list must be present and non-empty, so that a harness bug can't turn
// a group of tests into a vacuous pass.
//
// readgate rate-limits MCP requests like /query; requests answered 429 are
// retried after Retry-After (bounded), so the suite does not depend on the
// harness's rate-limit windows. The number of retries is printed at the end.

import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import {
  StreamableHTTPClientTransport,
  StreamableHTTPError,
} from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ErrorCode, LATEST_PROTOCOL_VERSION, McpError } from '@modelcontextprotocol/sdk/types.js';

// ---------------------------------------------------------------- config

function requireEnv(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set (see the header of ${import.meta.url})`);
  return value;
}

const MCP_URL = requireEnv('RG_MCP_URL');
const BEARER = requireEnv('RG_MCP_BEARER');
const CASES_PATH = requireEnv('RG_MCP_CASES');
const CASES = loadCases(CASES_PATH);

function loadCases(path) {
  const cases = JSON.parse(readFileSync(path, 'utf8'));
  const fail = (msg) => {
    throw new Error(`${path}: ${msg}`);
  };
  if (cases === null || typeof cases !== 'object' || Array.isArray(cases)) fail('not a JSON object');
  for (const key of ['tools', 'calls', 'pages', 'errors', 'protocol_versions']) {
    if (!Array.isArray(cases[key]) || cases[key].length === 0) fail(`"${key}" must be a non-empty array`);
  }
  if (!cases.tools.every((t) => typeof t === 'string')) fail('"tools" must hold strings');
  if (!cases.protocol_versions.every((v) => typeof v === 'string')) fail('"protocol_versions" must hold strings');
  const checkCase = (group, c, i, extra) => {
    if (typeof c?.tool !== 'string') fail(`${group}[${i}].tool must be a string`);
    if (c.arguments === null || typeof c.arguments !== 'object' || Array.isArray(c.arguments)) {
      fail(`${group}[${i}].arguments must be an object`);
    }
    extra(c);
  };
  cases.calls.forEach((c, i) =>
    checkCase('calls', c, i, () => Array.isArray(c.rows) || fail(`calls[${i}].rows must be an array`)));
  cases.pages.forEach((c, i) =>
    checkCase('pages', c, i, () => {
      if (!Array.isArray(c.rows)) fail(`pages[${i}].rows must be an array`);
      if ('cursor' in c.arguments) fail(`pages[${i}].arguments must not hold a cursor`);
    }));
  cases.errors.forEach((c, i) =>
    checkCase('errors', c, i, () =>
      (typeof c.contains === 'string' && c.contains !== '') || fail(`errors[${i}].contains must be a non-empty string`)));
  return cases;
}

const QUERY_TOOLS = CASES.tools.filter((name) => name.startsWith('query_'));
const ANNOTATIONS = { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false };
const TEST_TIMEOUT = 60_000; // per test; a hang fails the test instead of the run
const REQUEST_TIMEOUT = 15_000; // per MCP request / raw fetch

// ---------------------------------------------------------------- helpers

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

let retried429 = 0;
const MAX_429_RETRIES = 10;
process.on('exit', () => {
  if (retried429) console.log(`readgate-mcp-tests: ${retried429} request(s) answered 429 (rate limit) were retried`);
});

// fetch that retries a 429 after its Retry-After (at most 5 s, at most
// MAX_429_RETRIES times); every other answer is returned as it is.
async function politeFetch(url, init) {
  for (let attempt = 0; ; attempt++) {
    const res = await fetch(url, init);
    if (res.status !== 429 || attempt >= MAX_429_RETRIES) return res;
    retried429++;
    const after = Number(res.headers.get('retry-after'));
    await res.body?.cancel();
    await sleep(Number.isFinite(after) && after > 0 ? Math.min(after * 1000, 5000) : 1000);
  }
}

function newClient(name = 'readgate-mcp-tests') {
  return new Client({ name, version: '0.0.0' });
}

function newTransport({ bearer = BEARER, fetchFn = politeFetch } = {}) {
  const headers = bearer === null ? {} : { Authorization: `Bearer ${bearer}` };
  return new StreamableHTTPClientTransport(new URL(MCP_URL), { requestInit: { headers }, fetch: fetchFn });
}

async function listAllTools(client) {
  const tools = [];
  let cursor;
  for (let i = 0; i < 50; i++) {
    const page = await client.listTools(cursor === undefined ? {} : { cursor }, { timeout: REQUEST_TIMEOUT });
    tools.push(...page.tools);
    cursor = page.nextCursor;
    if (cursor === undefined || cursor === null) return tools;
  }
  assert.fail('tools/list did not stop returning nextCursor after 50 pages');
}

// Checks the shape every successful query_ result must have and returns its
// structuredContent.
function assertQueryResult(result, what) {
  assert.notEqual(result.isError, true, `${what}: isError: ${JSON.stringify(result.content)}`);
  const sc = result.structuredContent;
  assert.ok(sc !== null && typeof sc === 'object', `${what}: no structuredContent`);
  assert.deepEqual(Object.keys(sc).sort(), ['next_cursor', 'rows'], `${what}: structuredContent keys`);
  assert.ok(Array.isArray(sc.rows), `${what}: rows is not an array`);
  assert.ok(sc.next_cursor === null || (typeof sc.next_cursor === 'string' && sc.next_cursor !== ''),
    `${what}: next_cursor must be null or a non-empty string, got ${JSON.stringify(sc.next_cursor)}`);
  assertTextMirrors(result, what);
  return sc;
}

// The result carries exactly one text item whose JSON equals structuredContent.
function assertTextMirrors(result, what) {
  assert.ok(Array.isArray(result.content), `${what}: content is not an array`);
  assert.equal(result.content.length, 1, `${what}: expected one content item`);
  assert.equal(result.content[0].type, 'text', `${what}: content[0].type`);
  let parsed;
  assert.doesNotThrow(() => { parsed = JSON.parse(result.content[0].text); }, `${what}: text is not JSON`);
  assert.deepEqual(parsed, result.structuredContent, `${what}: text content differs from structuredContent`);
}

function errorText(result) {
  return (result.content ?? []).filter((c) => c.type === 'text').map((c) => c.text).join('\n');
}

async function rawPost(message, { version, bearer = BEARER, headers = {} } = {}) {
  const h = {
    'Content-Type': 'application/json',
    Accept: 'application/json, text/event-stream',
    ...(bearer === null ? {} : { Authorization: `Bearer ${bearer}` }),
    ...(version === undefined ? {} : { 'MCP-Protocol-Version': version }),
    ...headers,
  };
  const res = await politeFetch(MCP_URL, {
    method: 'POST', headers: h, body: JSON.stringify(message), signal: AbortSignal.timeout(REQUEST_TIMEOUT),
  });
  const text = await res.text();
  let json;
  try { json = text === '' ? undefined : JSON.parse(text); } catch { json = undefined; }
  return { status: res.status, headers: res.headers, text, json };
}

function initializeMessage(id, protocolVersion) {
  return {
    jsonrpc: '2.0', id, method: 'initialize',
    params: { protocolVersion, capabilities: {}, clientInfo: { name: 'readgate-mcp-tests-raw', version: '0.0.0' } },
  };
}

// ---------------------------------------------------------------- tests

describe('readgate MCP endpoint (SDK client)', { timeout: 10 * TEST_TIMEOUT }, () => {
  let client;
  let transport;
  let tools; // tools/list of the shared client; also primes the SDK's outputSchema validators

  before(async () => {
    client = newClient();
    transport = newTransport();
    await client.connect(transport, { timeout: REQUEST_TIMEOUT });
    tools = await listAllTools(client);
  });

  after(async () => {
    await client?.close();
  });

  test('initialize: server info, capabilities and negotiated version', { timeout: TEST_TIMEOUT }, () => {
    const info = client.getServerVersion();
    assert.equal(info?.name, 'readgate');
    assert.equal(typeof info.version, 'string');
    assert.ok(client.getServerCapabilities()?.tools, 'capabilities.tools missing');
    const negotiated = transport.protocolVersion;
    assert.ok(CASES.protocol_versions.includes(negotiated),
      `negotiated ${negotiated}, not one of ${CASES.protocol_versions.join(', ')}`);
    if (CASES.protocol_versions.includes(LATEST_PROTOCOL_VERSION)) {
      assert.equal(negotiated, LATEST_PROTOCOL_VERSION, 'the SDK asks for its latest version, which readgate speaks');
    }
    assert.equal(transport.sessionId, undefined, 'readgate is stateless: no Mcp-Session-Id');
  });

  test('tools/list returns exactly the expected tools', { timeout: TEST_TIMEOUT }, () => {
    const names = tools.map((t) => t.name);
    assert.equal(new Set(names).size, names.length, `duplicate tool names: ${names.join(', ')}`);
    assert.deepEqual([...names].sort(), [...CASES.tools].sort());
  });

  test('every tool is annotated read-only, non-destructive, idempotent, closed-world', { timeout: TEST_TIMEOUT }, () => {
    assert.ok(tools.length > 0);
    for (const tool of tools) {
      assert.ok(tool.annotations, `${tool.name}: no annotations`);
      for (const [key, value] of Object.entries(ANNOTATIONS)) {
        assert.equal(tool.annotations[key], value, `${tool.name}: annotations.${key}`);
      }
    }
  });

  test('query_ tools: inputSchema without collection, outputSchema rows/next_cursor', { timeout: TEST_TIMEOUT }, () => {
    assert.ok(QUERY_TOOLS.length > 0, 'the cases name no query_ tool');
    for (const name of QUERY_TOOLS) {
      const tool = tools.find((t) => t.name === name);
      assert.ok(tool, `${name} not listed`);
      assert.equal(typeof tool.description, 'string', `${name}: description`);
      const input = tool.inputSchema;
      assert.equal(input?.type, 'object', `${name}: inputSchema.type`);
      assert.ok(input.properties && typeof input.properties === 'object', `${name}: inputSchema.properties`);
      assert.ok(!Object.hasOwn(input.properties, 'collection'), `${name}: inputSchema has a collection property`);
      assert.ok(!(input.required ?? []).includes('collection'), `${name}: inputSchema requires collection`);
      // filters, search, sort and fields exist only when the collection has
      // such fields; limit and cursor always do, and nothing else may.
      const allowed = ['filters', 'search', 'sort', 'fields', 'limit', 'cursor'];
      for (const prop of Object.keys(input.properties)) {
        assert.ok(allowed.includes(prop), `${name}: unexpected input property ${prop}`);
      }
      for (const prop of ['limit', 'cursor']) {
        assert.ok(Object.hasOwn(input.properties, prop), `${name}: inputSchema lacks ${prop}`);
      }
      assert.equal(input.additionalProperties, false, `${name}: inputSchema allows more properties`);
      const output = tool.outputSchema;
      assert.equal(output?.type, 'object', `${name}: outputSchema.type`);
      assert.equal(output.properties?.rows?.type, 'array', `${name}: outputSchema rows`);
      assert.ok(output.properties?.next_cursor, `${name}: outputSchema next_cursor`);
      assert.deepEqual([...(output.required ?? [])].sort(), ['next_cursor', 'rows'], `${name}: outputSchema.required`);
    }
  });

  test('describe_collections takes no arguments', { timeout: TEST_TIMEOUT }, () => {
    const tool = tools.find((t) => t.name === 'describe_collections');
    assert.ok(tool, 'describe_collections not listed');
    assert.equal(tool.inputSchema?.type, 'object');
    assert.deepEqual(Object.keys(tool.inputSchema.properties ?? {}), []);
    assert.deepEqual(tool.inputSchema.required ?? [], []);
  });

  for (const [i, c] of CASES.calls.entries()) {
    test(`call ${i}: ${c.tool} ${JSON.stringify(c.arguments)}`, { timeout: TEST_TIMEOUT }, async () => {
      const result = await client.callTool({ name: c.tool, arguments: c.arguments }, undefined, { timeout: REQUEST_TIMEOUT });
      const sc = assertQueryResult(result, `calls[${i}]`);
      assert.deepEqual(sc.rows, c.rows);
    });
  }

  for (const [i, c] of CASES.pages.entries()) {
    test(`pages ${i}: ${c.tool} ${JSON.stringify(c.arguments)}`, { timeout: TEST_TIMEOUT }, async () => {
      const limit = c.arguments.limit;
      // Each page but possibly the last holds at least one row, so more pages
      // than this means the cursor does not advance.
      const maxPages = c.rows.length + 2;
      const rows = [];
      const cursors = new Set();
      let args = { ...c.arguments };
      let pages = 0;
      for (;;) {
        pages++;
        assert.ok(pages <= maxPages, `more than ${maxPages} pages for ${c.rows.length} rows`);
        const result = await client.callTool({ name: c.tool, arguments: args }, undefined, { timeout: REQUEST_TIMEOUT });
        const sc = assertQueryResult(result, `pages[${i}] page ${pages}`);
        if (Number.isInteger(limit)) {
          assert.ok(sc.rows.length <= limit, `page ${pages} has ${sc.rows.length} rows, limit ${limit}`);
        }
        rows.push(...sc.rows);
        if (sc.next_cursor === null) break;
        assert.ok(!cursors.has(sc.next_cursor), `page ${pages} repeats an earlier next_cursor`);
        cursors.add(sc.next_cursor);
        args = { ...c.arguments, cursor: sc.next_cursor };
      }
      if (Number.isInteger(limit) && c.rows.length > limit) {
        assert.ok(pages > 1, `expected more than one page for ${c.rows.length} rows at limit ${limit}`);
      }
      assert.deepEqual(rows, c.rows);
    });
  }

  for (const [i, c] of CASES.errors.entries()) {
    test(`error ${i}: ${c.tool} ${JSON.stringify(c.arguments)} -> ${c.contains}`, { timeout: TEST_TIMEOUT }, async () => {
      const result = await client.callTool({ name: c.tool, arguments: c.arguments }, undefined, { timeout: REQUEST_TIMEOUT });
      assert.equal(result.isError, true, `isError; result: ${JSON.stringify(result)}`);
      const text = errorText(result);
      assert.ok(text.includes(c.contains), `error text ${JSON.stringify(text)} lacks ${JSON.stringify(c.contains)}`);
    });
  }

  test('describe_collections returns the collections of the query_ tools', { timeout: TEST_TIMEOUT }, async () => {
    const result = await client.callTool({ name: 'describe_collections', arguments: {} }, undefined, { timeout: REQUEST_TIMEOUT });
    assert.notEqual(result.isError, true, JSON.stringify(result.content));
    const sc = result.structuredContent;
    assert.ok(sc && Array.isArray(sc.collections), `structuredContent.collections is not an array: ${JSON.stringify(sc)}`);
    assertTextMirrors(result, 'describe_collections');
    const names = sc.collections.map((col) => col?.name);
    assert.deepEqual(names.map((n) => `query_${n}`).sort(), [...QUERY_TOOLS].sort());
    for (const col of sc.collections) {
      assert.ok(Array.isArray(col.fields) && col.fields.length > 0, `collection ${col.name}: fields`);
    }
  });

  test('an unknown tool is JSON-RPC error -32602 (McpError)', { timeout: TEST_TIMEOUT }, async () => {
    await assert.rejects(
      client.callTool({ name: 'query_no_such_collection_xyz', arguments: {} }, undefined, { timeout: REQUEST_TIMEOUT }),
      (err) => {
        assert.ok(err instanceof McpError, `not an McpError: ${err}`);
        assert.equal(err.code, ErrorCode.InvalidParams);
        assert.equal(err.code, -32602);
        return true;
      },
    );
  });

  test('an unknown method is JSON-RPC error -32601 (McpError)', { timeout: TEST_TIMEOUT }, async () => {
    // readgate declares no prompts capability; the SDK still sends the request
    // (enforceStrictCapabilities is off by default).
    await assert.rejects(client.listPrompts({}, { timeout: REQUEST_TIMEOUT }), (err) => {
      assert.ok(err instanceof McpError, `not an McpError: ${err}`);
      assert.equal(err.code, ErrorCode.MethodNotFound);
      assert.equal(err.code, -32601);
      return true;
    });
  });

  test('ping resolves with an empty result', { timeout: TEST_TIMEOUT }, async () => {
    assert.deepEqual(await client.ping({ timeout: REQUEST_TIMEOUT }), {});
  });
});

describe('readgate MCP endpoint: refused bearers', { timeout: 4 * TEST_TIMEOUT }, () => {
  // Without an authProvider the SDK (1.32.x) does no OAuth discovery on 401:
  // StreamableHTTPClientTransport.send throws StreamableHTTPError(401, ...)
  // with the response body in the message, and connect() closes the client.
  for (const [label, bearer] of [
    ['a wrong bearer', 'rgk_thisisnotakey0000000000000000'],
    ['no bearer', null],
  ]) {
    test(`a client with ${label} fails to connect with 401`, { timeout: TEST_TIMEOUT }, async () => {
      const bad = newClient('readgate-mcp-tests-unauthorized');
      const badTransport = newTransport({ bearer });
      let timer;
      const deadline = new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error('connect neither resolved nor rejected in 20 s')), 20_000);
      });
      try {
        await assert.rejects(
          Promise.race([bad.connect(badTransport, { timeout: REQUEST_TIMEOUT }), deadline]),
          (err) => {
            assert.ok(err instanceof StreamableHTTPError, `not a StreamableHTTPError: ${err?.stack ?? err}`);
            assert.equal(err.code, 401);
            assert.match(err.message, /mcp_unauthorized/);
            return true;
          },
        );
        assert.equal(bad.getServerVersion(), undefined, 'no initialize result may have been accepted');
      } finally {
        clearTimeout(timer);
        await bad.close();
      }
    });
  }
});

describe('readgate MCP endpoint: protocol versions', { timeout: 10 * TEST_TIMEOUT }, () => {
  for (const version of CASES.protocol_versions) {
    test(`raw HTTP at ${version}: initialize, initialized, tools/list`, { timeout: TEST_TIMEOUT }, async () => {
      const init = await rawPost(initializeMessage(1, version), { version });
      assert.equal(init.status, 200, init.text);
      assert.match(init.headers.get('content-type') ?? '', /^application\/json\b/);
      assert.equal(init.headers.get('mcp-session-id'), null, 'readgate is stateless');
      assert.equal(init.json?.jsonrpc, '2.0');
      assert.equal(init.json?.id, 1);
      assert.equal(init.json?.result?.protocolVersion, version, init.text);
      assert.equal(init.json.result.serverInfo?.name, 'readgate');

      const note = await rawPost({ jsonrpc: '2.0', method: 'notifications/initialized' }, { version });
      assert.equal(note.status, 202, note.text);
      assert.equal(note.text, '');

      const list = await rawPost({ jsonrpc: '2.0', id: 2, method: 'tools/list' }, { version });
      assert.equal(list.status, 200, list.text);
      assert.equal(list.json?.id, 2);
      assert.deepEqual(list.json?.result?.tools?.map((t) => t.name).sort(), [...CASES.tools].sort());
    });

    test(`SDK client forced to ${version}: negotiates it and calls a tool`, { timeout: TEST_TIMEOUT }, async () => {
      // Client.connect always offers LATEST_PROTOCOL_VERSION; this fetch
      // rewrites the offered version of the initialize request to `version`
      // and records the MCP-Protocol-Version header of every later POST.
      const sentVersions = [];
      const forcingFetch = async (url, reqInit) => {
        let init = reqInit;
        if (init?.method === 'POST' && typeof init.body === 'string') {
          const msg = JSON.parse(init.body);
          if (msg.method === 'initialize') {
            init = { ...init, body: JSON.stringify({ ...msg, params: { ...msg.params, protocolVersion: version } }) };
          } else {
            sentVersions.push(new Headers(init.headers).get('mcp-protocol-version'));
          }
        }
        return politeFetch(url, init);
      };
      const forced = newClient(`readgate-mcp-tests-${version}`);
      const forcedTransport = newTransport({ fetchFn: forcingFetch });
      try {
        await forced.connect(forcedTransport, { timeout: REQUEST_TIMEOUT });
        assert.equal(forcedTransport.protocolVersion, version);
        assert.equal(forced.getServerVersion()?.name, 'readgate');
        const listed = await listAllTools(forced);
        assert.deepEqual(listed.map((t) => t.name).sort(), [...CASES.tools].sort());
        const c = CASES.calls[0];
        const result = await forced.callTool({ name: c.tool, arguments: c.arguments }, undefined, { timeout: REQUEST_TIMEOUT });
        assert.deepEqual(assertQueryResult(result, `calls[0] at ${version}`).rows, c.rows);
        assert.ok(sentVersions.length >= 3, `expected initialized, tools/list and tools/call, saw ${sentVersions.length} POSTs`);
        assert.deepEqual([...new Set(sentVersions)], [version], 'MCP-Protocol-Version of the requests after initialize');
      } finally {
        await forced.close();
      }
    });
  }

  test('initialize offering an unknown version answers a supported one', { timeout: TEST_TIMEOUT }, async () => {
    const res = await rawPost(initializeMessage(1, '2024-01-01'));
    assert.equal(res.status, 200, res.text);
    assert.ok(CASES.protocol_versions.includes(res.json?.result?.protocolVersion), res.text);
  });

  test('an unsupported MCP-Protocol-Version header is refused with 400', { timeout: TEST_TIMEOUT }, async () => {
    const res = await rawPost({ jsonrpc: '2.0', id: 1, method: 'ping' }, { version: '1999-01-01' });
    assert.equal(res.status, 400, res.text);
    assert.equal(res.json?.error?.code, 'unsupported_protocol_version', res.text);
  });

  test('GET and DELETE answer 405 with Allow: POST (no SSE stream)', { timeout: TEST_TIMEOUT }, async () => {
    for (const method of ['GET', 'DELETE']) {
      const res = await politeFetch(MCP_URL, {
        method,
        headers: { Authorization: `Bearer ${BEARER}`, Accept: 'text/event-stream' },
        signal: AbortSignal.timeout(REQUEST_TIMEOUT),
      });
      await res.body?.cancel();
      assert.equal(res.status, 405, method);
      assert.equal(res.headers.get('allow'), 'POST', method);
    }
  });
});
