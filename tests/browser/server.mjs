// A small static server for the browser tests: the client files of
// clients/js and the test pages of pages/, with a strict Content-Security-
// Policy on every page. No inline script or style anywhere.
import http from 'node:http';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const HERE = dirname(fileURLToPath(import.meta.url));
const CLIENT_DIR = join(HERE, '..', '..', 'clients', 'js');
const PAGES_DIR = join(HERE, 'pages');

const CLIENT_FILES = new Set(['readgate.mjs', 'readgate.js', 'loader.js']);
const TYPES = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8' };

/** The page policy: only this origin's scripts, fetches to the gateway only. */
export function csp(gatewayOrigin, variant = 'strict') {
  const connect = variant === 'nogateway' ? "'self'" : gatewayOrigin;
  return [
    "default-src 'none'",
    "script-src 'self'",
    'connect-src ' + connect,
    "img-src 'self'",
    "style-src 'self'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
    "require-trusted-types-for 'script'",
    "trusted-types 'none'",
  ].join('; ');
}

const escapeHtml = (s) => String(s).replace(/[&<>"']/g,
  (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);

export function startStaticServer({ port, gatewayOrigin, host = '127.0.0.1' }) {
  const served = [];
  const server = http.createServer(async (req, res) => {
    const url = new URL(req.url, 'http://' + (req.headers.host || 'localhost'));
    served.push({ method: req.method, path: url.pathname });
    const headers = { 'Cache-Control': 'no-store', 'X-Content-Type-Options': 'nosniff' };
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { ...headers, Allow: 'GET, HEAD' });
      return res.end();
    }
    if (url.pathname === '/favicon.ico') {
      res.writeHead(204, headers);
      return res.end();
    }
    let file = null;
    let m;
    if ((m = /^\/clients\/js\/([a-z.]+)$/.exec(url.pathname)) && CLIENT_FILES.has(m[1])) {
      file = join(CLIENT_DIR, m[1]);
    } else if ((m = /^\/pages\/([a-z0-9-]+\.(?:html|js))$/.exec(url.pathname))) {
      file = join(PAGES_DIR, m[1]);
    }
    let body;
    try {
      if (!file) throw new Error('not found');
      body = await readFile(file);
    } catch (e) {
      res.writeHead(404, { ...headers, 'Content-Type': 'text/plain; charset=utf-8' });
      return res.end('not found');
    }
    const ext = file.slice(file.lastIndexOf('.'));
    headers['Content-Type'] = TYPES[ext];
    if (ext === '.html') {
      headers['Content-Security-Policy'] = csp(gatewayOrigin, url.searchParams.get('csp') || 'strict');
      // {{name}} is replaced by the HTML-escaped query parameter `name`
      body = Buffer.from(body.toString('utf8').replace(/\{\{([a-z]+)\}\}/g,
        (_, k) => escapeHtml(url.searchParams.get(k) || '')));
    }
    res.writeHead(200, headers);
    res.end(req.method === 'HEAD' ? undefined : body);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve({ server, served, close: () => new Promise((r) => server.close(() => r())) });
    });
  });
}
