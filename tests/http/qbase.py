"""Shared checks for the query tests: results against the fixture oracle."""

import json
import unittest

import fixture
import harness
from harness import SITE

TYPES = {
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "string": lambda v: isinstance(v, str),
    "enum": lambda v: isinstance(v, str),
    "date": lambda v: isinstance(v, str),
    "datetime": lambda v: isinstance(v, str),
}


class QueryCase(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.env = harness.env()
        cls.c = cls.env.client
        cls.s = cls.c.session(SITE, api_key=cls.env.api_key)

    def q(self, body, **kw):
        return self.c.query(self.s, body, **kw)

    def normalise(self, rows, fields):
        """Check each returned row has only allowed fields of the right JSON
        type; a field left out is taken as null."""
        out = []
        for row in rows:
            self.assertIsInstance(row, dict)
            extra = set(row) - set(fields)
            self.assertFalse(extra, "fields that must not be returned: %s" % sorted(extra))
            for f, v in row.items():
                if v is not None:
                    t = fixture.PRODUCT_FIELDS[f]["type"]
                    self.assertTrue(TYPES[t](v), "field %s: %r is not a JSON %s" % (f, v, t))
            out.append({f: row.get(f) for f in fields})
        return out

    def fetch_all(self, body, page_limit=100):
        """Every row of a query by following next_cursor; returns (rows, pages)."""
        b = dict(body)
        b.setdefault("limit", page_limit)
        rows, pages = self.c.query_all(self.s, b)
        for i, p in enumerate(pages[:-1]):
            self.assertEqual(len(p), b["limit"], "page %d is short but not the last" % (i + 1))
        if len(pages) > 1:
            self.assertLessEqual(len(pages[-1]), b["limit"])
        return rows, pages

    def check_all(self, body, nonempty=True, page_limit=100, fold_independent=True):
        """The whole result, paged, equals the oracle exactly (rows and order)."""
        exp = (fixture.expected_fold_independent(body) if fold_independent
               else fixture.expected(body))
        if nonempty:
            self.assertTrue(exp, "test data gives no row for %r" % (body,))
        rows, _ = self.fetch_all(body, page_limit)
        fields = body.get("fields") or fixture.DISPLAY
        got = self.normalise(rows, fields)
        if got != exp:
            self.fail("query %s\nexpected %d rows: %s\ngot %d rows: %s" % (
                json.dumps(body, ensure_ascii=False), len(exp),
                [r.get("id") for r in exp][:60], len(got), [r.get("id") for r in got][:60]))
        return exp

    def check_page(self, body):
        """The first page equals the head of the oracle result."""
        r = self.q(body)
        self.assertEqual(r.status, 200, r)
        exp = fixture.expected_fold_independent(body)
        limit = body.get("limit", 20)
        fields = body.get("fields") or fixture.DISPLAY
        self.assertEqual(self.normalise(r.json["rows"], fields), exp[:limit])
        if len(exp) < limit:
            self.assertIsNone(r.json["next_cursor"])
        elif len(exp) > limit:
            self.assertIsInstance(r.json["next_cursor"], str)
        return r

    def err(self, body, code, status=400, field=None, **kw):
        r = self.q(body, **kw)
        self.assertEqual(r.status, status, r)
        codes = code if isinstance(code, (set, tuple, list)) else {code}
        self.assertIn(r.code, codes, r)
        msg = r.json["error"].get("message")
        self.assertTrue(isinstance(msg, str) and msg, r)
        if field is not None:
            self.assertEqual(r.json["error"].get("field"), field, r)
        return r
