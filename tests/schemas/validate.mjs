// The JSON Schemas of schemas/ against what readgate really accepts:
//  1. the schemas and the key tables of docs/configuration.md are exactly
//     what the configuration key tables (core/config/keys_*.c) print
//     (scripts/gen-config-docs.sh --check, with the readgate binary of
//     $RG_BUILD_DIR, else build/);
//  2. every example and test configuration (config/, tests/config/good) is
//     valid under its schema, with ajv (JSON Schema 2020-12);
//  3. every key readgate refuses as unknown, misplaced or missing in
//     tests/config/bad/*/expected is refused by the schema too, for that
//     key, so an editor shows the same error;
//  4. the valid configurations use every key of the schemas (so ajv shows
//     that the schemas accept a value readgate accepts for each);
//  5. the shipped example readgate.yaml states the schema's defaults.
// Run with: node --test tests/schemas/validate.mjs
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join, dirname, extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import Ajv2020 from 'ajv/dist/2020.js';
import YAML from 'yaml';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const schema = (name) => JSON.parse(readFileSync(join(repo, 'schemas', name), 'utf8'));
const ajv = new Ajv2020({ allErrors: true, strict: false });
const serverSchema = schema('readgate.schema.json');
const validateServer = ajv.compile(serverSchema);
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

function errors(path) {
  const v = isSite(path) ? validateSite : validateServer;
  return v(load(path)) ? [] : v.errors;
}

const show = (errs) => errs.map((e) => `${e.instancePath || '/'} ${e.message} ${JSON.stringify(e.params)}`);

test('the schemas and the documented key tables are generated from the key tables', () => {
  const build = process.env.RG_BUILD_DIR || join(repo, 'build');
  const readgate = join(build, 'readgate');
  assert.ok(existsSync(readgate), `no readgate binary at ${readgate}: build it or set RG_BUILD_DIR`);
  const r = spawnSync('sh', [join(repo, 'scripts', 'gen-config-docs.sh'), '--check', readgate], {
    encoding: 'utf8',
  });
  assert.equal(r.status, 0, r.stderr || r.stdout);
});

test('every example and good test configuration is valid under its schema', () => {
  const files = [...configs(join(repo, 'config')), ...configs(join(repo, 'tests', 'config', 'good'))];
  assert.ok(files.length >= 6, files.join(', '));
  let sites = 0;
  for (const f of files) {
    assert.deepEqual(show(errors(f)), [], f);
    sites += isSite(f) ? 1 : 0;
  }
  assert.ok(sites >= 4, 'site files were validated');
});

// What the schema says for a key readgate refuses: the same key named.
const refusals = [
  {
    re: /unknown key '([^']+)'/,
    match: (e, key) => e.keyword === 'additionalProperties' && e.params.additionalProperty === key,
  },
  {
    re: /options\.([A-Za-z0-9_]+): '[^']+' is a source setting/,
    match: (e, key) => e.keyword === 'propertyNames' && e.params.propertyName === key,
  },
  {
    re: /missing required key '([^']+)'/,
    match: (e, key) => e.keyword === 'required' && e.params.missingProperty === key,
  },
];

test('keys readgate refuses are refused by the schemas too', () => {
  const bad = join(repo, 'tests', 'config', 'bad');
  let checked = 0;
  for (const c of readdirSync(bad)) {
    const lines = readFileSync(join(bad, c, 'expected'), 'utf8').split('\n');
    for (const line of lines) {
      const file = line.match(/^([^:#]+\.(?:ya?ml|json))(?::\d+)?: /);
      if (!file) continue;
      for (const { re, match } of refusals) {
        const m = line.match(re);
        if (!m) continue;
        const errs = errors(join(bad, c, file[1]));
        assert.ok(errs.some((e) => match(e, m[1])), `${c}: the schema accepts what readgate refuses: ${line}\n` +
          show(errs).join('\n'));
        checked++;
      }
    }
  }
  assert.ok(checked >= 15, `${checked} refusals checked`);
});

// Every key path of a schema ("sources.*.adapter"), and those a document uses.
function schemaKeys(s, pre, out) {
  for (const [k, v] of Object.entries(s.properties ?? {})) {
    out.add(pre + k);
    schemaKeys(v, `${pre}${k}.`, out);
  }
  if (s.additionalProperties?.properties) schemaKeys(s.additionalProperties, `${pre}*.`, out);
  return out;
}

function usedKeys(doc, s, pre, out) {
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) return out;
  for (const [k, v] of Object.entries(doc)) {
    if (s.properties?.[k]) {
      out.add(pre + k);
      usedKeys(v, s.properties[k], `${pre}${k}.`, out);
    } else if (s.additionalProperties?.properties) {
      usedKeys(v, s.additionalProperties, `${pre}*.`, out);
    }
  }
  return out;
}

test('the valid configurations use every key of the schemas', () => {
  const files = [...configs(join(repo, 'config')), ...configs(join(repo, 'tests', 'config', 'good'))];
  // A source signs in one way: with a service account (used) or with these.
  const unused = new Set(['sources.*.oauth.client_id', 'sources.*.oauth.client_secret',
    'sources.*.oauth.token_url']);
  for (const [name, isSiteSchema] of [['readgate.schema.json', false], ['site.schema.json', true]]) {
    const s = schema(name);
    const used = new Set();
    for (const f of files.filter((f) => isSite(f) === isSiteSchema)) usedKeys(load(f), s, '', used);
    const missing = [...schemaKeys(s, '', new Set())].filter((k) => !used.has(k) && !unused.has(k));
    assert.deepEqual(missing, [], `${name}: keys no valid configuration sets`);
  }
});

// Every value of `doc` that its schema has a default for, against the default.
function defaultsDiffer(s, doc, path, out) {
  for (const [k, v] of Object.entries(doc ?? {})) {
    const p = s.properties?.[k];
    if (!p) continue;
    if (p.type === 'object' && v && typeof v === 'object' && !Array.isArray(v)) defaultsDiffer(p, v, `${path}${k}.`, out);
    else if ('default' in p && JSON.stringify(p.default) !== JSON.stringify(v)) out.push(`${path}${k}: ${JSON.stringify(v)}, default ${JSON.stringify(p.default)}`);
  }
  return out;
}

test('the example readgate.yaml states the defaults', () => {
  const example = load(join(repo, 'config', 'readgate.example.yaml'));
  assert.deepEqual(defaultsDiffer(serverSchema, example, '', []), []);
});
