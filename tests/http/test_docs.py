"""docs/http-api.md and schemas/*.json against the C sources and the running
gateway, so the documentation can't drift from what the code does:

- every schema file is JSON and its $refs resolve;
- every error code of the table in core/query/errors.c (the only place a
  code and its HTTP status are written; tests/unit/test_errors.c checks that
  nothing else in core/ spells one) is in the error table of
  docs/http-api.md and in schemas/openapi.json, with its HTTP status, and
  neither documents a code the table does not have;
- every path of openapi.json is served (not `404 not_found`, not `405`) and
  every route of the C router is in openapi.json;
- request bodies the suite sends, and the examples of the documentation,
  validate against schemas/query.schema.json (checked with the small
  validator below), and bodies the gateway refuses for their shape don't;
- the worked signing example of the documentation matches both this suite's
  client and the C unit test vectors.
"""

import glob
import json
import os
import re
import unittest
import urllib.error
import urllib.request

import harness
import rgclient
from harness import SITE

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
DOC = os.path.join(REPO, "docs", "http-api.md")
SCHEMAS = os.path.join(REPO, "schemas")
CORE = os.path.join(REPO, "core")


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def load_json(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


# --- the C sources ---------------------------------------------------------------

def strip_comments(src):
    """C source with comments blanked out; string and char literals kept."""
    out, i, n = [], 0, len(src)
    while i < n:
        c = src[i]
        if c in "\"'":
            j = i + 1
            while j < n and src[j] != c:
                j += 2 if src[j] == "\\" else 1
            out.append(src[i:j + 1])
            i = j + 1
        elif src.startswith("/*", i):
            j = src.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append(" " * (j - i))
            i = j
        elif src.startswith("//", i):
            j = src.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        else:
            out.append(c)
            i += 1
    return "".join(out)


# A row of the table: [RG_E_NAME] = {"code", status, "message"...}
TABLE_ROW = re.compile(r'\[RG_E_([A-Z0-9_]+)\]\s*=\s*\{\s*"([a-z][a-z0-9_]*)",\s*([1-5][0-9][0-9]),')


def c_error_codes():
    """{(code, status)} of every row of the error table in core/query/errors.c."""
    src = strip_comments(read(os.path.join(CORE, "query", "errors.c")))
    pairs = set()
    for m in TABLE_ROW.finditer(src):
        if m.group(1).lower() != m.group(2):
            raise AssertionError("RG_E_%s names code %s" % (m.group(1), m.group(2)))
        pairs.add((m.group(2), int(m.group(3))))
    return pairs


# --- a small JSON Schema validator -----------------------------------------------------

KEYWORDS = {"$ref", "type", "properties", "required", "additionalProperties", "enum", "items",
            "minItems", "maxItems", "uniqueItems", "minimum", "maximum", "minLength",
            "maxLength", "oneOf"}
ANNOTATIONS = {"$schema", "$id", "$defs", "title", "description", "default", "examples",
               "$comment"}


def schema_nodes(schema):
    """Every subschema of a schema (for the keyword check)."""
    if not isinstance(schema, dict):
        return
    yield schema
    for k in ("properties", "$defs"):
        for sub in schema.get(k, {}).values():
            yield from schema_nodes(sub)
    for k in ("items", "additionalProperties"):
        if isinstance(schema.get(k), dict):
            yield from schema_nodes(schema[k])
    for sub in schema.get("oneOf", []):
        yield from schema_nodes(sub)


def json_equal(a, b):
    if isinstance(a, bool) or isinstance(b, bool) or a is None or b is None:
        return a is b
    return a == b


def is_type(v, t):
    if t == "null":
        return v is None
    if t == "boolean":
        return isinstance(v, bool)
    if t == "integer":
        return (isinstance(v, int) and not isinstance(v, bool)) or (
            isinstance(v, float) and v.is_integer())
    if t == "number":
        return isinstance(v, (int, float)) and not isinstance(v, bool)
    return isinstance(v, {"string": str, "array": list, "object": dict}[t])


def resolve(root, ref):
    if not ref.startswith("#/"):
        raise ValueError("only local references are supported: " + ref)
    node = root
    for part in ref[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def validate(schema, v, root, where="$"):
    """The list of problems of v against schema (empty when valid)."""
    if schema is True:
        return []
    if schema is False:
        return ["%s: no value is allowed here" % where]
    errs = []
    if "$ref" in schema:
        errs += validate(resolve(root, schema["$ref"]), v, root, where)
    if "type" in schema:
        types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        if not any(is_type(v, t) for t in types):
            return errs + ["%s: %r is not of type %s" % (where, v, " or ".join(types))]
    if "enum" in schema and not any(json_equal(v, e) for e in schema["enum"]):
        errs.append("%s: %r is not one of %r" % (where, v, schema["enum"]))
    if isinstance(v, dict):
        props = schema.get("properties", {})
        errs += ["%s: '%s' is required" % (where, k) for k in schema.get("required", [])
                 if k not in v]
        for k, x in v.items():
            if k in props:
                errs += validate(props[k], x, root, "%s.%s" % (where, k))
            elif "additionalProperties" in schema:
                errs += validate(schema["additionalProperties"], x, root, "%s.%s" % (where, k))
    if isinstance(v, list):
        if len(v) < schema.get("minItems", 0):
            errs.append("%s: fewer than %d items" % (where, schema["minItems"]))
        if "maxItems" in schema and len(v) > schema["maxItems"]:
            errs.append("%s: more than %d items" % (where, schema["maxItems"]))
        if schema.get("uniqueItems") and any(
                json_equal(a, b) for i, a in enumerate(v) for b in v[i + 1:]):
            errs.append("%s: items are not unique" % where)
        if "items" in schema:
            for i, x in enumerate(v):
                errs += validate(schema["items"], x, root, "%s[%d]" % (where, i))
    if isinstance(v, str):
        if len(v) < schema.get("minLength", 0):
            errs.append("%s: shorter than %d characters" % (where, schema["minLength"]))
        if "maxLength" in schema and len(v) > schema["maxLength"]:
            errs.append("%s: longer than %d characters" % (where, schema["maxLength"]))
    if is_type(v, "number"):
        if "minimum" in schema and v < schema["minimum"]:
            errs.append("%s: less than %r" % (where, schema["minimum"]))
        if "maximum" in schema and v > schema["maximum"]:
            errs.append("%s: more than %r" % (where, schema["maximum"]))
    if "oneOf" in schema:
        ok = sum(1 for s in schema["oneOf"] if not validate(s, v, root, where))
        if ok != 1:
            errs.append("%s: matches %d of the oneOf branches, not exactly one" % (where, ok))
    return errs


# --- reading the documents -----------------------------------------------------------

def error_table(doc):
    """{(code, status)} of the rows `| `code` | status | ...` of the error table."""
    return {(m.group(1), int(m.group(2)))
            for m in re.finditer(r"(?m)^\| `([a-z][a-z0-9_]*)` \| ([1-5][0-9][0-9]) \|", doc)}


def json_blocks(doc):
    return re.findall(r"(?ms)^```json\n(.*?)^```", doc)


def deref(api, node):
    while isinstance(node, dict) and str(node.get("$ref", "")).startswith("#/"):
        node = resolve(api, node["$ref"])
    return node


METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


def operations(api):
    for path, item in api["paths"].items():
        for method, op in item.items():
            if method in METHODS:
                yield path, item, method, op


def openapi_error_pairs(api):
    """{(code, status)} of the error examples of every operation's responses."""
    pairs = set()
    for _, _, _, op in operations(api):
        for status, resp in op.get("responses", {}).items():
            resp = deref(api, resp)
            for content in resp.get("content", {}).values():
                for ex in content.get("examples", {}).values():
                    value = deref(api, ex).get("value")
                    if isinstance(value, dict) and isinstance(value.get("error"), dict):
                        pairs.add((value["error"]["code"], int(status)))
    return pairs


class SchemaFilesTest(unittest.TestCase):
    def test_every_schema_is_json(self):
        files = sorted(glob.glob(os.path.join(SCHEMAS, "*.json")))
        self.assertGreaterEqual(len(files), 4, files)
        for path in files:
            with self.subTest(schema=os.path.basename(path)):
                doc = load_json(path)
                self.assertIsInstance(doc, dict)
                self.assertTrue("$schema" in doc or "openapi" in doc, path)

    def test_references_resolve(self):
        for path in sorted(glob.glob(os.path.join(SCHEMAS, "*.json"))):
            doc = load_json(path)

            def walk(node):
                if isinstance(node, dict):
                    for k, v in node.items():
                        if k == "$ref" and isinstance(v, str):
                            yield v
                        else:
                            yield from walk(v)
                elif isinstance(node, list):
                    for v in node:
                        yield from walk(v)

            for ref in walk(doc):
                with self.subTest(schema=os.path.basename(path), ref=ref):
                    target, _, frag = ref.partition("#")
                    other = load_json(os.path.join(SCHEMAS, target)) if target else doc
                    if frag:
                        resolve(other, "#" + frag)

    def test_openapi_version_and_query_body(self):
        api = load_json(os.path.join(SCHEMAS, "openapi.json"))
        self.assertTrue(api["openapi"].startswith("3.1."))
        body = api["paths"]["/v1/{site_id}/query"]["post"]["requestBody"]
        self.assertEqual(body["content"]["application/json"]["schema"],
                         {"$ref": "query.schema.json"})


class ErrorCodesTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.pairs = c_error_codes()
        cls.codes = {c for c, _ in cls.pairs}
        cls.doc = read(DOC)
        cls.api = load_json(os.path.join(SCHEMAS, "openapi.json"))

    def test_sources_were_read(self):
        # the scan itself must work, or every other check here proves nothing
        self.assertGreaterEqual(len(self.codes), 25, sorted(self.pairs))
        for pair in (("widget_unavailable", 404), ("invalid_value", 400),
                     ("missing_signature", 401), ("upstream_timeout", 504),
                     ("internal", 500), ("invalid_search", 400)):
            self.assertIn(pair, self.pairs)

    def test_one_status_per_code(self):
        for code in self.codes:
            statuses = {s for c, s in self.pairs if c == code}
            self.assertEqual(len(statuses), 1, (code, statuses))

    def test_doc_error_table(self):
        table = error_table(self.doc)
        self.assertEqual(self.pairs - table, set(), "codes missing from docs/http-api.md")
        self.assertEqual({c for c, _ in table} - self.codes, set(),
                         "docs/http-api.md documents codes the code never answers")
        for code in self.codes:
            self.assertIn("`%s`" % code, self.doc)

    def test_openapi_error_codes(self):
        text = read(os.path.join(SCHEMAS, "openapi.json"))
        enum = set(self.api["components"]["schemas"]["Error"]["properties"]["error"]
                   ["properties"]["code"]["enum"])
        self.assertEqual(enum, self.codes)
        for code in self.codes:
            self.assertIn('"%s"' % code, text)
        self.assertEqual(self.pairs - openapi_error_pairs(self.api), set(),
                         "codes without an example at their status in openapi.json")


class PathsServedTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.env = harness.env()
        cls.api = load_json(os.path.join(SCHEMAS, "openapi.json"))

    def send(self, admin, method, path):
        port = self.env.main.admin_port if admin else self.env.main.port
        return rgclient.Client("127.0.0.1", port).request(method, path)

    def test_every_documented_operation_is_served(self):
        n = 0
        for path, item, method, _ in operations(self.api):
            admin = "servers" in item
            url = path.replace("{site_id}", SITE)
            with self.subTest(method=method, path=path):
                r = self.send(admin, method.upper(), url)
                self.assertFalse(r.status == 404 and r.code == "not_found", r)
                self.assertNotEqual(r.status, 405, r)
                self.assertNotEqual(r.status, 501, r)
                n += 1
        self.assertGreaterEqual(n, 11)

    def test_unknown_paths_are_not_found(self):
        # the check above can tell a served path from an unknown one
        for admin, path in ((False, "/v1/%s/nothing" % SITE), (True, "/nothing")):
            r = self.send(admin, "GET", path)
            self.assertEqual((r.status, r.code), (404, "not_found"), r)

    def test_every_route_is_documented(self):
        routes = strip_comments(read(os.path.join(CORE, "http", "routes.c")))
        actions = set(re.findall(r'strcmp\(a,\s*"([a-z]+)"\)', routes))
        self.assertEqual(actions, {"token", "query", "collections", "session", "mcp", "events"})
        for a in actions:
            self.assertIn("/v1/{site_id}/%s" % a, self.api["paths"])
        admin = strip_comments(read(os.path.join(CORE, "server", "admin.c")))
        for p in re.findall(r'strcmp\(path,\s*"(/[a-z]+)"\)', admin):
            self.assertIn(p, self.api["paths"])
            self.assertIn("servers", self.api["paths"][p], p)


P = "products"


def F(field, op, value):
    return {"field": field, "op": op, "value": value}


# Bodies the other modules of this suite send successfully.
SUITE_BODIES = [
    {"collection": P, "limit": 1},
    {"collection": P, "filters": [F("price", "lte", 150), F("category", "in", ["shoes", "boots"]),
                                  F("in_stock", "eq", True)]},
    {"collection": P, "search": "red", "filters": [F("price", "lt", 200)],
     "sort": [{"field": "price", "dir": "desc"}]},
    {"collection": P, "sort": [{"field": "brand", "dir": "desc"}, {"field": "rating", "dir": "asc"},
                               {"field": "name", "dir": "asc"}]},
    {"collection": P, "sort": [{"field": "price"}]},
    {"collection": P, "filters": [F("released", "between", ["2022-01-01", "2022-12-31"])]},
    {"collection": P, "filters": [F("updated_at", "lt", "2024-02-01T02:00:00+02:00")]},
    {"collection": P, "filters": [F("name", "contains", "UNNER"), F("brand", "ne", "Acme")],
     "fields": ["id", "name"]},
    {"collection": P, "fields": ["sku", "price", "released"], "limit": 50},
    {"collection": P, "limit": 3, "cursor": None},
    {"collection": P, "search": None, "filters": None, "sort": None, "fields": None,
     "limit": None},
]

# Bodies the gateway refuses for a reason the schema states too.
REFUSED_BODIES = [
    ({"collection": P, "bogus": 1}, "unknown_property"),
    ({}, "unknown_collection"),
    ({"collection": 5}, "unknown_collection"),
    ({"collection": P, "filters": {"field": "id"}}, "invalid_filter"),
    ({"collection": P, "filters": [{"field": "id", "op": "eq"}]}, "invalid_filter"),
    ({"collection": P, "filters": [dict(F("id", "eq", 1), extra=1)]}, "invalid_filter"),
    ({"collection": P, "filters": [F("id", "eq", None)]}, "invalid_value"),
    ({"collection": P, "filters": [F("id", "in", [])]}, "invalid_value"),
    ({"collection": P, "filters": [F("id", "between", [1, 2, 3])]}, "invalid_value"),
    ({"collection": P, "filters": [F("name", "prefix", "")]}, "invalid_value"),
    ({"collection": P, "filters": [F("name", "like", "x")]}, "operator_not_allowed"),
    ({"collection": P, "search": 5}, "invalid_search"),
    ({"collection": P, "sort": [{"field": "price", "dir": "up"}]}, "invalid_sort"),
    ({"collection": P, "sort": [{"dir": "asc"}]}, "invalid_sort"),
    ({"collection": P, "sort": [{"field": "id"}, {"field": "name"}, {"field": "price"},
                                {"field": "brand"}]}, "invalid_sort"),
    ({"collection": P, "fields": []}, "invalid_fields"),
    ({"collection": P, "fields": "id"}, "invalid_fields"),
    ({"collection": P, "fields": ["id", "id"]}, "invalid_fields"),
    ({"collection": P, "limit": 0}, "invalid_limit"),
    ({"collection": P, "limit": "5"}, "invalid_limit"),
    ({"collection": P, "limit": True}, "invalid_limit"),
    ({"collection": P, "cursor": 5}, "invalid_cursor"),
]


class QuerySchemaTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.schema = load_json(os.path.join(SCHEMAS, "query.schema.json"))
        cls.env = harness.env()
        cls.c = cls.env.client
        cls.s = cls.c.session(SITE, api_key=cls.env.api_key)

    def check(self, body):
        return validate(self.schema, body, self.schema)

    def test_only_supported_keywords(self):
        for node in schema_nodes(self.schema):
            self.assertEqual(set(node) - KEYWORDS - ANNOTATIONS, set(), node)

    def test_matches_the_validator(self):
        plan = strip_comments(read(os.path.join(CORE, "query", "plan.c")))
        m = re.search(r"top_keys\[\]\s*=\s*\{([^}]*)\}", plan)
        self.assertEqual(set(re.findall(r'"([a-z]+)"', m.group(1))),
                         set(self.schema["properties"]))
        names = strip_comments(read(os.path.join(CORE, "config", "names.c")))
        ops = re.findall(r'\[RG_OP_[A-Z]+\]\s*=\s*"([a-z]+)"', names)
        self.assertEqual(len(ops), 10)
        self.assertEqual(self.schema["$defs"]["filter"]["properties"]["op"]["enum"], ops)

    def test_suite_bodies(self):
        for body in SUITE_BODIES:
            with self.subTest(body=body):
                r = self.c.query(self.s, body)
                self.assertEqual(r.status, 200, r)
                self.assertEqual(self.check(body), [])

    def test_body_with_cursor(self):
        body = {"collection": P, "sort": [{"field": "price", "dir": "asc"}], "limit": 5}
        r = self.c.query(self.s, body)
        self.assertEqual(r.status, 200, r)
        body["cursor"] = r.json["next_cursor"]
        self.assertIsInstance(body["cursor"], str)
        self.assertEqual(self.c.query(self.s, body).status, 200)
        self.assertEqual(self.check(body), [])

    def test_refused_bodies(self):
        for body, code in REFUSED_BODIES:
            with self.subTest(body=body):
                r = self.c.query(self.s, body)
                self.assertEqual((r.status, r.code), (400, code), r)
                self.assertNotEqual(self.check(body), [], "the schema accepts it")

    def test_documented_examples(self):
        blocks = json_blocks(read(DOC))
        self.assertGreaterEqual(len(blocks), 10)
        bodies = 0
        for text in blocks:
            with self.subTest(block=text[:60]):
                doc = json.loads(text)
                if isinstance(doc, dict) and "collection" in doc:
                    self.assertEqual(self.check(doc), [])
                    bodies += 1
        self.assertGreaterEqual(bodies, 6)
        api = load_json(os.path.join(SCHEMAS, "openapi.json"))
        content = api["paths"]["/v1/{site_id}/query"]["post"]["requestBody"]["content"]
        for ex in content["application/json"]["examples"].values():
            self.assertEqual(self.check(ex["value"]), [])


class SigningExampleTest(unittest.TestCase):
    """The worked example of docs/http-api.md (the inputs of the C vectors)."""

    SECRET = "q3JxV1bX8nW9s0kLmPzT4yUaHcDeFgRi5oN6t7u2v1w"

    def test_worked_example(self):
        doc = read(DOC)
        unit = read(os.path.join(REPO, "tests", "unit", "test_signature.c"))
        vectors = dict(re.findall(r'#define (\w+) "([^"]*)"', unit))
        body = b'{"collection":"products","limit":5}'
        sig = rgclient.sign(self.SECRET, "1763801400", "Nonce_0123-456789", "POST",
                            "/v1/demo0001/query", body)
        self.assertEqual(sig, "sha256=" + vectors["POST_HEX"])
        self.assertIn("X-Readgate-Signature: " + sig, doc)
        to_sign = rgclient.string_to_sign("1763801400", "Nonce_0123-456789", "POST",
                                          "/v1/demo0001/query", body)
        self.assertIn(repr(to_sign), doc)
        get = rgclient.sign(self.SECRET, "1763801400", "abcdefghijklmnop", "GET",
                            "/v1/demo0001/collections", b"")
        self.assertEqual(get, "sha256=" + vectors["GET_HEX"])
        self.assertIn(get, doc)
        self.assertEqual(vectors["SECRET"], self.SECRET)
        self.assertIn(self.SECRET, doc)


class AdminDocTest(unittest.TestCase):
    """The admin answers the documentation shows."""

    @classmethod
    def setUpClass(cls):
        cls.env = harness.env()

    def test_healthz_and_readyz(self):
        st, body = self.env.main.admin_get("/healthz")
        self.assertEqual((st, json.loads(body)), (200, {"status": "ok"}))
        st, body = self.env.main.admin_get("/readyz")
        doc = json.loads(body)
        self.assertEqual(set(doc), {"status", "sources"})
        self.assertEqual(doc["status"], "ready" if st == 200 else "unavailable")

    def test_admin_rejects_other_methods(self):
        req = urllib.request.Request("http://127.0.0.1:%d/healthz" % self.env.main.admin_port,
                                     data=b"", method="POST")
        with self.assertRaises(urllib.error.HTTPError) as cm:
            urllib.request.urlopen(req, timeout=10)
        self.assertEqual(cm.exception.code, 405)
        self.assertEqual(json.loads(cm.exception.read())["error"]["code"], "method_not_allowed")


if __name__ == "__main__":
    unittest.main()
