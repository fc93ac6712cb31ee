"""POST /v1/{site}/query: every operator and type against the oracle, search,
sort, paging, projection, limits, and every validation error."""

import json
import unittest

import fixture
from fixture import ROWS
from qbase import QueryCase

P = "products"


def F(field, op, value):
    return {"field": field, "op": op, "value": value}


def first(field):
    """A value of `field` that occurs in the data (the first non-null one)."""
    return next(r[field] for r in ROWS if r[field] is not None)


class OperatorTest(QueryCase):
    def run_filters(self, cases):
        for flt in cases:
            with self.subTest(filter=flt):
                exp = self.check_all({"collection": P, "filters": [flt]})
                # a filter that returns everything would prove nothing
                self.assertLess(len(exp), len(ROWS), flt)

    def test_integer(self):
        self.run_filters([
            F("id", "eq", 17), F("id", "ne", 17), F("id", "lt", 10), F("id", "lte", 10),
            F("id", "gt", 240), F("id", "gte", 240), F("id", "in", [3]),
            F("id", "in", list(range(100, 150))), F("id", "between", [10, 20]),
            F("id", "between", [20, 20]), F("id", "in", [1, 1000, -5]),
        ])

    def test_integer_exact_counts(self):
        self.assertEqual(len(self.check_all({"collection": P,
                                             "filters": [F("id", "between", [10, 20])]})), 11)
        self.assertEqual(len(self.check_all({"collection": P,
                                             "filters": [F("id", "in", list(range(1, 51)))]})), 50)
        self.assertEqual(len(self.check_all({"collection": P,
                                             "filters": [F("id", "ne", 17)]})), len(ROWS) - 1)

    def test_string(self):
        name = ROWS[4]["name"]
        self.run_filters([
            F("name", "eq", name), F("name", "ne", name), F("name", "in", [name, ROWS[9]["name"]]),
            F("name", "prefix", "red"), F("name", "prefix", "RED"), F("name", "prefix", "Red B"),
            F("name", "contains", "UNNER"), F("name", "contains", "boot"),
            F("name", "contains", "ER 1"),
        ])

    def test_string_eq_is_case_sensitive(self):
        exp = self.check_all({"collection": P, "filters": [F("brand", "eq", "Acme")]})
        self.assertTrue(all(r["brand"] == "Acme" for r in exp))
        self.check_all({"collection": P, "filters": [F("name", "eq", "RED RUNNER")]},
                       nonempty=False)

    def test_string_with_nulls(self):
        self.run_filters([
            F("brand", "eq", "Acme"), F("brand", "ne", "Acme"), F("brand", "lt", "Zeta"),
            F("brand", "gte", "acme"), F("brand", "in", ["Zed", "Ørsted"]),
            F("brand", "prefix", "acm"), F("brand", "prefix", "brand_"),
            F("brand", "contains", "%"), F("brand", "contains", "X"),
        ])

    def test_ne_excludes_nulls(self):
        exp = self.check_all({"collection": P, "filters": [F("brand", "ne", "no such brand")]})
        self.assertEqual(len(exp), sum(1 for r in ROWS if r["brand"] is not None))
        exp = self.check_all({"collection": P, "filters": [F("rating", "ne", -1)]})
        self.assertEqual(len(exp), sum(1 for r in ROWS if r["rating"] is not None))

    def test_strings_compare_by_code_point(self):
        # "Zeta" < "acme" < "Émile" in byte order, unlike any natural-language collation
        exp = self.check_all({"collection": P, "filters": [F("brand", "gte", "acme")]})
        self.assertEqual({r["brand"] for r in exp}, {"acme", "zeta", "Émile", "Ørsted"})
        exp = self.check_all({"collection": P, "filters": [F("brand", "lt", "Zeta")]})
        self.assertEqual({r["brand"] for r in exp},
                         {"100%", "ACME", "Acme", "Brand_X", "BrandXX", "Nike-ish", "Zed"})

    def test_enum(self):
        self.run_filters([
            F("category", "eq", "boots"), F("category", "ne", "boots"),
            F("category", "in", ["hats", "bags"]), F("category", "in", ["socks"]),
        ])

    def test_number(self):
        self.run_filters([
            F("price", "eq", 20), F("price", "eq", 19.99), F("price", "eq", 20.0),
            F("price", "ne", 20), F("price", "lt", 10.5), F("price", "lte", 20),
            F("price", "gt", 250), F("price", "gte", 49.99), F("price", "between", [20, 50]),
            F("price", "in", [20, 49.99, 1999]), F("price", "between", [19.99, 19.99]),
        ])

    def test_between_is_inclusive(self):
        exp = self.check_all({"collection": P, "filters": [F("price", "between", [20, 50])]})
        prices = {r["price"] for r in exp}
        self.assertIn(20.0, prices)
        self.assertIn(50.0, prices)

    def test_number_with_nulls(self):
        self.run_filters([
            F("rating", "eq", 3.5), F("rating", "ne", 3.5), F("rating", "lt", 2),
            F("rating", "gte", 4.5), F("rating", "between", [2.5, 3.0]),
        ])

    def test_boolean(self):
        self.run_filters([F("in_stock", "eq", True), F("in_stock", "eq", False),
                          F("in_stock", "ne", True), F("in_stock", "ne", False)])
        exp = self.check_all({"collection": P, "filters": [F("in_stock", "ne", True)]})
        self.assertEqual(len(exp), sum(1 for r in ROWS if r["in_stock"] is False))

    def test_date(self):
        d = first("released")
        self.run_filters([
            F("released", "eq", d), F("released", "ne", d), F("released", "lt", "2021-01-01"),
            F("released", "lte", d), F("released", "gt", "2024-06-30"),
            F("released", "gte", "2024-06-30"),
            F("released", "between", ["2022-01-01", "2022-12-31"]),
            F("released", "in", [d, ROWS[20]["released"] or d, "1999-01-01"]),
        ])

    def test_datetime(self):
        t = ROWS[9]["updated_at"]
        self.run_filters([
            F("updated_at", "eq", t), F("updated_at", "lt", "2024-02-01T00:00:00Z"),
            F("updated_at", "lte", t), F("updated_at", "gt", "2024-06-01T12:00:00Z"),
            F("updated_at", "gte", t),
            F("updated_at", "between", ["2024-03-01T00:00:00Z", "2024-03-31T23:59:59Z"]),
        ])

    def test_datetime_with_offset(self):
        # 14:00+02:00 is 12:00Z: RFC 3339 offsets are honoured
        rows = self.check_all({"collection": P, "filters": [
            F("updated_at", "lt", "2024-02-01T02:00:00+02:00")]})
        self.assertEqual(rows, fixture.expected({"collection": P, "filters": [
            F("updated_at", "lt", "2024-02-01T00:00:00Z")]}))

    def test_non_display_filterable_field(self):
        exp = self.check_all({"collection": P, "filters": [F("tags", "contains", "TRAIL")]})
        self.assertLess(len(exp), len(ROWS))

    def test_mapped_column(self):
        self.run_filters([F("sku", "eq", "SKU-0007"), F("sku", "prefix", "sku-00"),
                          F("sku", "prefix", "SKU-01")])
        exp = self.check_all({"collection": P, "filters": [F("sku", "prefix", "sku-00")]})
        self.assertEqual({r["sku"][:4] for r in exp}, {"SKU-", "sku-"})

    def test_filters_are_anded(self):
        self.check_all({"collection": P, "filters": [
            F("price", "lte", 150), F("category", "in", ["shoes", "boots"]),
            F("in_stock", "eq", True)]})
        self.check_all({"collection": P, "filters": [
            F("id", "gte", 10), F("id", "lte", 12), F("id", "ne", 11)]})
        self.check_all({"collection": P, "filters": [
            F("id", "eq", 1), F("id", "eq", 2)]}, nonempty=False)

    def test_in_with_50_values(self):
        names = sorted({r["name"] for r in ROWS})[:50]
        self.assertEqual(len(names), 50)
        self.check_all({"collection": P, "filters": [F("name", "in", names)]})

    def test_no_match(self):
        r = self.q({"collection": P, "filters": [F("name", "eq", "no such product")]})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json, {"rows": [], "next_cursor": None})


class SearchTest(QueryCase):
    def test_search(self):
        for text in ("runner", "RUNNER", "red runner", "trail", "acme waterproof",
                     "  boot   leather  ", "Crème", "運動", "sneaker", "zzzz",
                     "red zzzz"):
            with self.subTest(search=text):
                self.check_all({"collection": P, "search": text},
                               nonempty=text.strip() not in ("zzzz", "red zzzz"))

    def test_search_words_anded(self):
        both = fixture.expected({"collection": P, "search": "red runner"})
        red = fixture.expected({"collection": P, "search": "red"})
        self.assertLess(len(both), len(red))
        self.check_all({"collection": P, "search": "red runner"})

    def test_search_matches_non_display_field(self):
        # "waterproof" only occurs in tags, which are searchable but never returned
        exp = self.check_all({"collection": P, "search": "waterproof"})
        self.assertTrue(all("tags" not in r for r in exp))

    def test_search_with_filters_and_sort(self):
        self.check_all({"collection": P, "search": "red", "filters": [F("price", "lt", 200)],
                        "sort": [{"field": "price", "dir": "desc"}]})


class SortTest(QueryCase):
    def test_each_sortable_field(self):
        for field in fixture.SORTABLE:
            for d in ("asc", "desc"):
                with self.subTest(field=field, dir=d):
                    self.check_all({"collection": P, "sort": [{"field": field, "dir": d}]})

    def test_nulls_last_asc_first_desc(self):
        rows, _ = self.fetch_all({"collection": P, "sort": [{"field": "rating", "dir": "asc"}],
                                  "fields": ["id", "rating"]})
        n = sum(1 for r in ROWS if r["rating"] is None)
        self.assertTrue(n > 0)
        self.assertTrue(all(r.get("rating") is None for r in rows[-n:]))
        rows, _ = self.fetch_all({"collection": P, "sort": [{"field": "rating", "dir": "desc"}],
                                  "fields": ["id", "rating"]})
        self.assertTrue(all(r.get("rating") is None for r in rows[:n]))

    def test_default_order_is_key(self):
        r = self.check_page({"collection": P, "limit": 30})
        self.assertEqual([x["id"] for x in r.json["rows"]], list(range(1, 31)))

    def test_multiple_keys(self):
        for sort in ([{"field": "category", "dir": "asc"}, {"field": "price", "dir": "desc"}],
                     [{"field": "brand", "dir": "desc"}, {"field": "rating", "dir": "asc"},
                      {"field": "name", "dir": "asc"}],
                     [{"field": "price"}]):
            with self.subTest(sort=sort):
                self.check_all({"collection": P, "sort": sort})

    def test_key_breaks_ties(self):
        exp = self.check_all({"collection": P, "sort": [{"field": "category", "dir": "desc"}],
                              "fields": ["id", "category"]})
        for a, b in zip(exp, exp[1:]):
            if a["category"] == b["category"]:
                self.assertLess(a["id"], b["id"])

    def test_unicode_sort_order(self):
        exp = self.check_all({"collection": P, "sort": [{"field": "name", "dir": "asc"}],
                              "fields": ["id", "name"]})
        names = [r["name"] for r in exp]
        # upper case before lower case, ASCII before accents, CJK, then emoji
        self.assertLess(max(i for i, n in enumerate(names) if n.startswith("Z")),
                        min(i for i, n in enumerate(names) if n.startswith("a")))
        self.assertEqual(names[-1], "\U0001f45f sneaker")
        self.assertLess(names.index("Crème brûlée"), names.index("運動"))


class PagingTest(QueryCase):
    def test_all_rows_exactly_once(self):
        rows, pages = self.fetch_all({"collection": P}, page_limit=7)
        self.assertEqual([r["id"] for r in rows], [r["id"] for r in ROWS])
        self.assertIn(len(pages), (len(ROWS) // 7 + 1, len(ROWS) // 7 + 2))

    def test_filtered_sorted_paging(self):
        for body in ({"collection": P, "filters": [F("price", "lte", 200)],
                      "sort": [{"field": "rating", "dir": "desc"}]},
                     {"collection": P, "sort": [{"field": "brand", "dir": "asc"},
                                                {"field": "price", "dir": "desc"}]},
                     {"collection": P, "search": "r",
                      "sort": [{"field": "released", "dir": "asc"}], "fields": ["id", "name"]},
                     {"collection": P, "sort": [{"field": "updated_at", "dir": "desc"}]}):
            with self.subTest(body=body):
                exp = self.check_all(body, page_limit=7)
                self.assertGreater(len(exp), 14)

    def test_last_page_cursor(self):
        r = self.q({"collection": P, "filters": [F("id", "lte", 5)], "limit": 10})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(len(r.json["rows"]), 5)
        self.assertIsNone(r.json["next_cursor"])

    def test_explicit_null_cursor(self):
        self.check_page({"collection": P, "limit": 3, "cursor": None})


class ProjectionAndLimitTest(QueryCase):
    def test_default_fields_are_display_fields(self):
        r = self.q({"collection": P, "limit": 100})
        self.assertEqual(r.status, 200, r)
        for row in r.json["rows"]:
            self.assertLessEqual(set(row), set(fixture.DISPLAY))
            for hidden in ("tags", "internal_cost", "supplier_secret", "Product Code"):
                self.assertNotIn(hidden, row)
        self.assertEqual(set().union(*(set(x) for x in r.json["rows"])), set(fixture.DISPLAY))
        self.assertNotIn(b"secret-", r.body)

    def test_projection(self):
        for fields in (["id"], ["name", "id"], ["sku", "price", "released"]):
            with self.subTest(fields=fields):
                r = self.check_page({"collection": P, "fields": fields, "limit": 50})
                for row in r.json["rows"]:
                    self.assertEqual(set(row), set(fields))

    def test_default_limit(self):
        r = self.check_page({"collection": P})
        self.assertEqual(len(r.json["rows"]), 20)

    def test_max_limit(self):
        r = self.check_page({"collection": P, "limit": 100})
        self.assertEqual(len(r.json["rows"]), 100)
        r = self.check_page({"collection": P, "limit": 1})
        self.assertEqual(len(r.json["rows"]), 1)

    def test_charset_parameter_accepted(self):
        r = self.q({"collection": P, "limit": 1},
                   content_type="application/json; charset=utf-8")
        self.assertEqual(r.status, 200, r)


class ValidationTest(QueryCase):
    def test_unknown_collection(self):
        self.err({"collection": "nope"}, "unknown_collection")
        self.err({"collection": "items"}, "unknown_collection")  # othersite01's
        self.err({"collection": "PRODUCTS"}, "unknown_collection")

    def test_unknown_field(self):
        self.err({"collection": P, "filters": [F("colour", "eq", "red")]}, "unknown_field")
        # declared without a role: unknown to the outside world
        self.err({"collection": P, "filters": [F("internal_cost", "eq", 1)]}, "unknown_field")
        self.err({"collection": P, "filters": [F("supplier_secret", "eq", "x")]},
                 "unknown_field")
        # the backend column name is not a public name
        self.err({"collection": P, "filters": [F("Product Code", "eq", "x")]}, "unknown_field")

    def test_field_not_filterable(self):
        self.err({"collection": P, "filters": [F("color", "eq", "red")]},
                 "field_not_filterable")

    def test_operator_not_allowed(self):
        for flt in (F("in_stock", "lt", True), F("category", "prefix", "bo"),
                    F("tags", "eq", "trail"), F("sku", "contains", "x"),
                    F("updated_at", "ne", "2024-01-01T00:00:00Z"), F("rating", "in", [1])):
            with self.subTest(filter=flt):
                self.err({"collection": P, "filters": [flt]}, "operator_not_allowed")

    def test_invalid_value(self):
        cases = [
            F("id", "eq", "5"), F("id", "eq", 5.5), F("id", "eq", True), F("id", "eq", None),
            F("id", "eq", [5]), F("price", "eq", "20"), F("in_stock", "eq", "true"),
            F("in_stock", "eq", 1), F("name", "eq", 5), F("name", "eq", "x" * 257),
            F("name", "eq", "é" * 129), F("name", "eq", "a\u0001b"), F("name", "eq", "a\nb"),
            F("name", "prefix", "\u007f"), F("released", "eq", "2024-13-45"),
            F("released", "eq", "2024/01/01"), F("released", "eq", "yesterday"),
            F("updated_at", "gt", "2024-01-01"), F("updated_at", "gt", "not a time"),
            F("category", "eq", "cars"), F("category", "in", ["boots", "cars"]),
            F("id", "in", [1, "2"]), F("id", "between", [1, "9"]),
        ]
        for flt in cases:
            with self.subTest(filter=flt):
                self.err({"collection": P, "filters": [flt]}, "invalid_value")

    def test_invalid_value_names_the_field(self):
        self.err({"collection": P, "filters": [F("id", "eq", 1), F("id", "eq", "5")]},
                 "invalid_value", field="filters[1].value")

    def test_value_count(self):
        for flt in (F("id", "in", []), F("id", "in", list(range(51))), F("id", "in", 5),
                    F("id", "between", [1]), F("id", "between", [1, 2, 3]),
                    F("id", "between", 5)):
            with self.subTest(filter=flt):
                self.err({"collection": P, "filters": [flt]}, {"invalid_value", "invalid_filter"})

    def test_256_bytes_is_allowed(self):
        r = self.q({"collection": P, "filters": [F("name", "eq", "x" * 256)]})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["rows"], [])

    def test_invalid_filter(self):
        for filters in ({"field": "id"}, [5], ["id"], [{"field": "id", "value": 1}],
                        [{"op": "eq", "value": 1}], [{"field": "id", "op": "eq"}],
                        [{"field": 5, "op": "eq", "value": 1}]):
            with self.subTest(filters=filters):
                self.err({"collection": P, "filters": filters}, "invalid_filter")

    def test_unknown_operator(self):
        for op in ("like", "regex", "$gt", "EQ", ""):
            with self.subTest(op=op):
                self.err({"collection": P, "filters": [F("name", op, "x")]},
                         {"invalid_filter", "operator_not_allowed"})

    def test_invalid_search(self):
        for s in ("x" * 201, 5, ["red"], "a\u0002b"):
            with self.subTest(search=str(s)[:10]):
                self.err({"collection": P, "search": s}, "invalid_search")
        r = self.q({"collection": P, "search": "r" * 200})
        self.assertEqual(r.status, 200, r)

    def test_invalid_sort(self):
        for sort in ([{"field": "color", "dir": "asc"}],
                     [{"field": "in_stock"}],
                     [{"field": "price", "dir": "up"}],
                     [{"field": "price", "dir": "ASCENDING"}],
                     [{"field": "id"}, {"field": "name"}, {"field": "price"}, {"field": "brand"}],
                     "price",
                     [5],
                     [{"dir": "asc"}]):
            with self.subTest(sort=sort):
                self.err({"collection": P, "sort": sort}, "invalid_sort")
        for sort in ([{"field": "nope"}], [{"field": "internal_cost"}]):
            with self.subTest(sort=sort):
                self.err({"collection": P, "sort": sort}, {"invalid_sort", "unknown_field"})

    def test_three_sort_keys_allowed(self):
        self.check_page({"collection": P, "sort": [{"field": "category"}, {"field": "brand"},
                                                   {"field": "price", "dir": "desc"}]})

    def test_invalid_fields(self):
        for fields in (["tags"], "id", [5], ["id", 5]):
            with self.subTest(fields=fields):
                self.err({"collection": P, "fields": fields}, "invalid_fields")
        for fields in (["nope"], ["internal_cost"], ["supplier_secret"], ["Product Code"]):
            with self.subTest(fields=fields):
                self.err({"collection": P, "fields": fields}, {"invalid_fields", "unknown_field"})

    def test_invalid_limit(self):
        for limit in (0, 101, -1, "5", 5.5, True):
            with self.subTest(limit=limit):
                self.err({"collection": P, "limit": limit}, "invalid_limit")

    def test_invalid_cursor(self):
        body = {"collection": P, "sort": [{"field": "price", "dir": "asc"}], "limit": 5}
        r = self.q(body)
        self.assertEqual(r.status, 200, r)
        cur = r.json["next_cursor"]
        self.assertIsInstance(cur, str)
        # the cursor works for its own query
        self.assertEqual(self.q(dict(body, cursor=cur)).status, 200)
        mid = len(cur) // 2
        tampered = [cur[:mid] + ("A" if cur[mid] != "A" else "B") + cur[mid + 1:],
                    cur[:-2] + ("A" if cur[-2] != "A" else "B") + cur[-1], cur[1:], "garbage"]
        for t in tampered:
            with self.subTest(cursor=t[:12]):
                self.err(dict(body, cursor=t), "invalid_cursor")
        for other in ({"collection": P, "sort": [{"field": "price", "dir": "desc"}], "limit": 5},
                      {"collection": P, "sort": [{"field": "name"}], "limit": 5},
                      {"collection": P, "limit": 5},
                      dict(body, filters=[F("price", "gt", 10)]),
                      dict(body, search="red")):
            with self.subTest(other=other):
                self.err(dict(other, cursor=cur), "invalid_cursor")
        self.err(dict(body, cursor=5), "invalid_cursor")

    def test_unknown_property(self):
        self.err({"collection": P, "bogus": 1}, "unknown_property")
        self.err({"collection": P, "Filters": []}, "unknown_property")
        # inside a filter or sort key the shape error of that part is as good
        self.err({"collection": P, "filters": [dict(F("id", "eq", 1), extra=1)]},
                 {"unknown_property", "invalid_filter"})
        self.err({"collection": P, "sort": [{"field": "id", "dir": "asc", "nulls": "first"}]},
                 {"unknown_property", "invalid_sort"})

    def test_invalid_json(self):
        deep = {"collection": P, "filters": [F("id", "in", [[[[[[[[[[1]]]]]]]]]])]}
        for raw in (b"{", b"", b"nul", b"[]", b'"products"', b"42",
                    b'{"collection":"products","collection":"products"}',
                    b'{"collection":"products"} {}',
                    b'{"collection":"prod\xffucts"}',
                    b"{'collection':'products'}",
                    json.dumps(deep).encode()):
            with self.subTest(body=raw[:40]):
                self.err(raw, "invalid_json")

    def test_body_too_large(self):
        body = json.dumps({"collection": P, "search": "red"}).encode()
        body = body[:-1] + b" " * (17 * 1024 - len(body)) + b"}"
        self.assertEqual(len(body), 17 * 1024)
        self.err(body, "body_too_large", status=413)

    def test_body_at_limit_is_read(self):
        body = json.dumps({"collection": P, "limit": 1}).encode()
        body = body[:-1] + b" " * (16 * 1024 - len(body)) + b"}"
        r = self.q(body)
        self.assertEqual(r.status, 200, r)

    def test_not_json_content_type(self):
        for ct in ("text/plain", "application/x-www-form-urlencoded", "application/jsonp", None):
            with self.subTest(ct=ct):
                self.err({"collection": P}, "unsupported_media_type", status=415,
                         content_type=ct)


if __name__ == "__main__":
    unittest.main()
