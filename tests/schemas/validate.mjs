// The JSON Schemas of schemas/ against what readgate really accepts:
//  1. every example and test configuration (config/, tests/config/good) is
//     valid under its schema, with ajv (JSON Schema 2020-12);
//  2. the files readgate refuses for an unknown or misplaced key
//     (tests/config/bad/unknown_key, source_setting_in_options, ai_block) are
//     refused by the schema too, so an editor shows the same error;
//  3. the key lists of the C loaders (core/config/*.c) and the schemas name
//     the same keys, and every `limits` key has the schema's bounds and
//     default, so neither can gain a key the other lacks.
// Run with: node --test tests/schemas/validate.mjs
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, dirname, extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import Ajv2020 from 'ajv/dist/2020.js';
import YAML from 'yaml';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const schema = (name) => JSON.parse(readFileSync(join(repo, 'schemas', name), 'utf8'));
const ajv = new Ajv2020({ allErrors: true, strict: false });
const validateServer = ajv.compile(schema('readgate.schema.json'));
const validateSite = ajv.compile(schema('site.schema.json'));

function load(path) {
  const text = readFileSync(path, 'utf8');
  return extname(path) === '.json' ? JSON.parse(text) : YAML.parse(text);
}

function configs(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...configs(p));
    else if (/\.(ya?ml|json)$/.test(name)) out.push(p);
  }
  return out;
}

const isSite = (p) => /\/sites\/[^/]+$/.test(p);

function check(path) {
  const doc = load(path);
  const v = isSite(path) ? validateSite : validateServer;
  return v(doc) ? [] : v.errors.map((e) => `${e.instancePath || '/'} ${e.message} ${JSON.stringify(e.params)}`);
}

test('every example and good test configuration is valid under its schema', () => {
  const files = [...configs(join(repo, 'config')), ...configs(join(repo, 'tests', 'config', 'good'))];
  assert.ok(files.length >= 6, files.join(', '));
  let sites = 0;
  for (const f of files) {
    assert.deepEqual(check(f), [], f);
    sites += isSite(f) ? 1 : 0;
  }
  assert.ok(sites >= 4, 'site files were validated');
});

test('configurations readgate refuses for their keys are refused by the schemas', () => {
  for (const c of ['unknown_key', 'source_setting_in_options', 'ai_block']) {
    const dir = join(repo, 'tests', 'config', 'bad', c);
    const files = configs(dir);
    const refused = files.filter((f) => check(f).length > 0);
    assert.ok(refused.length > 0, `${c}: the schemas accept every file readgate refuses`);
  }
});

// ---- the C loaders' key lists --------------------------------------------------

const csrc = (f) => readFileSync(join(repo, 'core', 'config', f), 'utf8').replace(/\/\*[\s\S]*?\*\//g, '');

function cKeys(file, name) {
  const m = csrc(file).match(new RegExp(`static const char \\*const ${name}\\[\\] = \\{([^}]*)\\}`));
  assert.ok(m, `${name} in core/config/${file}`);
  return [...m[1].matchAll(/"([a-z_]+)"/g)].map((x) => x[1]).sort();
}

const props = (s) => Object.keys(s.properties ?? {}).sort();
const server = schema('readgate.schema.json');
const site = schema('site.schema.json');
const deref = (root, s) => (s && s.$ref ? s.$ref.replace('#/', '').split('/').reduce((o, k) => o[k], root) : s);

test('readgate.yaml: the loader and the schema name the same keys', () => {
  assert.deepEqual(props(server), cKeys('server_config.c', 'root_keys'));
  assert.deepEqual(props(deref(server, server.properties.keys)), cKeys('server_config.c', 'keys_keys'));
  assert.deepEqual(props(deref(server, server.properties.cache)), cKeys('server_config.c', 'cache_keys'));
});

test('limits: every key with the loader\'s bounds and default', () => {
  const table = csrc('server_config.c').match(/limit_defs\[\] = \{([\s\S]*?)\n\};/);
  assert.ok(table, 'limit_defs in server_config.c');
  const rows = [...table[1].matchAll(/\{"([a-z_]+)",\s*offsetof\([^)]*\),\s*L_[A-Z0-9]+,\s*(\d+),\s*(\d+),\s*(\d+)\}/g)];
  assert.ok(rows.length >= 15, `${rows.length} limits parsed`);
  const lim = deref(server, server.properties.limits).properties;
  assert.deepEqual(Object.keys(lim).sort(), rows.map((r) => r[1]).sort());
  for (const [, name, min, max, def] of rows) {
    assert.equal(lim[name].minimum, Number(min), `${name}: minimum`);
    assert.equal(lim[name].maximum, Number(max), `${name}: maximum`);
    assert.equal(lim[name].default, Number(def), `${name}: default`);
  }
});

test('rate_limits: the same routes in the loader and both schemas', () => {
  const routes = cKeys('ratelimit_config.c', 'route_keys');
  assert.deepEqual(props(deref(server, server.properties.rate_limits)), routes);
  assert.deepEqual(props(deref(site, site.properties.rate_limits)), routes);
});

test('site files: the loader and the schema name the same keys', () => {
  assert.deepEqual(props(site), cKeys('site_config.c', 'site_keys'));
  assert.deepEqual(props(deref(site, site.properties.ai)), cKeys('ai_config.c', 'ai_keys'));
  const source = deref(site, site.properties.sources.additionalProperties);
  assert.deepEqual(props(source), cKeys('site_config.c', 'source_keys'));
  const coll = deref(site, site.properties.collections.additionalProperties);
  assert.deepEqual(props(coll), cKeys('collection.c', 'collection_keys'));
});
