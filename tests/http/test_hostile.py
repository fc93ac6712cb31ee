"""Values that look like syntax are literal characters: exactly the oracle's
rows, never an error, never more rows, and the table is unchanged after."""

import fixture
from fixture import HOSTILE_NAMES, NAME_TO_ID
from qbase import QueryCase

P = "products"

# Search words and filter values that would widen a result if they became
# wildcards or syntax anywhere between the API and the backend.
PROBES = ["' OR 1=1 --", "' OR '1'='1", "'; DROP TABLE products; --", "%", "%%", "_", "__",
          "\\", "\\\\", "\\%", "\\_", '"', "'", "''", "`", "*", ".*", "^", "$", "|", "?",
          "(", "[", "]", "[abc]", "{", "}", "$gt", "$ne", "$where", '{"$ne": null}',
          "a*b", "a.c", "NULL", "null", "-- ", "/*", "*/", ";", "\u00e8", "é" * 128,
          "運動", "👟", "x" * 256, fixture.LONG_NAME, "100%", "under_", "O'B", "back\\"]


class HostileTest(QueryCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.checksum_before = fixture.checksum(cls.env.pg_port)

    def test_eq_finds_exactly_the_literal_row(self):
        for name in HOSTILE_NAMES:
            with self.subTest(name=name[:40]):
                exp = self.check_all({"collection": P, "filters": [
                    {"field": "name", "op": "eq", "value": name}]})
                self.assertEqual([r["id"] for r in exp], [NAME_TO_ID[name]])

    def test_in_with_hostile_values(self):
        self.check_all({"collection": P, "filters": [
            {"field": "name", "op": "in", "value": HOSTILE_NAMES[:20]}]})

    def test_ne_with_hostile_values(self):
        for name in ("' OR 1=1 --", "%", "O'Brien"):
            with self.subTest(name=name):
                self.check_all({"collection": P, "fields": ["id"], "filters": [
                    {"field": "name", "op": "ne", "value": name}]})

    def test_prefix_and_contains(self):
        for value in PROBES:
            for op in ("prefix", "contains"):
                with self.subTest(op=op, value=value[:40]):
                    body = {"collection": P, "fields": ["id", "name"],
                            "filters": [{"field": "name", "op": op, "value": value}]}
                    exp = self.check_all(body, nonempty=False)
                    self.assertLess(len(exp), 10, "probe matches too much in the fixture")

    def test_wildcards_are_literal(self):
        def ids(op, value):
            return [r["id"] for r in self.check_all(
                {"collection": P, "fields": ["id"],
                 "filters": [{"field": "name", "op": op, "value": value}]}, nonempty=False)]
        self.assertEqual(ids("contains", "%"), sorted([NAME_TO_ID["100% cotton"],
                                                        NAME_TO_ID["%_\\"]]))
        self.assertEqual(ids("prefix", "100%"), [NAME_TO_ID["100% cotton"]])
        self.assertEqual(ids("prefix", "under_"), [NAME_TO_ID["under_score"]])
        self.assertEqual(ids("contains", "back\\slash"), [NAME_TO_ID["back\\slash"]])
        self.assertEqual(ids("contains", "a*b"), [NAME_TO_ID["a*b"]])
        self.assertEqual(ids("contains", "a.c"), [NAME_TO_ID["a.c"]])
        self.assertEqual(ids("prefix", "o'b"), [NAME_TO_ID["O'Brien"]])
        self.assertEqual(ids("contains", "''"), [NAME_TO_ID["O''Brien"]])

    def test_search_with_probes(self):
        for value in PROBES:
            with self.subTest(search=value[:40]):
                if len(value.encode()) > 200 or not value.split():
                    continue
                exp = self.check_all({"collection": P, "fields": ["id"], "search": value},
                                     nonempty=False)
                self.assertLess(len(exp), 50)

    def test_hostile_brand_and_sku(self):
        for op, value in (("contains", "%"), ("prefix", "brand_"), ("eq", "100%"),
                          ("contains", "_")):
            with self.subTest(op=op, value=value):
                self.check_all({"collection": P, "fields": ["id", "brand"],
                                "filters": [{"field": "brand", "op": op, "value": value}]})
        self.check_all({"collection": P, "filters": [
            {"field": "sku", "op": "eq", "value": "' OR 1=1 --"}]}, nonempty=False)

    def test_hostile_collection_and_field_names(self):
        for coll in ("products; DROP TABLE products", "public.products", "products--", "*"):
            with self.subTest(collection=coll):
                self.err({"collection": coll}, "unknown_collection")
        for field in ("name; DROP TABLE products", "name--", '"name"', "*", "products.name"):
            with self.subTest(field=field):
                self.err({"collection": P, "filters": [
                    {"field": field, "op": "eq", "value": "x"}]}, "unknown_field")

    def test_zz_table_unchanged(self):
        # runs last in this class (tests run in alphabetical order)
        self.assertEqual(fixture.checksum(self.env.pg_port), self.checksum_before)

    @classmethod
    def tearDownClass(cls):
        after = fixture.checksum(cls.env.pg_port)
        if after != cls.checksum_before:
            raise AssertionError("products changed during the hostile tests")
