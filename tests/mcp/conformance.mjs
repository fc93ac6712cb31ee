// Runs server scenarios of @modelcontextprotocol/conformance against readgate.
//
// The conformance CLI (`conformance server --url URL`) takes no option for
// request headers: its scenarios connect with a bare
// StreamableHTTPClientTransport(new URL(url)) or plain fetch(). readgate
// refuses every MCP request without a bearer (401), so this script puts a
// small reverse proxy on 127.0.0.1 in front of RG_MCP_URL that adds
// `Authorization: Bearer $RG_MCP_BEARER` to requests that carry none, and
// points the CLI at the proxy. Everything else (method, path, other headers
// including Host and Origin, body, status, response headers) is passed
// through unchanged.
//
//   RG_MCP_URL=... RG_MCP_BEARER=... node conformance.mjs [scenario ...]
//
// Without scenario arguments it runs RG_MCP_CONFORMANCE_SCENARIOS (space or
// comma separated) or DEFAULT_SCENARIOS. Exit status: 0 when every scenario
// passed, else 1.
import http from 'node:http';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

// Scenarios that apply to any MCP server exposing tools; the others of the
// suite call the fixed tools/prompts/resources of the SDKs' "everything"
// test server (test_simple_text, ...) or need sessions, SSE, logging,
// completions, sampling or elicitation, none of which readgate has.
export const DEFAULT_SCENARIOS = ['server-initialize', 'ping', 'tools-list', 'dns-rebinding-protection'];

const here = path.dirname(fileURLToPath(import.meta.url));

function need(name) {
  const v = process.env[name];
  if (!v) {
    console.error(`conformance.mjs: ${name} is not set`);
    process.exit(2);
  }
  return v;
}

export function startAuthProxy(targetUrl, bearer) {
  const target = new URL(targetUrl);
  const server = http.createServer((req, res) => {
    const headers = { ...req.headers };
    if (!headers.authorization) headers.authorization = `Bearer ${bearer}`;
    const up = http.request(
      { host: target.hostname, port: target.port || 80, method: req.method, path: req.url, headers },
      (upRes) => {
        res.writeHead(upRes.statusCode ?? 502, upRes.headers);
        upRes.pipe(res);
      },
    );
    up.on('error', (err) => {
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
      res.end(`proxy error: ${err.message}`);
    });
    req.pipe(up);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      const url = new URL(target.pathname + target.search, `http://127.0.0.1:${port}`);
      resolve({ server, url: url.toString() });
    });
  });
}

async function main() {
  const targetUrl = need('RG_MCP_URL');
  const bearer = need('RG_MCP_BEARER');
  if (new URL(targetUrl).protocol !== 'http:') {
    console.error('conformance.mjs: RG_MCP_URL must be a plain http:// URL (the proxy forwards over HTTP)');
    process.exit(2);
  }
  let scenarios = process.argv.slice(2);
  if (scenarios.length === 0 && process.env.RG_MCP_CONFORMANCE_SCENARIOS) {
    scenarios = process.env.RG_MCP_CONFORMANCE_SCENARIOS.split(/[\s,]+/).filter(Boolean);
  }
  if (scenarios.length === 0) scenarios = DEFAULT_SCENARIOS;

  const { server, url } = await startAuthProxy(targetUrl, bearer);
  const cli = path.join(here, 'node_modules', '@modelcontextprotocol', 'conformance', 'dist', 'index.js');
  const failed = [];
  try {
    for (const scenario of scenarios) {
      console.log(`# conformance server --scenario ${scenario} --url ${url}`);
      const code = await new Promise((resolve) => {
        const child = spawn(process.execPath, [cli, 'server', '--url', url, '--scenario', scenario], {
          stdio: 'inherit',
          env: process.env,
        });
        const timer = setTimeout(() => child.kill('SIGTERM'), 60_000);
        child.on('exit', (c, sig) => {
          clearTimeout(timer);
          resolve(c ?? (sig ? 128 : 1));
        });
      });
      if (code !== 0) failed.push(`${scenario} (exit ${code})`);
    }
  } finally {
    server.close();
  }
  const passed = scenarios.length - failed.length;
  if (failed.length) console.log(`# failed scenarios: ${failed.join(', ')}`);
  console.log(`conformance: ${passed} passed, ${failed.length} failed`);
  process.exit(failed.length ? 1 : 0);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await main();
}
