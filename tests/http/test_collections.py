"""GET /v1/{site}/collections: fields with roles, types and operators, and
LLM tool definitions; nothing without a role, nothing of another site."""

import json
import unittest

import fixture
import harness
from harness import OTHER, SITE


def walk(node, parent_key=None):
    """Yield (parent_key, dict) for every dict in a JSON document."""
    if isinstance(node, dict):
        yield parent_key, node
        for k, v in node.items():
            yield from walk(v, k)
    elif isinstance(node, list):
        for v in node:
            yield from walk(v, parent_key)


def strings(node):
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for k, v in node.items():
            yield k
            yield from strings(v)
    elif isinstance(node, list):
        for v in node:
            yield from strings(v)


class CollectionsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.env = harness.env()
        cls.c = cls.env.client
        s = cls.c.session(SITE, api_key=cls.env.api_key)
        cls.r = cls.c.collections(s)
        cls.doc = cls.r.json

    def test_ok(self):
        self.assertEqual(self.r.status, 200, self.r)
        self.assertTrue((self.r.header("Content-Type") or "").startswith("application/json"))
        self.assertIsInstance(self.doc, dict)

    def field_infos(self, name):
        """Every object in the document that describes field `name`: an
        object whose name/field is `name`, or the value under key `name`."""
        out = []
        for parent, d in walk(self.doc):
            if d.get("name") == name or d.get("field") == name or (
                    parent == name and ("type" in d or "operators" in d or "ops" in d)):
                out.append(d)
        return out

    def test_collections_listed(self):
        s = set(strings(self.doc))
        self.assertIn("products", s)
        self.assertIn("slow", s)

    def test_field_types(self):
        for name, conf in fixture.PRODUCT_FIELDS.items():
            if name == "internal_cost":
                continue
            with self.subTest(field=name):
                types = {d.get("type") for d in self.field_infos(name)}
                self.assertIn(conf["type"], types, self.field_infos(name))

    def test_operators(self):
        for name, conf in fixture.PRODUCT_FIELDS.items():
            if not conf.get("filterable"):
                continue
            with self.subTest(field=name):
                lists = [set(v) for d in self.field_infos(name) for v in d.values()
                         if isinstance(v, list) and all(isinstance(x, str) for x in v)]
                # or a mapping field -> operators
                lists += [set(d[name]) for _, d in walk(self.doc)
                          if isinstance(d.get(name), list)
                          and all(isinstance(x, str) for x in d[name])]
                self.assertIn(set(conf["filterable"]), lists, self.field_infos(name))

    def test_enum_values(self):
        lists = [v for d in self.field_infos("category") for v in d.values()
                 if isinstance(v, list)]
        self.assertTrue(any(set(v) == set(fixture.CATEGORIES) for v in lists))

    def test_roles_present(self):
        s = set(strings(self.doc))
        for name in fixture.DISPLAY + fixture.SEARCHABLE + fixture.SORTABLE:
            self.assertIn(name, s)

    def test_no_role_field_and_backend_names_absent(self):
        body = self.r.body.decode()
        for hidden in ("internal_cost", "supplier_secret", "Product Code", "enc:v1",
                       "rg_reader", self.env.reader_password, "postgresql://"):
            self.assertNotIn(hidden, body)

    def test_no_other_site(self):
        body = self.r.body.decode()
        for other in (OTHER, "other_items"):
            self.assertNotIn(other, body)

    def test_tool_definitions(self):
        tools = [d for _, d in walk(self.doc)
                 if isinstance(d.get("name"), str) and
                 isinstance(d.get("parameters", d.get("input_schema")), dict)]
        self.assertGreaterEqual(len(tools), 2, "one tool per collection expected")
        for t in tools:
            with self.subTest(tool=t["name"]):
                self.assertRegex(t["name"], r"^[a-zA-Z0-9_-]{1,64}$")
                self.assertIsInstance(t.get("description"), str)
                schema = t.get("parameters", t.get("input_schema"))
                self.assertEqual(schema.get("type"), "object")
                self.assertIsInstance(schema.get("properties"), dict)
                self.assertTrue(schema["properties"])
        text = json.dumps(tools)
        # the schema of the products tool knows its fields and operators
        self.assertIn("price", text)
        self.assertIn("between", text)
        self.assertNotIn("internal_cost", text)

    def test_tools_are_valid_json_schema_shapes(self):
        # every "type" in a schema is a JSON Schema type name
        allowed = {"object", "array", "string", "integer", "number", "boolean", "null"}
        tools = [d for _, d in walk(self.doc)
                 if isinstance(d.get("parameters", d.get("input_schema")), dict)]
        for t in tools:
            schema = t.get("parameters", t.get("input_schema"))
            for _, d in walk(schema):
                ty = d.get("type")
                if isinstance(ty, str):
                    self.assertIn(ty, allowed, d)

    def test_other_site_sees_only_its_own(self):
        s = self.c.session(OTHER, api_key=self.env.other_api_key)
        r = self.c.collections(s)
        self.assertEqual(r.status, 200, r)
        body = r.body.decode()
        self.assertIn("items", body)
        self.assertNotIn("products", body)
        self.assertNotIn("price", body)


if __name__ == "__main__":
    unittest.main()
