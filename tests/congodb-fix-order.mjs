// Make CongoDB's query engine (mingo) compare values in MongoDB's order.
//
// tests/mongo.sh copies this file into the CongoDB cache directory (next to
// node_modules) and runs it there after every install, before the server
// starts:
//
//   node congodb-fix-order.mjs
//
// Why: the mongo adapter tests check the adapter, so the test server has to
// answer like a real mongod. MongoDB compares values in its documented BSON
// comparison order; mingo 7.2.7 compares JavaScript values, which differs in
// two ways that the conformance fixture exercises:
//
//   1. Numbers. MongoDB compares int32, int64 and double by numeric value
//      across types. CongoDB decodes BSON with js-bson's defaults, so an int64
//      beyond 2^53 arrives as a bson Long object while every other number is a
//      JavaScript number; mingo only compares values of the same JavaScript
//      type (a Long never satisfies $gt/$gte against a number, sorts after
//      every string) and compares two Longs by their decimal text.
//   2. Strings. MongoDB's default (simple, binary) collation compares the
//      UTF-8 bytes, i.e. code points; mingo uses JavaScript's `<` and the
//      default Array sort, i.e. UTF-16 code units, which put U+E000..U+FFFF
//      (e.g. fullwidth letters) after the characters beyond U+FFFF (e.g.
//      emoji) instead of before them.
//
// What: a few exact text replacements in the files CongoDB loads. Its sources
// `import ... from 'mingo'`; mingo's package.json maps "." with the "node"
// condition first, so Node loads the CommonJS build (cjs/), also from ESM.
//   cjs/util/_internal.js       mingoCmp (behind compare: $gt/$gte/$lt/$lte,
//                               $sort, $min/$max, $cmp) and isEqual (behind
//                               $eq, $ne, $in, $nin): numbers of any BSON
//                               numeric type compare by exact value (a Long as
//                               a BigInt, which JavaScript compares exactly
//                               with a double, fraction included; NaN equals
//                               NaN and is below every other number, as in
//                               MongoDB), strings by code point.
//   cjs/operators/_predicates.js  the query operators' "same type" test
//                               treats every numeric type as one; $in tests
//                               membership with isEqual instead of a hash set
//                               (which never matches a Long with a number).
//   cjs/operators/pipeline/sort.js  $sort's shortcut for all-string keys used
//                               the default Array sort; it now uses compare.
// Nothing else changes: other types, cross-type order and collations keep
// mingo's behaviour. Decimal128 is not handled (no test data holds one).
// CongoDB's aggregate command hands the whole pipeline to mingo's Aggregator;
// its own comparisons (QueryEngine.sort for find, UpdateEngine) serve other
// commands, which the mongo adapter does not send, and stay as they are.
//
// Safety: the mingo version and each file's sha256 must be exactly the ones
// below, otherwise this fails and names the file, so a changed package is
// noticed rather than silently left unpatched. Running it again is a no-op: a
// file already patched is recognised by undoing the replacements in memory and
// finding the pinned original. Finally it imports mingo the way CongoDB does
// and checks the new order, so a patch that is not what gets loaded fails too.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const MINGO_VERSION = '7.2.7';
const here = path.dirname(fileURLToPath(import.meta.url));
const mingoDir = path.join(here, 'node_modules', 'mingo');

function die(msg) {
  console.error(`congodb-fix-order.mjs: ${msg}`);
  process.exit(1);
}

// The helpers added to cjs/util/_internal.js, in front of mingoCmp.
const HELPERS = `// --- MongoDB comparison order (readgate tests/congodb-fix-order.mjs) ---
// bson wrapper types that hold a number. CongoDB's decoder yields Long for an
// int64 beyond 2^53; Int32 and Double only appear with promoteValues off.
const BSON_NUMBER_TYPES = { Long: true, Int32: true, Double: true };
const isBsonNumber = (v) => v !== null && typeof v === "object" && BSON_NUMBER_TYPES[v._bsontype] === true;
// typeOf, except that every numeric type is "number": MongoDB compares them
// with each other by value and orders them together.
function compareTypeOf(v) {
  return typeof v === "number" || isBsonNumber(v) ? "number" : typeOf(v);
}
// A JavaScript number, or a BigInt for a Long (exact at any size).
const numericValue = (v) => typeof v === "number" ? v : v._bsontype === "Long" ? BigInt(v.toString()) : v.value;
// Compare two numeric values by exact value. JavaScript's < and > compare a
// BigInt with a number by mathematical value (2n**53n + 1n > 2**53, 3n > 2.5).
// NaN equals NaN and is less than every other number, as in MongoDB.
function numericCmp(a, b) {
  const x = numericValue(a);
  const y = numericValue(b);
  const xNaN = Number.isNaN(x);
  const yNaN = Number.isNaN(y);
  if (xNaN || yNaN) return xNaN === yNaN ? 0 : xNaN ? -1 : 1;
  return x < y ? -1 : x > y ? 1 : 0;
}
// Compare strings by code point, the order of their UTF-8 bytes (MongoDB's
// simple collation). UTF-16 code unit order agrees except that surrogates
// (U+D800..U+DFFF, which encode U+10000 and above) sort below U+E000..U+FFFF;
// at the first differing unit, move surrogates above that range.
function codePointCmp(a, b) {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x === y) continue;
    if (x >= 0xd800 && y >= 0xd800) {
      x = x >= 0xe000 ? x - 0x800 : x + 0x2000;
      y = y >= 0xe000 ? y - 0x800 : y + 0x2000;
    }
    return x < y ? -1 : 1;
  }
  return simpleCmp(a.length, b.length);
}
// --- end of MongoDB comparison order ---
`;

// [file, sha256 of mingo 7.2.7's original, [[original text, replacement]...]]
// Every original text must occur exactly once.
const PATCHES = [
  [
    'cjs/util/_internal.js',
    'ae0a2f3329e57fb6d66320d6753caee2e30ad8b49639f0fa2aeb62122d6241fa',
    [
      // Export compareTypeOf for _predicates.js.
      ['  compare: () => compare,\n', '  compare: () => compare,\n  compareTypeOf: () => compareTypeOf,\n'],
      ['function mingoCmp(a, b, descendArray = false) {\n', HELPERS + 'function mingoCmp(a, b, descendArray = false) {\n'],
      // mingoCmp: numbers of any type by value, strings by code point.
      [
        '  const typeA = typeOf(a);\n  const typeB = typeOf(b);\n  let neq = 0;\n  if (typeA === typeB) {\n' +
          '    switch (typeA) {\n      case "number":\n      case "string":\n      case "boolean":\n' +
          '        return simpleCmp(a, b);\n',
        '  const typeA = compareTypeOf(a);\n  const typeB = compareTypeOf(b);\n  let neq = 0;\n  if (typeA === typeB) {\n' +
          '    switch (typeA) {\n      case "number":\n        return numericCmp(a, b);\n' +
          '      case "string":\n        return codePointCmp(a, b);\n      case "boolean":\n' +
          '        return simpleCmp(a, b);\n',
      ],
      // isEqual: a number equals a Long (Int32, Double) of the same value.
      [
        '  if (a === null || b === null) return false;\n  if (typeof a !== typeof b) return false;\n',
        '  if (a === null || b === null) return false;\n' +
          '  if ((typeof a === "object" || typeof b === "object") && compareTypeOf(a) === "number" && compareTypeOf(b) === "number")\n' +
          '    return numericCmp(a, b) === 0;\n' +
          '  if (typeof a !== typeof b) return false;\n',
      ],
    ],
  ],
  [
    'cjs/operators/_predicates.js',
    'dd9db71ee6496a2a20a7e114ac7acd168f44f4dff71ac8a6657e6d6eb7ec52d6',
    [
      // $lt/$lte/$gt/$gte only compare values of the same type; every numeric
      // type counts as one.
      [
        '    if ((0, import_internal2.typeOf)(v) === (0, import_internal2.typeOf)(b) && f(v, b)) return true;\n',
        '    if ((0, import_internal2.compareTypeOf)(v) === (0, import_internal2.compareTypeOf)(b) && f(v, b)) return true;\n',
      ],
      // $in: membership by isEqual (a hash set keeps a Long and a number apart).
      [
        '  if ((0, import_internal2.intersection)([values, b]).length > 0) return true;\n',
        '  if (values.some((v) => b.some((x) => (0, import_internal2.isEqual)(v, x)))) return true;\n',
      ],
    ],
  ],
  [
    'cjs/operators/pipeline/sort.js',
    '1b6f1321c862e4f0a76118d3a3b0fd41aee9821ca6fd36b608e341da8e70dd59',
    [
      // All-string sort keys: code point order, not the default Array sort.
      ['        if (t_str) sortedKeys.sort();\n', '        if (t_str) sortedKeys.sort(import_util.compare);\n'],
    ],
  ],
];

const sha256 = (s) => crypto.createHash('sha256').update(s, 'utf8').digest('hex');

// Replace the only occurrence of `from` in `text` by `to`; null when `from`
// does not occur exactly once.
function replaceOnce(text, from, to) {
  const parts = text.split(from);
  return parts.length === 2 ? parts[0] + to + parts[1] : null;
}

function patchFile(rel, pinned, edits) {
  const file = path.join(mingoDir, rel);
  let text;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    die(`cannot read ${file}: ${e.message}`);
  }
  if (sha256(text) === pinned) {
    for (const [from, to] of edits) {
      const next = replaceOnce(text, from, to);
      if (next === null) die(`${file}: the text to replace does not occur exactly once`);
      text = next;
    }
    const tmp = `${file}.tmp-${process.pid}`;
    fs.writeFileSync(tmp, text);
    fs.renameSync(tmp, file);
    return 'patched';
  }
  // Already patched? Undo the replacements (last first) and compare.
  let orig = text;
  for (const [from, to] of [...edits].reverse()) {
    orig = orig === null ? null : replaceOnce(orig, to, from);
  }
  if (orig !== null && sha256(orig) === pinned) return 'already patched';
  die(
    `${file} is neither mingo ${MINGO_VERSION}'s original nor its patched version ` +
      '(the package changed?): review tests/congodb-fix-order.mjs before updating its pins',
  );
}

let pkg;
try {
  pkg = JSON.parse(fs.readFileSync(path.join(mingoDir, 'package.json'), 'utf8'));
} catch (e) {
  die(`cannot read mingo's package.json in ${mingoDir}: ${e.message}`);
}
if (pkg.version !== MINGO_VERSION) {
  die(`expected mingo ${MINGO_VERSION}, found ${pkg.version}: review tests/congodb-fix-order.mjs`);
}
// The file Node loads for `import 'mingo'`: the first matching condition.
const entry = pkg.exports?.['.'];
if (!entry || Object.keys(entry).find((k) => k === 'node' || k === 'import' || k === 'default') !== 'node' ||
    entry.node !== './cjs/index.js') {
  die(`mingo ${MINGO_VERSION}: package.json no longer sends Node to ./cjs/index.js; the patch targets cjs/`);
}

const done = PATCHES.map(([rel, pinned, edits]) => patchFile(rel, pinned, edits));

// Load mingo as CongoDB does (its modules lie below this directory, so
// 'mingo' resolves to the same node_modules) and check the new order.
const { Query, Aggregator } = await import('mingo');
const { Long } = await import('bson');
const big = Long.fromString('9007199254740993'); // 2^53 + 1
const sorted = (docs, key) => new Aggregator([{ $sort: { [key]: 1 } }]).run(docs).map((d) => d[key]);
const failed = [];
const expect = (what, ok) => ok || failed.push(what);
expect('Long > number', new Query({ n: { $gt: 9007199254740992 } }).test({ n: big }));
expect('Long >= Long', new Query({ n: { $gte: big } }).test({ n: Long.fromString('10000000000000000') }));
expect('number < Long', new Query({ n: { $lt: big } }).test({ n: 2.5 }));
expect('Long $in', new Query({ n: { $in: [1, 2 ** 60] } }).test({ n: Long.fromString(String(2n ** 60n)) }));
expect('Long == double', new Query({ n: { $eq: 2 ** 60 } }).test({ n: Long.fromString(String(2n ** 60n)) }));
expect('Long != nearby double', !new Query({ n: { $eq: 9007199254740992 } }).test({ n: big }));
expect('string >= by code point', new Query({ s: { $gte: '\uff5a' } }).test({ s: '\u{1f600}' }));
expect(
  'numeric $sort',
  JSON.stringify(sorted([{ n: big }, { n: 1e300 }, { n: 9007199254740992 }, { n: -1.5 }], 'n').map(String)) ===
    JSON.stringify(['-1.5', '9007199254740992', '9007199254740993', '1e+300']),
);
expect('string $sort', sorted([{ s: '\u{1f600}' }, { s: '\uff5a' }, { s: 'a' }], 's').join() === 'a,\uff5a,\u{1f600}');
if (failed.length) {
  die(`mingo as CongoDB loads it still does not compare like MongoDB (${failed.join('; ')}); ` +
    'is the patched file the one Node loads?');
}
console.error(`congodb-fix-order.mjs: mingo ${MINGO_VERSION} compares in MongoDB's order ` +
  `(${PATCHES.map(([rel], i) => `${rel} ${done[i]}`).join(', ')})`);
