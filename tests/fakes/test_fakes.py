#!/usr/bin/env python3
"""Self-tests of the fake providers: each fake is started as a process, as the
adapter tests start it, and checked for the documented shapes, its parsers on
hostile input, throttling, token rotation, invalid_grant and revocation.

    python3 tests/fakes/test_fakes.py
    python3 -m unittest discover -s tests/fakes -p 'test_*.py'
"""

import sys

sys.dont_write_bytecode = True  # keep the source tree clean

import base64  # noqa: E402
import hashlib  # noqa: E402
import hmac  # noqa: E402
import http.client  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
import unittest  # noqa: E402
import urllib.error  # noqa: E402
import urllib.parse  # noqa: E402
import urllib.request  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import airtable_formula  # noqa: E402
import common  # noqa: E402
from launch import FakeProcess as Fake  # noqa: E402
import gql  # noqa: E402
import google  # noqa: E402
import shopify_search  # noqa: E402

ROWS = common.load_rows(common.DEFAULT_DATA)
BY_ID = {r["id"]: r for r in ROWS}
SHEET_ID = "1RGfakeSpreadsheet0000000000000000000000000"
BASE = "appRGFakeBase0001"

# Values that would widen a result if they became syntax anywhere.
PROBES = ["' OR 1=1 --", "' OR '1'='1", "%", "_", "\\", "\\\\", "\\%", '"', "'", "''", "`", "*",
          ".*", "(", ")", "[", "{", "}", "$gt", '{"$ne": null}', "a*b", "OR", "AND", "NOT", "-",
          ":", "title:x", "é", "運動", "👟", "O'B", "back\\", "x\\\"y", "\\'", "}{", "{name}",
          "Émile's", "O'Brien & Sons", "100%", "under_"]


class FakeCase(unittest.TestCase):
    provider = None
    args = ()

    @classmethod
    def setUpClass(cls):
        cls.fake = Fake(cls.provider, *cls.args)

    @classmethod
    def tearDownClass(cls):
        cls.fake.stop()

    def setUp(self):
        self.fake.control("reset", {})


# =====================================================================  Shopify

PRODUCTS_Q = """query Products($first: Int!, $after: String, $q: String, $sort: ProductSortKeys, $rev: Boolean) {
  products(first: $first, after: $after, query: $q, sortKey: $sort, reverse: $rev) {
    edges { cursor node { id legacyResourceId title vendor productType totalInventory updatedAt
      priceRangeV2 { minVariantPrice { amount currencyCode } }
      inStock: metafield(namespace: "custom", key: "in_stock") { value type } } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}"""


def shopify_quote(v):
    return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'


class ShopifyTest(FakeCase):
    provider = "shopify"

    def setUp(self):
        super().setUp()
        self.token = self.fake.mint()["access_token"]
        # The data tests read far more than a real bucket allows; the throttle
        # has its own test.
        self.fake.control("config", {"throttle": {"enabled": False}})

    def gql(self, query, variables=None, token=None, version="2025-01"):
        status, hdrs, out = self.fake.call("POST", "/admin/api/%s/graphql.json" % version,
                                           {"query": query, "variables": variables or {}},
                                           {"X-Shopify-Access-Token": token or self.token})
        return status, out

    def products(self, q=None, first=250, **kw):
        status, out = self.gql(PRODUCTS_Q, dict({"first": first, "q": q}, **kw))
        self.assertEqual(status, 200, out)
        self.assertNotIn("errors", out, out)
        return out

    def ids(self, q, **kw):
        out, after = [], None
        while True:
            page = self.products(q, after=after, **kw)["data"]["products"]
            out += [int(e["node"]["legacyResourceId"]) for e in page["edges"]]
            if not page["pageInfo"]["hasNextPage"]:
                return out
            after = page["pageInfo"]["endCursor"]

    def test_connection_shape_and_cost(self):
        out = self.products(first=3)
        conn = out["data"]["products"]
        self.assertEqual(len(conn["edges"]), 3)
        node = conn["edges"][0]["node"]
        self.assertEqual(node["id"], "gid://shopify/Product/1")
        self.assertEqual(node["priceRangeV2"]["minVariantPrice"], {"amount": "49.99", "currencyCode": "USD"})
        self.assertEqual(node["inStock"], {"value": "true", "type": "boolean"})
        self.assertEqual(node["updatedAt"], "2024-01-10T08:00:00Z")
        self.assertEqual(conn["pageInfo"]["hasNextPage"], True)
        self.assertEqual(conn["pageInfo"]["hasPreviousPage"], False)
        cost = out["extensions"]["cost"]
        # 2 for the connection + 3 products x (product, priceRangeV2, MoneyV2, metafield).
        self.assertEqual(cost["requestedQueryCost"], 2 + 3 * 4)
        self.assertEqual(set(cost["throttleStatus"]), {"maximumAvailable", "currentlyAvailable", "restoreRate"})
        self.assertEqual(cost["throttleStatus"]["maximumAvailable"], 1000.0)

    def test_paging_returns_every_product_once(self):
        for sort, rev in (("ID", False), ("TITLE", False), ("TITLE", True), ("UPDATED_AT", True),
                          ("INVENTORY_TOTAL", False)):
            with self.subTest(sort=sort, reverse=rev):
                ids = self.ids(None, first=37, sort=sort, rev=rev)
                self.assertEqual(sorted(ids), [r["id"] for r in ROWS])

    def test_401_errors_is_a_string(self):
        for headers in ({}, {"X-Shopify-Access-Token": "shpat_unknown"}):
            status, _, out = self.fake.call("POST", "/admin/api/2025-01/graphql.json",
                                            {"query": "{ shop { name } }"}, headers)
            self.assertEqual(status, 401)
            self.assertEqual(out, {"errors": "[API] Invalid API key or access token "
                                             "(unrecognized login or wrong password)"})

    def test_search_filters_follow_the_data(self):
        def contains(col, v):
            return sorted(r["id"] for r in ROWS if r[col] is not None and v.casefold() in r[col].casefold())
        self.assertEqual(sorted(self.ids('vendor:"O\'Brien & Sons"')), contains("Brand Name", "O'Brien & Sons"))
        self.assertEqual(sorted(self.ids("title:sneaker")), contains("name", "sneaker"))
        self.assertEqual(sorted(self.ids("price:>=100 price:<=120")),
                         sorted(r["id"] for r in ROWS if r["price"] is not None and 100 <= r["price"] <= 120))
        self.assertEqual(sorted(self.ids("inventory_total:>3000000")),
                         sorted(r["id"] for r in ROWS if r["stock"] is not None and r["stock"] > 3000000))
        self.assertEqual(sorted(self.ids("id:>290")), list(range(291, 301)))
        self.assertEqual(sorted(self.ids("product_type:boots OR product_type:hats")),
                         sorted(r["id"] for r in ROWS if r["category"] in ("boots", "hats")))
        self.assertEqual(sorted(self.ids("-product_type:boots")),
                         sorted(r["id"] for r in ROWS if r["category"] != "boots"))
        self.assertEqual(sorted(self.ids("metafields.custom.in_stock:false")),
                         sorted(r["id"] for r in ROWS if r["in_stock"] is False))
        self.assertEqual(sorted(self.ids('updated_at:>="2025-01-01T00:00:00Z"')),
                         sorted(r["id"] for r in ROWS if r["updated_at"] and r["updated_at"] >= "2025"))
        red_or_blue = set(contains("name", "red")) | set(contains("name", "blue"))
        self.assertEqual(sorted(self.ids("(title:red OR title:blue) AND vendor:acme")),
                         sorted(red_or_blue & set(contains("Brand Name", "acme"))))

    def test_hostile_values_match_literally(self):
        for v in PROBES:
            with self.subTest(value=v):
                want = sorted(r["id"] for r in ROWS if r["name"] is not None and v.casefold() in r["name"].casefold())
                self.assertEqual(sorted(self.ids("title:" + shopify_quote(v))), want)

    def test_malformed_search_is_a_documented_error(self):
        for q in ['title:"abc', "title:", "(title:a", "title:a)", "title:abc\\", "title:'x\\", "()", "OR"]:
            with self.subTest(q=q):
                status, out = self.gql(PRODUCTS_Q, {"first": 5, "q": q})
                self.assertEqual(status, 200)
                self.assertEqual(out["errors"][0]["extensions"]["code"], "INVALID_SEARCH_QUERY")
                self.assertIsNone(out["data"]["products"])

    def test_unknown_search_field_is_ignored_with_a_warning(self):
        out = self.products("colour:red", first=250)
        self.assertEqual(len(out["data"]["products"]["edges"]), 250)
        self.assertEqual(out["extensions"]["search"][0]["warnings"][0]["field"], "colour")

    def test_search_parser_units(self):
        t = shopify_search.parse('-title:"a\\"b" OR NOT vendor:x* tag:\\(y\\) price:>=3')
        self.assertEqual(t[0], "or")
        terms = [x.to_json() for x in shopify_search.terms(t)]
        self.assertEqual(terms[0], {"field": "title", "comparator": ":", "value": 'a"b', "kind": "literal",
                                    "quoted": True})
        self.assertEqual(terms[1]["kind"], "prefix")
        self.assertEqual(terms[2]["value"], "(y)")
        self.assertEqual(terms[3]["comparator"], ":>=")
        self.assertIsNone(shopify_search.parse("   "))

    def test_graphql_errors(self):
        cases = [("{ products(first: 1) { edges { node { nope } } } }", "undefinedField"),
                 ("{ products(first: 1, colour: 2) { pageInfo { hasNextPage } } }", "argumentNotAccepted"),
                 ("{ products(first: 1) }", "selectionMismatch"),
                 ("{ products(first: \"x\") { pageInfo { hasNextPage } } }", "argumentLiteralsIncompatible"),
                 ("mutation { productCreate { id } }", "UNSUPPORTED_OPERATION"),
                 ("{ products(first: 1, sortKey: PRICE) { pageInfo { hasNextPage } } }",
                  "argumentLiteralsIncompatible")]
        for q, code in cases:
            with self.subTest(q=q):
                status, out = self.gql(q)
                self.assertEqual(status, 200)
                self.assertEqual(out["errors"][0]["extensions"]["code"], code, out)
        status, out = self.gql("{ products(first: 1) { edges { node { id } }")
        self.assertIn("Unexpected end of document", out["errors"][0]["message"])
        status, out = self.gql("{ products { pageInfo { hasNextPage } } }")
        self.assertIn("you must provide one of first or last", out["errors"][0]["message"])
        status, out = self.gql(PRODUCTS_Q, {"first": "ten"})
        self.assertIn("was provided invalid value", out["errors"][0]["message"])
        status, out = self.gql("query { products(first: 251) { pageInfo { hasNextPage } } }")
        self.assertIn("errors", out)
        self.assertEqual(self.fake.call("POST", "/admin/api/2025-01/graphql.json", raw="{",
                                        headers={"X-Shopify-Access-Token": self.token,
                                                 "Content-Type": "application/json"})[0], 400)
        self.assertEqual(self.gql("{ shop { name } }", version="1999-02")[0], 404)

    def test_fragments_aliases_directives_and_block_strings(self):
        q = '''query($x: Boolean = false) {
          a: products(first: 2, query: """vendor:"acme" """) { ...F }
          shop { name @include(if: $x) myshopifyDomain }
        }
        fragment F on ProductConnection { nodes { ... on Product { title } __typename } }'''
        status, out = self.gql(q)
        self.assertNotIn("errors", out, out)
        self.assertEqual(out["data"]["shop"], {"myshopifyDomain": "demo-shop.myshopify.com"})
        self.assertEqual(out["data"]["a"]["nodes"][0]["__typename"], "Product")

    def test_gql_parser_units(self):
        doc = gql.parse('query Q($a: [String!]! = ["\\u00e9\\uD83D\\uDC5F"]) { f(x: {k: [1, 2.5e1, null, E]}) }')
        self.assertEqual(doc.operations[0].var_defs[0]["default"], ("list", [("string", "é👟")]))
        for bad in ["{", "{ f(x: ) }", '{ f(x: "abc) }', "{ f(x: 01) }", "query ($a Int) { f }", "{ f } }"]:
            with self.subTest(src=bad):
                with self.assertRaises(gql.GraphQLError):
                    gql.parse(bad)

    def test_cost_throttle(self):
        self.fake.control("config", {"throttle": {"enabled": True, "maximum_available": 100,
                                                  "restore_rate": 1}})
        q = "{ products(first: 60) { nodes { id } } }"   # requested 62
        status, out = self.gql(q)
        self.assertEqual(out["extensions"]["cost"]["requestedQueryCost"], 62)
        self.assertEqual(out["extensions"]["cost"]["throttleStatus"]["currentlyAvailable"], 38.0)
        status, out = self.gql(q)
        self.assertEqual(status, 200)
        self.assertEqual(out["errors"][0]["extensions"]["code"], "THROTTLED")
        self.assertIsNone(out["extensions"]["cost"]["actualQueryCost"])
        self.assertNotIn("data", out)
        status, out = self.gql("{ products(first: 200) { nodes { id } } }")
        self.assertEqual(out["errors"][0]["extensions"]["code"], "MAX_COST_EXCEEDED")
        # The unused part of the requested cost is refunded: 10 products only.
        self.fake.control("config", {"currently_available": 100})
        status, out = self.gql('{ products(first: 60, query: "id:<=10") { nodes { id } } }')
        self.assertEqual(out["extensions"]["cost"]["actualQueryCost"], 12)
        self.assertEqual(out["extensions"]["cost"]["throttleStatus"]["currentlyAvailable"], 88.0)

    def refresh(self, rt, **kw):
        body = dict({"client_id": "fake-client-id", "client_secret": "fake-client-secret",
                     "grant_type": "refresh_token", "refresh_token": rt}, **kw)
        return self.fake.call("POST", "/admin/oauth/access_token", body)

    def test_refresh_rotation_with_grace(self):
        pair = self.fake.mint()
        s, _, r1 = self.refresh(pair["refresh_token"])
        self.assertEqual(s, 200, r1)
        self.assertEqual(set(r1), {"access_token", "scope", "expires_in", "refresh_token",
                                   "refresh_token_expires_in"})
        self.assertNotEqual(r1["refresh_token"], pair["refresh_token"])
        # A lost response: the old refresh token is retried and gives the same replacement.
        s, _, again = self.refresh(pair["refresh_token"])
        self.assertEqual((s, again["refresh_token"]), (200, r1["refresh_token"]))
        s, _, r2 = self.refresh(r1["refresh_token"])
        self.assertEqual(s, 200)
        # Once the replacement was used, the old one is retired.
        s, _, bad = self.refresh(pair["refresh_token"])
        self.assertEqual((s, bad["error"]), (400, "invalid_grant"))
        self.assertEqual(self.gql("{ shop { name } }", token=r2["access_token"])[0], 200)
        log = self.fake.control("refresh-log")["entries"]
        self.assertEqual([e["result"] for e in log], ["ok", "ok", "ok", "invalid_grant"])
        self.assertEqual(log[0]["refresh_token"], common.secret_digest(pair["refresh_token"]))
        s, _, bad = self.refresh(r2["refresh_token"], client_secret="wrong")
        self.assertEqual((s, bad["error"]), (401, "invalid_client"))

    def test_refresh_without_grace(self):
        self.fake.control("config", {"refresh_grace": False})
        pair = self.fake.mint()
        self.assertEqual(self.refresh(pair["refresh_token"])[0], 200)
        s, _, bad = self.refresh(pair["refresh_token"])
        self.assertEqual((s, bad["error"]), (400, "invalid_grant"))

    def test_uninstall_revokes_every_token(self):
        other = self.fake.mint()
        s, _, out = self.fake.call("DELETE", "/admin/api_permissions/current.json",
                                   headers={"X-Shopify-Access-Token": self.token})
        self.assertEqual((s, out), (200, {}))
        self.assertEqual(self.gql("{ shop { name } }")[0], 401)
        self.assertEqual(self.gql("{ shop { name } }", token=other["access_token"])[0], 401)
        self.assertEqual(self.refresh(other["refresh_token"])[2]["error"], "invalid_grant")
        s, _, out = self.fake.call("DELETE", "/admin/api_permissions/current.json",
                                   headers={"X-Shopify-Access-Token": self.token})
        self.assertEqual(s, 401)

    def test_scripted_faults_expiry_and_scope(self):
        self.fake.control("config", {"faults": [{"status": 503, "count": 2}, {"kind": "throttled"},
                                                {"delay_s": 0.5}]})
        self.assertEqual(self.gql("{ shop { name } }")[0], 503)
        self.assertEqual(self.gql("{ shop { name } }")[0], 503)
        self.assertEqual(self.gql("{ shop { name } }")[1]["errors"][0]["extensions"]["code"], "THROTTLED")
        t0 = time.monotonic()
        self.assertEqual(self.gql("{ shop { name } }")[0], 200)
        self.assertGreaterEqual(time.monotonic() - t0, 0.5)
        self.fake.control("config", {"faults": [{"status": 429}]})
        s, hdrs, _ = self.fake.call("POST", "/admin/api/2025-01/graphql.json", {"query": "{ shop { name } }"},
                                    {"X-Shopify-Access-Token": self.token})
        self.assertEqual((s, hdrs.get("Retry-After")), (429, "2.0"))
        self.fake.control("config", {"expire_access_tokens_in_s": 0})
        self.assertEqual(self.gql("{ shop { name } }")[0], 401)
        tok = self.fake.mint(scope="read_orders")["access_token"]
        s, out = self.gql("{ products(first: 1) { nodes { id } } }", token=tok)
        self.assertEqual(out["errors"][0]["extensions"]["code"], "ACCESS_DENIED")

    def test_request_log_hashes_secrets_and_keeps_queries(self):
        self.products('title:"a\\"b"', first=1)
        rec = self.fake.control("requests")["requests"][-1]
        self.assertEqual(rec["headers"]["X-Shopify-Access-Token"], common.secret_digest(self.token))
        self.assertEqual(json.loads(rec["body"])["variables"]["q"], 'title:"a\\"b"')
        self.refresh(self.fake.mint()["refresh_token"])
        rec = self.fake.control("requests")["requests"][-1]
        self.assertNotIn("fake-client-secret", rec["body"])
        self.assertIn("sha256:", json.loads(rec["body"])["refresh_token"])
        with open(os.path.join(self.fake.state, "requests.jsonl")) as f:
            self.assertEqual(len(f.readlines()), 2)
        self.assertEqual(len(self.fake.control("requests?since=1")["requests"]), 1)


# =====================================================================  Shopify Storefront API

STOREFRONT_Q = """query Products($first: Int!, $after: String, $q: String, $sort: ProductSortKeys, $rev: Boolean) {
  products(first: $first, after: $after, query: $q, sortKey: $sort, reverse: $rev) {
    edges { cursor node { id title vendor productType availableForSale totalInventory updatedAt
      priceRange { minVariantPrice { amount currencyCode } }
      variants(first: 1) { nodes { price { amount } quantityAvailable availableForSale } }
      inStock: metafield(namespace: "custom", key: "in_stock") { value type } } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}"""
STOREFRONT_PATH = "/api/2025-01/graphql.json"
PRIVATE = "Shopify-Storefront-Private-Token"
PUBLIC = "X-Shopify-Storefront-Access-Token"


class StorefrontTest(FakeCase):
    provider = "shopify"

    def setUp(self):
        super().setUp()
        self.private = self.fake.mint(storefront="private")["access_token"]
        self.public = self.fake.mint(storefront="public")["access_token"]

    def sf(self, query, variables=None, headers=None):
        status, _, out = self.fake.call("POST", STOREFRONT_PATH, {"query": query, "variables": variables or {}},
                                        {PRIVATE: self.private} if headers is None else headers)
        return status, out

    def ids(self, q, **kw):
        out, after = [], None
        while True:
            status, page = self.sf(STOREFRONT_Q, dict({"first": 250, "q": q, "after": after}, **kw))
            self.assertEqual(status, 200, page)
            self.assertNotIn("errors", page, page)
            conn = page["data"]["products"]
            out += [int(e["node"]["id"].rsplit("/", 1)[1]) for e in conn["edges"]]
            if not conn["pageInfo"]["hasNextPage"]:
                return out
            after = conn["pageInfo"]["endCursor"]

    def test_storefront_shape_has_no_cost_extension(self):
        status, out = self.sf(STOREFRONT_Q, {"first": 2})
        self.assertEqual(status, 200, out)
        node = out["data"]["products"]["edges"][0]["node"]
        self.assertEqual(node["id"], "gid://shopify/Product/1")
        self.assertEqual(node["priceRange"]["minVariantPrice"], {"amount": "49.99", "currencyCode": "USD"})
        self.assertEqual(node["availableForSale"], True)
        self.assertEqual(node["totalInventory"], BY_ID[1]["stock"])
        self.assertEqual(node["variants"]["nodes"][0], {"price": {"amount": "49.99"},
                                                        "quantityAvailable": BY_ID[1]["stock"],
                                                        "availableForSale": True})
        self.assertEqual(node["inStock"], {"value": "true", "type": "boolean"})
        # The Storefront API keeps no cost bucket: no extensions.cost.
        self.assertNotIn("extensions", out)
        # Admin API members and sort keys are not in the Storefront schema.
        for field in ("legacyResourceId", "status", "tracksInventory", "priceRangeV2 { minVariantPrice { amount } }"):
            with self.subTest(field=field):
                status, out = self.sf("{ products(first: 1) { nodes { %s } } }" % field)
                self.assertEqual(out["errors"][0]["extensions"]["code"], "undefinedField", out)
        status, out = self.sf("{ products(first: 1, sortKey: INVENTORY_TOTAL) { nodes { id } } }")
        self.assertEqual(out["errors"][0]["extensions"]["code"], "argumentLiteralsIncompatible")
        status, out = self.sf("{ product(handle: \"%s\") { id } }" % "red-sneaker-2")
        self.assertEqual(out["data"]["product"], {"id": "gid://shopify/Product/2"})

    def test_storefront_tokens_and_their_headers(self):
        unauthorized = {"errors": [{"message": "", "extensions": {"code": "UNAUTHORIZED"}}]}
        q = "{ shop { name } }"
        self.assertEqual(self.sf(q)[0], 200)
        self.assertEqual(self.sf(q, headers={PUBLIC: self.public})[0], 200)
        admin = self.fake.mint()["access_token"]
        for headers in ({}, {PUBLIC: self.private}, {PRIVATE: self.public}, {PRIVATE: "shpat_unknown"},
                        {PRIVATE: admin}, {"X-Shopify-Access-Token": self.private}):
            with self.subTest(headers=list(headers)):
                self.assertEqual(self.sf(q, headers=headers), (401, unauthorized))
        # A Storefront token is no Admin API token either.
        status, _, out = self.fake.call("POST", "/admin/api/2025-01/graphql.json", {"query": q},
                                        {"X-Shopify-Access-Token": self.private})
        self.assertEqual(status, 401)
        self.assertIsInstance(out["errors"], str)
        # Made in the shop's admin: no expiry, no refresh token.
        minted = self.fake.mint(storefront="public")
        self.assertNotIn("refresh_token", minted)
        self.assertNotIn("expires_in", minted)
        with self.assertRaises(AssertionError):
            self.fake.mint(storefront="delegate")
        rec = self.fake.control("requests")["requests"][0]
        self.assertEqual(rec["headers"][PRIVATE], common.secret_digest(self.private))

    def test_storefront_scopes(self):
        listings = self.fake.mint(storefront="private",
                                  scope="unauthenticated_read_product_listings")["access_token"]
        status, out = self.sf(STOREFRONT_Q, {"first": 2}, {PRIVATE: listings})
        self.assertEqual(status, 200)
        # The field is null beside an ACCESS_DENIED error; the rest is there.
        self.assertIsNone(out["data"]["products"]["edges"][0]["node"]["totalInventory"])
        self.assertEqual(out["data"]["products"]["edges"][0]["node"]["title"], BY_ID[1]["name"])
        denied = [e for e in out["errors"] if e["path"][-1] == "totalInventory"]
        self.assertEqual(denied[0]["extensions"]["code"], "ACCESS_DENIED")
        self.assertIn("unauthenticated_read_product_inventory", denied[0]["message"])
        none = self.fake.mint(storefront="private", scope="unauthenticated_read_content")["access_token"]
        status, out = self.sf(STOREFRONT_Q, {"first": 2}, {PRIVATE: none})
        self.assertEqual(out["errors"][0]["extensions"]["code"], "ACCESS_DENIED")
        self.assertIsNone(out["data"]["products"])

    def test_storefront_search_fields(self):
        def where(pred):
            return sorted(r["id"] for r in ROWS if pred(r))
        self.assertEqual(sorted(self.ids("available_for_sale:true")), where(lambda r: r["in_stock"] is True))
        self.assertEqual(sorted(self.ids("-available_for_sale:true")),
                         where(lambda r: r["in_stock"] is not True))
        self.assertEqual(sorted(self.ids("variants.price:>=100 variants.price:<=120")),
                         where(lambda r: r["price"] is not None and 100 <= r["price"] <= 120))
        # product_type takes a comma-separated list.
        self.assertEqual(sorted(self.ids("product_type:boots,hats")),
                         where(lambda r: r["category"] in ("boots", "hats")))
        self.assertEqual(sorted(self.ids('created_at:>="2024-06-01"')),
                         where(lambda r: r["released"] is not None and r["released"] >= "2024-06-01"))
        self.assertEqual(sorted(self.ids('vendor:"O\'Brien & Sons" tag:boots')),
                         where(lambda r: r["category"] == "boots" and r["Brand Name"] is not None
                               and "o'brien & sons" in r["Brand Name"].casefold()))
        # Fields the Storefront API does not document are ignored.
        for q in ("id:>290", "inventory_total:>5", "published_at:>2030-01-01", "sku:RG-00001"):
            with self.subTest(q=q):
                self.assertEqual(len(self.ids(q)), len(ROWS))
        for v in PROBES:
            with self.subTest(value=v):
                want = where(lambda r: r["name"] is not None and v.casefold() in r["name"].casefold())
                self.assertEqual(sorted(self.ids("title:" + shopify_quote(v))), want)

    def test_storefront_paging_returns_every_product_once(self):
        for sort, rev in (("ID", False), ("ID", True), ("PRICE", False), ("TITLE", True),
                          ("BEST_SELLING", False)):
            with self.subTest(sort=sort, reverse=rev):
                ids = []
                after = None
                while True:
                    status, page = self.sf(STOREFRONT_Q, {"first": 41, "after": after, "sort": sort, "rev": rev})
                    conn = page["data"]["products"]
                    ids += [int(e["node"]["id"].rsplit("/", 1)[1]) for e in conn["edges"]]
                    if not conn["pageInfo"]["hasNextPage"]:
                        break
                    after = conn["pageInfo"]["endCursor"]
                self.assertEqual(sorted(ids), [r["id"] for r in ROWS])
                if sort == "ID":
                    self.assertEqual(ids, sorted(ids, reverse=rev))

    def test_storefront_scripted_faults(self):
        self.fake.control("config", {"faults": [{"status": 430}, {"kind": "throttled"}, {"status": 401}]})
        status, out = self.sf("{ shop { name } }")
        self.assertEqual(status, 430)
        status, out = self.sf("{ shop { name } }")
        self.assertEqual((status, out), (200, {"errors": [{"message": "Throttled",
                                                           "extensions": {"code": "THROTTLED"}}]}))
        status, out = self.sf("{ shop { name } }")
        self.assertEqual((status, out["errors"][0]["extensions"]["code"]), (401, "UNAUTHORIZED"))


# =====================================================================  Airtable

def airtable_quote(v):
    return "'" + v.replace("\\", "\\\\").replace("'", "\\'") + "'"


class AirtableTest(FakeCase):
    provider = "airtable"

    def setUp(self):
        super().setUp()
        self.pair = self.fake.mint()
        self.fake.control("config", {"throttle": {"enabled": False}})

    def list(self, body, token=None, table="products"):
        return self.fake.call("POST", "/v0/%s/%s/listRecords" % (BASE, table), body,
                              {"Authorization": "Bearer " + (token or self.pair["access_token"])})

    def all_ids(self, body):
        ids, offset = [], None
        while True:
            s, _, out = self.list(dict(body, **({"offset": offset} if offset else {})))
            self.assertEqual(s, 200, out)
            ids += [r["fields"].get("id") for r in out["records"]]
            offset = out.get("offset")
            if not offset:
                return ids

    def where(self, formula):
        return sorted(self.all_ids({"filterByFormula": formula, "fields": ["id"]}))

    def test_records_shape_and_offset_paging(self):
        s, _, out = self.list({"pageSize": 2})
        self.assertEqual(s, 200)
        rec = out["records"][0]
        self.assertEqual(set(rec), {"id", "createdTime", "fields"})
        self.assertTrue(rec["id"].startswith("rec"))
        self.assertEqual(rec["fields"]["Brand Name"], "Acme")
        self.assertEqual(rec["fields"]["updated_at"], "2024-01-10T08:00:00.000Z")
        self.assertIn("offset", out)
        ids = self.all_ids({})
        self.assertEqual(ids, [r["id"] for r in ROWS])
        s, _, out = self.list({"filterByFormula": "{id} = 22"})
        self.assertEqual(out["records"][0]["fields"], {"id": 22})  # missing values are absent
        s, _, out = self.list({"filterByFormula": "{id} = 20"})
        self.assertNotIn("name", out["records"][0]["fields"])  # empty text is absent too
        s, _, out = self.list({"filterByFormula": "{id} = 38", "fields": ["stock"]})
        self.assertEqual(out["records"][0]["fields"], {"stock": 9007199254740992})  # a double

    def test_formulas_follow_the_data(self):
        self.assertEqual(self.where("{Brand Name} = 'Acme'"),
                         sorted(r["id"] for r in ROWS if r["Brand Name"] == "Acme"))
        self.assertEqual(self.where("FIND(LOWER('SNEAKER'), LOWER({name})) > 0"),
                         sorted(r["id"] for r in ROWS if r["name"] and "sneaker" in r["name"].lower()))
        self.assertEqual(self.where("AND({price} >= 10, {price} <= 50, NOT({category} = 'bags'))"),
                         sorted(r["id"] for r in ROWS if r["price"] is not None and 10 <= r["price"] <= 50
                                and r["category"] != "bags"))
        self.assertEqual(self.where('OR({category} = "boots", {category} = "hats")'),
                         sorted(r["id"] for r in ROWS if r["category"] in ("boots", "hats")))
        self.assertEqual(self.where("AND({in_stock}, {stock} > 100)"),
                         sorted(r["id"] for r in ROWS if r["in_stock"] and r["stock"] is not None
                                and r["stock"] > 100))
        self.assertEqual(self.where("IS_AFTER({updated_at}, '2025-06-01T00:00:00Z')"),
                         sorted(r["id"] for r in ROWS if r["updated_at"] and r["updated_at"] > "2025-06-01"))
        # Blank next to a number is 0: an empty price is < 1.
        self.assertIn(21, self.where("{price} < 1"))
        self.assertEqual(self.where("{released} = BLANK()"),
                         sorted(r["id"] for r in ROWS if r["released"] is None))

    def test_hostile_literals_match_exactly(self):
        for v in PROBES:
            with self.subTest(value=v):
                self.assertEqual(self.where("{name} = " + airtable_quote(v)),
                                 sorted(r["id"] for r in ROWS if r["name"] == v))
                self.assertEqual(self.where("FIND(%s, {name})" % airtable_quote(v)),
                                 sorted(r["id"] for r in ROWS if r["name"] and v in r["name"]))

    def test_malformed_formulas_are_422(self):
        for f in ["{name} = 'abc", "AND(", "{nope} = 1", "FOO(1)", "{name} = 'a\\'", "{name = 'x'",
                  "{name} == 'x'", "NOT()", "'a' 'b'", "{}", "{name} = \"x", "1 +", "$gt"]:
            with self.subTest(formula=f):
                s, _, out = self.list({"filterByFormula": f})
                self.assertEqual(s, 422, out)
                self.assertEqual(out["error"]["type"], "INVALID_FILTER_BY_FORMULA")

    def test_formula_units(self):
        fields = {"a"}
        t = airtable_formula.parse("'x\\'y\\\\z\\n' & \"q\\\"\"", fields)
        self.assertEqual(airtable_formula.evaluate(t, {}, lambda r, n: None), "x'y\\z\nq\"")
        self.assertEqual(airtable_formula.evaluate(airtable_formula.parse("1/0", fields), {}, None),
                         airtable_formula.ERROR)
        self.assertEqual(airtable_formula.evaluate(airtable_formula.parse("SEARCH('B', 'abc')", fields), {}, None), 2)
        self.assertEqual(airtable_formula.evaluate(airtable_formula.parse("'a' = 'A'", fields), {}, None), 0)

    def test_sort_fields_and_parameters(self):
        s, _, out = self.list({"sort": [{"field": "price", "direction": "desc"}], "fields": ["price", "name"],
                               "maxRecords": 5})
        prices = [r["fields"]["price"] for r in out["records"]]
        self.assertEqual(prices, sorted(prices, reverse=True))
        self.assertTrue(all(set(r["fields"]) <= {"price", "name"} for r in out["records"]))
        for body, kind in (({"sort": [{"field": "nope"}]}, "UNKNOWN_FIELD_NAME"),
                           ({"fields": ["nope"]}, "UNKNOWN_FIELD_NAME"),
                           ({"pageSize": 101}, "INVALID_REQUEST_UNKNOWN"),
                           ({"colour": 1}, "INVALID_REQUEST_UNKNOWN"),
                           ({"offset": "itrjunk/rec1"}, "LIST_RECORDS_ITERATOR_NOT_AVAILABLE")):
            with self.subTest(body=body):
                s, _, out = self.list(body)
                self.assertEqual((s, out["error"]["type"]), (422, kind))
        # An offset belongs to its query.
        s, _, out = self.list({"pageSize": 10})
        s, _, bad = self.list({"pageSize": 10, "offset": out["offset"], "filterByFormula": "{id} > 1"})
        self.assertEqual(bad["error"]["type"], "LIST_RECORDS_ITERATOR_NOT_AVAILABLE")
        s, _, out = self.fake.call("GET", "/v0/%s/products?%s" % (BASE, urllib.parse.urlencode(
            {"filterByFormula": "{id} <= 3", "fields[]": "name", "sort[0][field]": "id",
             "sort[0][direction]": "desc"})), headers={"Authorization": "Bearer " + self.pair["access_token"]})
        self.assertEqual([r["fields"]["name"] for r in out["records"]], ["RED SNEAKER", "red sneaker", "Red Sneaker"])

    def test_errors(self):
        s, _, out = self.list({}, token="oaa-nope")
        self.assertEqual((s, out["error"]["type"]), (401, "AUTHENTICATION_REQUIRED"))
        s, _, out = self.list({}, table="nope")
        self.assertEqual((s, out["error"]["type"]), (403, "INVALID_PERMISSIONS_OR_MODEL_NOT_FOUND"))
        s, _, out = self.fake.call("POST", "/v0/%s/products/listRecords" % BASE, raw="{",
                                   headers={"Authorization": "Bearer " + self.pair["access_token"],
                                            "Content-Type": "application/json"})
        self.assertEqual(s, 400)

    def test_rate_limit_and_penalty(self):
        self.fake.control("config", {"throttle": {"enabled": True, "requests_per_second": 3, "penalty_s": 1}})
        statuses = [self.list({"maxRecords": 1})[0] for _ in range(4)]
        self.assertEqual(statuses, [200, 200, 200, 429])
        s, _, out = self.list({"maxRecords": 1})
        self.assertEqual((s, out), (429, {"errors": [{"error": "RATE_LIMIT_REACHED",
                                                      "message": "Rate limit exceeded. Please try again later"}]}))
        time.sleep(1.1)
        self.assertEqual(self.list({"maxRecords": 1})[0], 200)

    def token(self, rt, auth=("fake-client-id", "fake-client-secret")):
        headers = {}
        if auth:
            headers["Authorization"] = "Basic " + base64.b64encode(("%s:%s" % auth).encode()).decode()
        return self.fake.call("POST", "/oauth2/v1/token", form={"grant_type": "refresh_token",
                                                                 "refresh_token": rt}, headers=headers)

    def test_rotation_and_reuse_revokes_the_grant(self):
        s, _, r1 = self.token(self.pair["refresh_token"])
        self.assertEqual(s, 200, r1)
        self.assertEqual(set(r1), {"access_token", "refresh_token", "token_type", "scope", "expires_in",
                                   "refresh_expires_in"})
        s, _, r2 = self.token(r1["refresh_token"])
        self.assertEqual(s, 200)
        self.assertEqual(self.list({"maxRecords": 1}, token=r2["access_token"])[0], 200)
        # Reusing a spent refresh token revokes everything of the grant.
        s, _, bad = self.token(r1["refresh_token"])
        self.assertEqual((s, bad["error"]), (400, "invalid_grant"))
        self.assertEqual(self.list({"maxRecords": 1}, token=r2["access_token"])[0], 401)
        self.assertEqual(self.token(r2["refresh_token"])[2]["error"], "invalid_grant")
        grants = self.fake.control("grants")["grants"]
        self.assertEqual(grants[0]["revoked_reason"], "refresh token reused")
        log = self.fake.control("refresh-log")["entries"]
        digests = [e["refresh_token"] for e in log]
        self.assertEqual(digests[0], common.secret_digest(self.pair["refresh_token"]))
        self.assertEqual([e["result"] for e in log], ["ok", "ok", "invalid_grant", "invalid_grant"])

    def test_reuse_of_an_older_refresh_token_revokes_too(self):
        a = self.pair["refresh_token"]
        b = self.token(a)[2]["refresh_token"]
        c = self.token(b)[2]
        self.assertEqual(self.token(a)[2]["error"], "invalid_grant")
        self.assertEqual(self.list({"maxRecords": 1}, token=c["access_token"])[0], 401)

    def test_client_authentication(self):
        s, _, out = self.token(self.pair["refresh_token"], auth=None)
        self.assertEqual((s, out["error"]), (401, "invalid_client"))
        s, _, out = self.token(self.pair["refresh_token"], auth=("fake-client-id", "nope"))
        self.assertEqual((s, out["error"]), (401, "invalid_client"))
        s, _, out = self.token("oar-unknown")
        self.assertEqual((s, out["error"]), (400, "invalid_grant"))

    def test_revoke_and_invalidate(self):
        basic = {"Authorization": "Basic " + base64.b64encode(b"fake-client-id:fake-client-secret").decode()}
        s, _, out = self.fake.call("POST", "/oauth2/v1/revoke", form={"token": self.pair["access_token"]},
                                   headers=basic)
        self.assertEqual(s, 200)
        self.assertEqual(self.list({})[0], 401)
        self.assertEqual(self.token(self.pair["refresh_token"])[2]["error"], "invalid_grant")
        other = self.fake.mint()
        self.fake.control("config", {"invalidate_refresh_token": other["refresh_token"]})
        self.assertEqual(self.token(other["refresh_token"])[2]["error"], "invalid_grant")

    def test_checkbox_can_omit_false(self):
        self.fake.control("config", {"checkbox_omits_false": True})
        s, _, out = self.list({"filterByFormula": "{id} = 2"})
        self.assertNotIn("in_stock", out["records"][0]["fields"])

    def test_concurrent_calls(self):
        results = []

        def worker():
            for _ in range(10):
                results.append(self.list({"maxRecords": 3})[0])
        threads = [threading.Thread(target=worker) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(results, [200] * 80)
        self.assertEqual(len(self.fake.control("requests")["requests"]), 80)


# =====================================================================  Google

def b64url(b):
    return base64.urlsafe_b64encode(b).decode().rstrip("=")


class GoogleTest(FakeCase):
    provider = "google"

    @classmethod
    def setUpClass(cls):
        cls.keys = tempfile.mkdtemp(prefix="rg-fake-keys-")
        for name in ("sa", "other"):
            subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048",
                            "-out", os.path.join(cls.keys, name + ".pem")], check=True, capture_output=True)
        subprocess.run(["openssl", "pkey", "-in", os.path.join(cls.keys, "sa.pem"), "-pubout", "-out",
                        os.path.join(cls.keys, "sa.pub")], check=True, capture_output=True)
        cls.args = ("--sa-public-key", os.path.join(cls.keys, "sa.pub"))
        super().setUpClass()

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        shutil.rmtree(cls.keys, ignore_errors=True)

    def setUp(self):
        super().setUp()
        self.pair = self.fake.mint()

    def get(self, path, token=None, **params):
        q = urllib.parse.urlencode(params, doseq=True)
        return self.fake.call("GET", path + ("?" + q if q else ""),
                              headers={"Authorization": "Bearer " + (token or self.pair["access_token"])})

    def batch(self, ranges, token=None, **params):
        return self.get("/v4/spreadsheets/%s/values:batchGet" % SHEET_ID, token, ranges=ranges, **params)

    def test_batch_get_shapes_and_render_options(self):
        s, _, out = self.batch(["products!A1:J2", "products!A20:J23", "products!A39:J39"],
                               valueRenderOption="UNFORMATTED_VALUE", majorDimension="ROWS")
        self.assertEqual(s, 200, out)
        self.assertEqual(out["spreadsheetId"], SHEET_ID)
        header, first = out["valueRanges"][0]["values"]
        self.assertEqual(header, ["id", "name", "Brand Name", "description", "category", "price", "stock",
                                  "in_stock", "released", "updated_at"])
        self.assertEqual(first[:8], [1, "Red Sneaker", "Acme", "Classic red canvas sneaker", "shoes", 49.99, 5, True])
        self.assertEqual(first[8], 45301)  # 2024-01-10 as a serial number
        self.assertAlmostEqual(first[9], 45301 + 8 / 24, places=9)
        r = out["valueRanges"][1]
        self.assertEqual(r["range"], "products!A20:J23")
        self.assertEqual(r["values"][1][:3], [20, "", ""])  # empty cells inside a row are ""
        self.assertEqual(r["values"][2:], [[21], [22]])     # trailing empty cells are trimmed
        self.assertEqual(out["valueRanges"][2]["values"][0][6], "9007199254740993")  # a text cell
        s, _, out = self.batch(["products!I2:J2"], valueRenderOption="UNFORMATTED_VALUE",
                               dateTimeRenderOption="FORMATTED_STRING")
        self.assertEqual(out["valueRanges"][0]["values"], [["2024-01-10", "2024-01-10T08:00:00.000Z"]])
        s, _, out = self.batch(["products!F2:H2"])  # FORMATTED_VALUE by default
        self.assertEqual(out["valueRanges"][0]["values"], [["49.99", "5", "TRUE"]])
        s, _, out = self.batch(["products!A1:B3"], majorDimension="COLUMNS", valueRenderOption="UNFORMATTED_VALUE")
        self.assertEqual(out["valueRanges"][0]["values"], [["id", 1, 2], ["name", "Red Sneaker", "red sneaker"]])
        s, _, out = self.batch(["products!A500:B600"])
        self.assertNotIn("values", out["valueRanges"][0])
        s, _, out = self.get("/v4/spreadsheets/%s/values/%s" % (SHEET_ID, urllib.parse.quote("products!A1:A2")))
        self.assertEqual(out, {"range": "products!A1:A2", "majorDimension": "ROWS", "values": [["id"], ["1"]]})

    def test_a1_notation(self):
        ok = {"products!A1:J3": "products!A1:J3", "'products'!B2": "products!B2", "A1:B2": "products!A1:B2",
              "products": "products!A1:Z1000", "products!B:C": "products!B1:C1000",
              "products!A5:A": "products!A5:A1000", "products!1:2": "products!A1:Z2",
              "products!B2:A1": "products!A1:B2", "products!a1:b1": "products!A1:B1"}
        for given, want in ok.items():
            with self.subTest(range=given):
                s, _, out = self.batch([given])
                self.assertEqual((s, out["valueRanges"][0]["range"]), (200, want), out)
        for bad in ["nope!A1", "products!A", "products!1A", "products!A0", "'products!A1", "products!A1:",
                    "products!:B2", "products!ZZ1", "A", "products!A1:B2:C3", "products!R1C1"]:
            with self.subTest(range=bad):
                s, _, out = self.batch([bad])
                self.assertEqual((s, out["error"]["status"]), (400, "INVALID_ARGUMENT"), out)
        self.assertEqual(google.parse_range("'It''s'!A1", ["It's"], (10, 5)), ("It's", 1, 1, 1, 1))
        self.assertEqual(google.a1("It's", 1, 1, 2, 2), "'It''s'!A1:B2")

    def test_errors(self):
        s, _, out = self.batch(["products!A1"], token="ya29.nope")
        self.assertEqual((s, out["error"]["status"], out["error"]["code"]), (401, "UNAUTHENTICATED", 401))
        s, _, out = self.fake.call("GET", "/v4/spreadsheets/nope/values:batchGet?ranges=A1",
                                   headers={"Authorization": "Bearer " + self.pair["access_token"]})
        self.assertEqual((s, out["error"]["status"]), (404, "NOT_FOUND"))
        s, _, out = self.batch(["products!A1"], valueRenderOption="PRETTY")
        self.assertEqual(s, 400)
        tok = self.fake.mint(scope="https://www.googleapis.com/auth/calendar")["access_token"]
        s, _, out = self.batch(["products!A1"], token=tok)
        self.assertEqual((s, out["error"]["status"]), (403, "PERMISSION_DENIED"))

    def test_read_quota_per_user(self):
        self.fake.control("config", {"quota": {"reads_per_minute_per_user": 3}})
        statuses = [self.batch(["products!A1"])[0] for _ in range(4)]
        self.assertEqual(statuses, [200, 200, 200, 429])
        s, _, out = self.batch(["products!A1"])
        self.assertEqual(out["error"]["status"], "RESOURCE_EXHAUSTED")
        self.assertIn("per minute per user", out["error"]["message"])
        other = self.fake.mint()["access_token"]  # another user has its own quota
        self.assertEqual(self.batch(["products!A1"], token=other)[0], 200)

    def refresh(self, rt, **kw):
        return self.fake.call("POST", "/token", form=dict({
            "client_id": "fake-client-id", "client_secret": "fake-client-secret",
            "grant_type": "refresh_token", "refresh_token": rt}, **kw))

    def test_refresh_does_not_rotate_and_revoke_ends_it(self):
        s, _, a = self.refresh(self.pair["refresh_token"])
        self.assertEqual(s, 200, a)
        self.assertNotIn("refresh_token", a)
        self.assertEqual(a["token_type"], "Bearer")
        s, _, b = self.refresh(self.pair["refresh_token"])
        self.assertEqual(s, 200)
        self.assertEqual(self.batch(["products!A1"], token=b["access_token"])[0], 200)
        self.assertEqual(self.refresh(self.pair["refresh_token"], client_secret="x")[2]["error"], "invalid_client")
        self.assertEqual(self.refresh(self.pair["refresh_token"], client_id="x")[0], 401)
        s, _, out = self.fake.call("POST", "/revoke", form={"token": b["access_token"]})
        self.assertEqual(s, 200)
        s, _, out = self.refresh(self.pair["refresh_token"])
        self.assertEqual((s, out), (400, {"error": "invalid_grant",
                                          "error_description": "Token has been expired or revoked."}))
        s, _, out = self.fake.call("POST", "/revoke?token=" + urllib.parse.quote(self.pair["refresh_token"]))
        self.assertEqual((s, out["error"]), (400, "invalid_token"))
        # A client that fails authentication never reaches the refresh token.
        self.assertEqual([e["result"] for e in self.fake.control("refresh-log")["entries"]],
                         ["ok", "ok", "invalid_grant"])

    def jwt(self, key="sa", **claims):
        now = int(time.time())
        c = {"iss": "reader@readgate-test.iam.gserviceaccount.com",
             "scope": "https://www.googleapis.com/auth/spreadsheets.readonly",
             "aud": "https://oauth2.googleapis.com/token", "iat": now, "exp": now + 3600}
        c.update(claims)
        c = {k: v for k, v in c.items() if v is not None}
        signing = b64url(json.dumps({"alg": "RS256", "typ": "JWT"}).encode()) + "." + \
            b64url(json.dumps(c).encode())
        sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", os.path.join(self.keys, key + ".pem")],
                             input=signing.encode(), capture_output=True, check=True).stdout
        return signing + "." + b64url(sig)

    def exchange(self, assertion):
        return self.fake.call("POST", "/token", form={
            "grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion": assertion})

    def test_service_account_jwt_grant(self):
        s, _, out = self.exchange(self.jwt())
        self.assertEqual(s, 200, out)
        self.assertEqual(set(out), {"access_token", "expires_in", "token_type"})
        self.assertEqual(self.batch(["products!A1"], token=out["access_token"])[0], 200)
        now = int(time.time())
        bad = {"wrong key": (self.jwt(key="other"), "invalid_grant", "Invalid JWT Signature."),
               "too long": (self.jwt(exp=now + 7200), "invalid_grant", None),
               "expired": (self.jwt(iat=now - 7200, exp=now - 3600), "invalid_grant", None),
               "audience": (self.jwt(aud="https://example.com/token"), "invalid_grant", None),
               "issuer": (self.jwt(iss="someone@else.com"), "invalid_grant", None),
               "scope": (self.jwt(scope="https://www.googleapis.com/auth/nope"), "invalid_scope", None),
               "no scope": (self.jwt(scope=None), "invalid_scope", None),
               "garbage": ("a.b.c", "invalid_grant", None),
               "tampered": (self.jwt()[:-8] + "AAAAAAAA", "invalid_grant", "Invalid JWT Signature.")}
        for name, (assertion, err, desc) in bad.items():
            with self.subTest(case=name):
                s, _, out = self.exchange(assertion)
                self.assertEqual((s, out["error"]), (400, err), out)
                if desc:
                    self.assertEqual(out["error_description"], desc)


# =====================================================================  AI providers (shared)

class SlowCall(threading.Thread):
    """One provider call on a thread, timed: a slowed call runs while the test
    talks to the control API."""

    def __init__(self, fake, *args, **kw):
        super().__init__(daemon=True)
        self.fake, self.args, self.kw, self.result, self.elapsed = fake, args, kw, None, None

    def run(self):
        t0 = time.monotonic()
        self.result = self.fake.call(*self.args, **self.kw)
        self.elapsed = time.monotonic() - t0


class KeyedChecks:
    """Checks every AI fake passes (mixed into its FakeCase): slow mode,
    scripted statuses, the rate limit, the control API's keys. Subclasses
    define ok_call() and ok_call_args()."""

    def ok_call(self, key=None):
        raise NotImplementedError

    def test_slow_mode_keeps_the_control_api_answering(self):
        self.fake.control("config", {"faults": [{"delay_s": 0.8, "count": 1}]})
        call = SlowCall(self.fake, *self.ok_call_args())
        call.start()
        time.sleep(0.15)
        self.assertEqual(self.fake.control("config")["faults"], [])     # the fault was taken
        self.assertEqual(self.fake.control("requests")["requests"], [])  # not answered yet
        self.assertTrue(call.is_alive())  # the control API answered while the call sleeps
        call.join(10)
        self.assertIn(call.result[0], (200, 201), call.result)
        self.assertGreaterEqual(call.elapsed, 0.8)
        self.assertEqual(len(self.fake.control("requests")["requests"]), 1)
        self.assertLess(self.ok_call()[0], 300)  # back to normal: count was 1

    def test_scripted_statuses_and_back_to_normal(self):
        self.fake.control("config", {"faults": [{"status": 503, "count": 2}]})
        self.assertEqual([self.ok_call()[0] for _ in range(3)][:2], [503, 503])
        self.fake.control("config", {"faults": [{"status": 500, "count": 5}]})
        self.assertEqual(self.ok_call()[0], 500)
        self.fake.control("config", {"clear_faults": True})
        self.assertLess(self.ok_call()[0], 300)
        self.fake.control("config", {"faults": [{"status": 429, "headers": {"Retry-After": "7"}}]})
        s, hdrs, _ = self.ok_call()
        self.assertEqual((s, hdrs.get("Retry-After")), (429, "7"))

    def test_real_rate_limit_per_key(self):
        self.fake.control("config", {"throttle": {"enabled": True, "limit": 2, "window_s": 30}})
        statuses = [self.ok_call()[0] for _ in range(3)]
        self.assertLess(max(statuses[:2]), 300)
        s, hdrs, _ = self.ok_call()
        self.assertEqual(s, 429)
        self.assertTrue(1 <= int(hdrs["Retry-After"]) <= 30, hdrs)
        self.fake.control("config", {"throttle": {"enabled": False}})
        self.assertLess(self.ok_call()[0], 300)

    def test_control_api(self):
        s, _, out = self.fake.call("POST", "/_fake/tokens", {})
        self.assertEqual(s, 400, out)  # no OAuth here
        for bad in ({"api_keys": "k"}, {"api_keys": [""]}, {"throttle": {"limit": -1}},
                    {"throttle": {"rps": 1}}, {"faults": [{"status": "429"}]},
                    {"faults": [{"status": 429, "headers": {"Retry-After": 7}}]}):
            with self.subTest(config=bad):
                self.assertEqual(self.fake.call("POST", "/_fake/config", bad)[0], 400)
        self.assertLess(self.ok_call()[0], 300)
        self.fake.control("config", {"api_keys": ["rotated-key"]})
        self.assertEqual(self.ok_call()[0], 401)
        self.assertLess(self.ok_call(key="rotated-key")[0], 300)
        self.fake.control("reset", {})
        self.assertLess(self.ok_call()[0], 300)
        self.assertEqual(len(self.fake.control("requests")["requests"]), 1)


# =====================================================================  OpenAI Realtime

OPENAI_KEY = "sk-test-readgate-one"
OPENAI_SESSION = {"type": "realtime", "model": "gpt-realtime", "instructions": "Answer from the catalog.",
                  "output_modalities": ["audio"],
                  "audio": {"output": {"voice": "marin"},
                            "input": {"turn_detection": {"type": "semantic_vad", "eagerness": "low"}}},
                  "tools": [{"type": "function", "name": "lookup_product", "description": "Find a product",
                             "parameters": {"type": "object", "properties": {"q": {"type": "string"}}}},
                            {"type": "mcp", "server_label": "catalog", "server_url": "https://mcp.example.com/sse",
                             "require_approval": "never"}],
                  "tool_choice": "auto"}


class OpenAIRealtimeTest(KeyedChecks, FakeCase):
    provider = "openai"
    args = ("--api-key", OPENAI_KEY, "--api-key", "sk-test-readgate-two")

    def secret(self, body, key=OPENAI_KEY, headers=None, **kw):
        auth = {"Authorization": "Bearer " + key} if key else {}
        return self.fake.call("POST", "/v1/realtime/client_secrets", body, dict(auth, **(headers or {})), **kw)

    def ok_call_args(self):
        return ("POST", "/v1/realtime/client_secrets", {}, {"Authorization": "Bearer " + OPENAI_KEY})

    def ok_call(self, key=OPENAI_KEY):
        return self.secret({}, key)

    def test_client_secret_echoes_the_session(self):
        body = {"expires_after": {"anchor": "created_at", "seconds": 120}, "session": OPENAI_SESSION}
        s, _, out = self.secret(body)
        self.assertEqual(s, 200, out)
        self.assertEqual(set(out), {"value", "expires_at", "session"})
        self.assertRegex(out["value"], r"^ek_[0-9a-f]{32}$")
        self.assertAlmostEqual(out["expires_at"], time.time() + 120, delta=5)
        sess = out["session"]
        self.assertEqual((sess["type"], sess["object"]), ("realtime", "realtime.session"))
        self.assertRegex(sess["id"], r"^sess_\w{21}$")
        # The whole configuration comes back: readgate must strip it before a browser sees it.
        for k in ("model", "instructions", "tools", "tool_choice", "output_modalities"):
            self.assertEqual(sess[k], OPENAI_SESSION[k])
        self.assertEqual(sess["audio"]["output"], {"format": {"type": "audio/pcm", "rate": 24000},
                                                   "voice": "marin", "speed": 1.0})
        self.assertEqual(sess["audio"]["input"]["turn_detection"]["eagerness"], "low")
        self.assertEqual(self.secret(body, key="sk-test-readgate-two")[0], 200)
        rec = self.fake.control("requests")["requests"][0]
        self.assertEqual(rec["json"], body)
        self.assertEqual(rec["headers"]["Authorization"], "Bearer " + common.secret_digest(OPENAI_KEY))
        self.assertEqual(rec["response"]["value"], common.secret_digest(out["value"]))
        self.assertEqual(rec["response"]["session"], sess)

    def test_defaults_and_transcription(self):
        s, _, out = self.secret({})
        self.assertEqual(s, 200, out)
        self.assertAlmostEqual(out["expires_at"], time.time() + 600, delta=5)  # 10 minutes by default
        self.assertEqual(out["session"]["model"], "gpt-realtime")
        self.assertTrue(out["session"]["instructions"])  # the server's default instructions
        for seconds in (10, 7200):
            self.assertEqual(self.secret({"expires_after": {"seconds": seconds}})[0], 200)
        s, _, out = self.secret({"session": {"type": "transcription",
                                             "audio": {"input": {"transcription": {"model": "gpt-4o-transcribe"}}}}})
        self.assertEqual((s, out["session"]["object"]), (200, "realtime.transcription_session"))
        self.assertEqual(out["session"]["audio"]["input"]["transcription"], {"model": "gpt-4o-transcribe"})

    def test_wrong_or_missing_key(self):
        s, _, out = self.secret({}, key="sk-test-wrong-key-0000")
        self.assertEqual((s, out["error"]["code"], out["error"]["type"]), (401, "invalid_api_key",
                                                                           "invalid_request_error"))
        self.assertIn("Incorrect API key provided: sk-", out["error"]["message"])
        self.assertNotIn("sk-test-wrong-key-0000", out["error"]["message"])  # masked
        s, _, out = self.secret({}, key=None)
        self.assertEqual((s, out["error"]["code"]), (401, None))
        self.assertEqual(out["error"]["message"], "Missing bearer or basic authentication in header")

    def test_bad_shapes(self):
        fn = {"type": "function", "name": "f", "parameters": {"type": "object"}}
        cases = {
            "seconds too small": ({"expires_after": {"seconds": 9}}, "expires_after.seconds",
                                  "integer_below_min_value"),
            "seconds too large": ({"expires_after": {"seconds": 7201}}, "expires_after.seconds",
                                  "integer_above_max_value"),
            "seconds as text": ({"expires_after": {"seconds": "60"}}, "expires_after.seconds", "invalid_type"),
            "anchor": ({"expires_after": {"anchor": "now", "seconds": 60}}, "expires_after.anchor",
                       "invalid_value"),
            "no session type": ({"session": {"model": "gpt-realtime"}}, "session.type",
                                "missing_required_parameter"),
            "unknown session type": ({"session": {"type": "conversation"}}, "session.type", "invalid_value"),
            "beta shape": ({"session": {"type": "realtime", "modalities": ["audio"]}}, "session.modalities",
                           "unknown_parameter"),
            "unknown top-level": ({"model": "gpt-realtime"}, "model", "unknown_parameter"),
            "tools not a list": ({"session": {"type": "realtime", "tools": fn}}, "session.tools", "invalid_type"),
            "tool not an object": ({"session": {"type": "realtime", "tools": ["f"]}}, "session.tools[0]",
                                   "invalid_type"),
            "tool without type": ({"session": {"type": "realtime", "tools": [{"name": "f"}]}},
                                  "session.tools[0].type", "missing_required_parameter"),
            "tool type": ({"session": {"type": "realtime", "tools": [fn, {"type": "web_search"}]}},
                          "session.tools[1].type", "invalid_value"),
            "chat-style function": ({"session": {"type": "realtime", "tools": [
                {"type": "function", "function": {"name": "f", "parameters": {}}}]}},
                "session.tools[0].function", "unknown_parameter"),
            "function without name": ({"session": {"type": "realtime", "tools": [
                {"type": "function", "parameters": {}}]}}, "session.tools[0].name", "missing_required_parameter"),
            "function name": ({"session": {"type": "realtime", "tools": [dict(fn, name="a b")]}},
                              "session.tools[0].name", "invalid_value"),
            "function without parameters": ({"session": {"type": "realtime", "tools": [
                {"type": "function", "name": "f"}]}}, "session.tools[0].parameters", "missing_required_parameter"),
            "mcp without label": ({"session": {"type": "realtime", "tools": [
                {"type": "mcp", "server_url": "https://x.example"}]}}, "session.tools[0].server_label",
                "missing_required_parameter"),
            "mcp without url": ({"session": {"type": "realtime", "tools": [
                {"type": "mcp", "server_label": "x"}]}}, "session.tools[0].server_url",
                "missing_required_parameter"),
            "both modalities": ({"session": {"type": "realtime", "output_modalities": ["text", "audio"]}},
                                "session.output_modalities", "invalid_value"),
        }
        for name, (body, param, code) in cases.items():
            with self.subTest(case=name):
                s, _, out = self.secret(body)
                self.assertEqual((s, out["error"]["param"], out["error"]["code"]), (400, param, code), out)
                self.assertEqual(out["error"]["type"], "invalid_request_error")
        s, _, out = self.secret(None, raw="{not json", headers={"Content-Type": "application/json"})
        self.assertEqual((s, out["error"]["type"]), (400, "invalid_request_error"))

    def test_rate_limit_answers(self):
        self.fake.control("config", {"faults": [{"status": 429, "count": 2}]})
        for _ in range(2):
            s, hdrs, out = self.secret({})
            self.assertEqual((s, hdrs.get("Retry-After")), (429, "1"))
            self.assertEqual((out["error"]["type"], out["error"]["code"]), ("requests", "rate_limit_exceeded"))
            self.assertEqual(hdrs.get("x-ratelimit-remaining-requests"), "0")
        self.assertEqual(self.secret({})[0], 200)
        self.fake.control("config", {"faults": [{"kind": "insufficient_quota"}]})
        s, _, out = self.secret({})
        self.assertEqual((s, out["error"]["code"]), (429, "insufficient_quota"))
        self.fake.control("config", {"throttle": {"enabled": True, "limit": 1, "window_s": 30}})
        self.assertEqual(self.secret({})[0], 200)
        self.assertEqual(self.secret({})[0], 429)
        self.assertEqual(self.secret({}, key="sk-test-readgate-two")[0], 200)  # the limit is per key


# =====================================================================  Retell

RETELL_KEY = "key_test_readgate_one"


class RetellTest(KeyedChecks, FakeCase):
    provider = "retell"
    args = ("--api-key", RETELL_KEY, "--agent", "agent_versions:3", "--agent", "agent_plain")

    def web_call(self, body, key=RETELL_KEY, headers=None, **kw):
        auth = {"Authorization": "Bearer " + key} if key else {}
        return self.fake.call("POST", "/v2/create-web-call", body, dict(auth, **(headers or {})), **kw)

    def ok_call_args(self):
        return ("POST", "/v2/create-web-call", {"agent_id": "agent_plain"},
                {"Authorization": "Bearer " + RETELL_KEY})

    def ok_call(self, key=RETELL_KEY):
        return self.web_call({"agent_id": "agent_plain"}, key)

    def test_create_web_call(self):
        body = {"agent_id": "agent_versions", "metadata": {"user": "u-1"},
                "retell_llm_dynamic_variables": {"customer_name": "Ada"}}
        s, _, out = self.web_call(body)
        self.assertEqual(s, 201, out)
        self.assertEqual((out["call_type"], out["call_status"], out["agent_id"], out["agent_version"]),
                         ("web_call", "registered", "agent_versions", 3))
        self.assertEqual(len(out["access_token"].split(".")), 3)
        self.assertRegex(out["call_id"], r"^[A-Za-z0-9]{32}$")
        self.assertEqual((out["metadata"], out["retell_llm_dynamic_variables"]),
                         (body["metadata"], body["retell_llm_dynamic_variables"]))
        for version, want in ((2, 2), (0, 0), ("latest", 3), ("latest_published", 3)):
            s, _, out = self.web_call({"agent_id": "agent_versions", "agent_version": version})
            self.assertEqual((s, out["agent_version"]), (201, want))
        rec = self.fake.control("requests")["requests"][0]
        self.assertEqual(rec["json"], body)
        self.assertTrue(rec["response"]["access_token"].startswith("sha256:"))

    def test_wrong_key(self):
        for key in ("key_wrong", None):
            s, _, out = self.web_call({"agent_id": "agent_plain"}, key)
            self.assertEqual((s, out), (401, {"status": "error", "message": "API key is missing or invalid."}))

    def test_bad_shapes_and_unknown_agents(self):
        bad = {"status": "error", "message": "Invalid request format, please check API reference."}
        for body in ({}, {"agent_id": 7}, {"agent_id": ""}, {"agent_id": "agent_plain", "metadata": "x"},
                     {"agent_id": "agent_plain", "retell_llm_dynamic_variables": {"n": 1}},
                     {"agent_id": "agent_plain", "agent_version": -1},
                     {"agent_id": "agent_plain", "agent_version": "v2"}, ["agent_plain"]):
            with self.subTest(body=body):
                self.assertEqual(self.web_call(body)[::2], (400, bad))
        self.assertEqual(self.web_call(None, raw="{nope", headers={"Content-Type": "application/json"})[::2],
                         (400, bad))
        missing = {"status": "error", "message": "Cannot find requested asset under given api key."}
        for body in ({"agent_id": "agent_unknown"}, {"agent_id": "agent_versions", "agent_version": 4},
                     {"agent_id": "agent_plain", "agent_version": "prod"}):
            with self.subTest(body=body):
                self.assertEqual(self.web_call(body)[::2], (422, missing))

    def test_documented_error_bodies(self):
        self.fake.control("config", {"faults": [{"status": 429}, {"status": 402}, {"status": 500}]})
        s, hdrs, out = self.ok_call()
        self.assertEqual((s, hdrs.get("Retry-After"), out), (429, "1", {
            "status": "error", "message": "Account rate limited, please throttle your requests."}))
        self.assertEqual(self.ok_call()[::2], (402, {"status": "error",
                                                     "message": "Trial has ended, please add payment method."}))
        self.assertEqual(self.ok_call()[::2], (500, {"status": "error",
                                                     "message": "An unexpected server error occurred."}))


# =====================================================================  ElevenLabs

ELEVEN_KEY = "sk_test_readgate_one"
ELEVEN_AGENT = "agent_01jrgtest000000000000000001"


class ElevenLabsTest(KeyedChecks, FakeCase):
    provider = "elevenlabs"
    args = ("--api-key", ELEVEN_KEY, "--agent", ELEVEN_AGENT)

    def get(self, path, key=ELEVEN_KEY, **params):
        q = urllib.parse.urlencode(params)
        return self.fake.call("GET", path + ("?" + q if q else ""), headers={"xi-api-key": key} if key else {})

    def ok_call_args(self):
        return ("GET", "/v1/convai/conversation/token?agent_id=" + ELEVEN_AGENT, None, {"xi-api-key": ELEVEN_KEY})

    def ok_call(self, key=ELEVEN_KEY):
        return self.get("/v1/convai/conversation/token", key, agent_id=ELEVEN_AGENT)

    def test_token_and_signed_url(self):
        s, _, out = self.ok_call()
        self.assertEqual((s, set(out)), (200, {"token"}))
        self.assertEqual(len(out["token"].split(".")), 3)
        for path in ("/v1/convai/conversation/get-signed-url", "/v1/convai/conversation/get_signed_url"):
            s, _, out = self.get(path, agent_id=ELEVEN_AGENT, include_conversation_id="true")
            self.assertEqual((s, set(out)), (200, {"signed_url"}))
            url = urllib.parse.urlsplit(out["signed_url"])
            self.assertEqual((url.scheme, url.path), ("wss", "/v1/convai/conversation"))
            q = urllib.parse.parse_qs(url.query)
            self.assertEqual(q["agent_id"], [ELEVEN_AGENT])
            self.assertTrue(q["conversation_signature"][0])
        rec = self.fake.control("requests")["requests"][0]
        headers = {k.lower(): v for k, v in rec["headers"].items()}
        self.assertEqual(headers["xi-api-key"], common.secret_digest(ELEVEN_KEY))
        self.assertEqual(rec["query"], {"agent_id": [ELEVEN_AGENT]})

    def test_wrong_or_missing_key(self):
        s, _, out = self.ok_call(key="sk_wrong")
        self.assertEqual((s, out["detail"]["code"], out["detail"]["status"], out["detail"]["message"]),
                         (401, "invalid_api_key", "invalid_api_key", "Invalid API key"))
        s, _, out = self.ok_call(key=None)
        self.assertEqual((s, out["detail"]["status"]), (401, "needs_authorization"))

    def test_agent_id_required_and_known(self):
        s, _, out = self.get("/v1/convai/conversation/token")
        self.assertEqual((s, out["detail"][0]["loc"]), (422, ["query", "agent_id"]))
        s, _, out = self.get("/v1/convai/conversation/get-signed-url", agent_id="agent_nope")
        self.assertEqual((s, out["detail"]["type"], out["detail"]["param"]), (404, "not_found", "agent_id"))
        s, _, out = self.get("/v1/convai/conversation/get-signed-url", agent_id=ELEVEN_AGENT,
                             include_conversation_id="maybe")
        self.assertEqual((s, out["detail"][0]["type"]), (422, "bool_parsing"))

    def test_rate_limit_bodies(self):
        self.fake.control("config", {"faults": [{"status": 429}, {"kind": "concurrent"}]})
        s, hdrs, out = self.ok_call()
        self.assertEqual((s, hdrs.get("Retry-After"), out["detail"]["code"]), (429, "1", "rate_limit_exceeded"))
        s, _, out = self.ok_call()
        self.assertEqual((s, out["detail"]["code"]), (429, "concurrent_limit_exceeded"))


# =====================================================================  Vapi

VAPI_ORG = "0f3c2a1e-readgate-test-org"
VAPI_KEY = "vapi-private-key-for-tests"
VAPI_ASSISTANT = "1cbf8c70-5fd7-4f61-a220-376ab35be1b0"
VAPI_ORIGIN = "https://shop.example.com"
VAPI_INVALID = {"message": "Invalid Key. Hot tip, you may be using the private key instead of the public key, "
                           "or vice versa.", "error": "Unauthorized", "statusCode": 401}


def hs256(payload, key, header=None):
    signing = b64url(json.dumps(header or {"alg": "HS256", "typ": "JWT"}).encode()) + "." + \
        b64url(json.dumps(payload).encode())
    return signing + "." + b64url(hmac.new(key.encode(), signing.encode(), hashlib.sha256).digest())


class VapiTest(KeyedChecks, FakeCase):
    provider = "vapi"
    args = ("--org-id", VAPI_ORG, "--private-key", VAPI_KEY, "--assistant", VAPI_ASSISTANT,
            "--assistant", "other-assistant")

    def jwt(self, key=VAPI_KEY, header=None, restrictions="default", **claims):
        now = int(time.time())
        payload = {"orgId": VAPI_ORG, "token": {"tag": "public"}, "iat": now, "exp": now + 600}
        if restrictions == "default":
            restrictions = {"enabled": True, "allowedOrigins": [VAPI_ORIGIN],
                            "allowedAssistantIds": [VAPI_ASSISTANT], "allowTransientAssistant": False}
        if restrictions is not None:
            payload["token"]["restrictions"] = restrictions
        payload.update(claims)
        return hs256({k: v for k, v in payload.items() if v is not None}, key, header)

    def web_call(self, token, body=None, origin=VAPI_ORIGIN):
        headers = {"Authorization": "Bearer " + token} if token else {}
        if origin:
            headers["Origin"] = origin
        return self.fake.call("POST", "/call/web", {"assistantId": VAPI_ASSISTANT} if body is None else body,
                              headers)

    def ok_call_args(self):
        return ("POST", "/call/web", {"assistantId": VAPI_ASSISTANT},
                {"Authorization": "Bearer " + self.jwt(), "Origin": VAPI_ORIGIN})

    def ok_call(self, key=VAPI_KEY):
        return self.web_call(self.jwt(key=key))

    def test_public_jwt_starts_a_web_call(self):
        s, _, out = self.web_call(self.jwt(), {"assistantId": VAPI_ASSISTANT, "metadata": {"user": "u-1"}})
        self.assertEqual(s, 201, out)
        self.assertEqual((out["type"], out["status"], out["orgId"], out["assistantId"]),
                         ("webCall", "queued", VAPI_ORG, VAPI_ASSISTANT))
        self.assertRegex(out["id"], r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-a[0-9a-f]{3}-[0-9a-f]{12}$")
        self.assertTrue(out["webCallUrl"].startswith("https://"))
        self.assertEqual(out["metadata"], {"user": "u-1"})
        # The origin is compared as browsers send it.
        self.assertEqual(self.web_call(self.jwt(), origin="HTTPS://SHOP.example.com/")[0], 201)
        # No restrictions: any origin, any known assistant, transient assistants.
        free = self.jwt(restrictions=None)
        self.assertEqual(self.web_call(free, {"assistantId": "other-assistant"}, origin=None)[0], 201)
        self.assertEqual(self.web_call(free, {"assistant": {"firstMessage": "hi"}})[0], 201)

    def test_rejected_jwts(self):
        now = int(time.time())
        cases = {
            "bad signature": (self.jwt(key="another-orgs-private-key"), "signature"),
            "tampered": (self.jwt()[:-6] + "AAAAAA", "signature"),
            "expired": (self.jwt(iat=now - 700, exp=now - 100), "expired"),
            "no exp": (self.jwt(exp=None), "exp missing"),
            "not yet valid": (self.jwt(nbf=now + 300), "not yet valid"),
            "private tag": (self.jwt(token={"tag": "private"}), "tag"),
            "no token claim": (self.jwt(token=None), "tag"),
            "other org": (self.jwt(orgId="someone-else"), "org"),
            "alg none": (self.jwt(header={"alg": "none", "typ": "JWT"}), "alg"),
            "disabled": (self.jwt(restrictions={"enabled": False}), "disabled"),
            "garbage": ("not.a.jwt", "malformed"),
        }
        for name, (token, reason) in cases.items():
            with self.subTest(case=name):
                s, hdrs, out = self.web_call(token)
                self.assertEqual((s, out, hdrs.get("X-Fake-Reason")), (401, VAPI_INVALID, reason))
        for origin in ("https://evil.example.com", None):
            with self.subTest(origin=origin):
                s, hdrs, out = self.web_call(self.jwt(), origin=origin)
                self.assertEqual((s, out, hdrs.get("X-Fake-Reason")), (401, VAPI_INVALID, "origin"))
        s, _, out = self.web_call(None)
        self.assertEqual((s, out["message"]), (401, "Missing Authorization Header."))
        # A null in allowedOrigins: Vapi's 500 (VapiAI/client-sdk-web#108).
        s, _, out = self.web_call(self.jwt(restrictions={"allowedOrigins": [None]}))
        self.assertEqual((s, out["statusCode"]), (500, 500))

    def test_assistant_restrictions_and_body(self):
        s, hdrs, _ = self.web_call(self.jwt(), {"assistantId": "other-assistant"})
        self.assertEqual((s, hdrs.get("X-Fake-Reason")), (401, "assistant"))
        # allowedAssistantIds given: "allowTransientAssistant ... is automatically false".
        s, hdrs, _ = self.web_call(self.jwt(restrictions={"allowedAssistantIds": [VAPI_ASSISTANT]}),
                                   {"assistant": {"firstMessage": "hi"}})
        self.assertEqual((s, hdrs.get("X-Fake-Reason")), (401, "transient"))
        no_transient = self.jwt(restrictions={"allowTransientAssistant": False})
        s, hdrs, _ = self.web_call(no_transient, {"assistant": {"firstMessage": "hi"}})
        self.assertEqual((s, hdrs.get("X-Fake-Reason")), (401, "transient"))
        free = self.jwt(restrictions=None)
        s, _, out = self.web_call(free, {"assistantId": "no-such-assistant"})
        self.assertEqual((s, out["statusCode"]), (400, 400))
        s, _, out = self.web_call(free, {})
        self.assertEqual((s, out["error"]), (400, "Bad Request"))


# =====================================================================  parsers on random input

class ParserFuzzTest(unittest.TestCase):
    """Random strings of syntax characters: every parser answers with a value
    or its documented error, never another exception."""

    ALPHABET = list("()[]{}:'\"\\*-$!=<>&,.#@ \t\naAzZ019é運👟\x00") + [
        "AND ", "OR ", "NOT ", "title:", "{name}", "AND(", "FIND(", "query", "products", "first:",
        "'''", '"""', "\\u00", "1e5", "1e999", "LEFT(", "MID(", "...", "!A1:", "'s'!", "$x"]

    def strings(self, seed, n=3000):
        import random
        rnd = random.Random(seed)
        for _ in range(n):
            yield "".join(rnd.choice(self.ALPHABET) for _ in range(rnd.randint(0, 24)))
        yield "(" * 5000 + "a" + ")" * 5000
        yield "-" * 5000 + "a"
        yield "{ a " * 5000
        yield "[" * 5000

    def test_parsers_fail_only_in_documented_ways(self):
        fields = set(common.COLUMNS)
        for text in self.strings(1):
            try:
                shopify_search.evaluate(shopify_search.parse(text), lambda t: True)
            except shopify_search.SearchSyntaxError:
                pass
            try:
                tree = airtable_formula.parse(text, fields)
                airtable_formula.evaluate(tree, {"id": "rec1"}, lambda r, n: None)
            except airtable_formula.FormulaError:
                pass
            try:
                gql.parse(text)
            except gql.GraphQLError:
                pass
            try:
                google.parse_range(text, ["products"], (1000, 26))
            except google.RangeError:
                pass


# =====================================================================  control API

class ControlTest(FakeCase):
    provider = "airtable"

    def test_config_validation_and_reset(self):
        for bad in ({"colour": 1}, {"faults": [{"status": 500, "scope": "everything"}]},
                    {"faults": [{"count": 2}]}, {"throttle": {"rps": 1}},
                    {"invalidate_refresh_token": "oar-unknown"}, {"access_token_ttl_s": "soon"}):
            with self.subTest(config=bad):
                s, _, out = self.fake.call("POST", "/_fake/config", bad)
                self.assertEqual(s, 400, out)
        self.fake.control("config", {"access_token_ttl_s": 1})
        pair = self.fake.mint()
        self.assertEqual(pair["expires_in"], 1)
        time.sleep(1.1)
        s, _, _ = self.fake.call("POST", "/v0/%s/products/listRecords" % BASE, {},
                                 {"Authorization": "Bearer " + pair["access_token"]})
        self.assertEqual(s, 401)
        self.fake.control("reset", {})
        self.assertEqual(self.fake.control("requests")["requests"], [])
        self.assertEqual(self.fake.control("grants")["grants"], [])
        self.assertEqual(self.fake.control("config")["config"]["access_token_ttl_s"], 3600)
        self.assertEqual(self.fake.call("GET", "/_fake/nope")[0], 404)

    def test_answer_held_after_the_refresh_happened(self):
        pair = self.fake.mint()
        self.fake.control("config", {"faults": [{"delay_after_s": 0.5, "scope": "oauth"}]})
        t0 = time.monotonic()
        s, _, out = self.fake.call("POST", "/oauth2/v1/token", form={
            "grant_type": "refresh_token", "refresh_token": pair["refresh_token"]},
            headers={"Authorization": "Basic " + base64.b64encode(b"fake-client-id:fake-client-secret").decode()})
        self.assertEqual(s, 200)
        self.assertGreaterEqual(time.monotonic() - t0, 0.5)
        # Recorded when it arrived, before the answer was held.
        self.assertEqual(self.fake.control("refresh-log")["entries"][0]["result"], "ok")

    def test_oauth_scoped_faults(self):
        self.fake.control("config", {"faults": [{"status": 503, "scope": "oauth"}]})
        s, _, _ = self.fake.call("POST", "/oauth2/v1/token", form={"grant_type": "refresh_token"})
        self.assertEqual(s, 503)
        s, _, _ = self.fake.call("POST", "/oauth2/v1/token", form={"grant_type": "refresh_token"})
        self.assertEqual(s, 401)  # no client credentials: the fault was used up


if __name__ == "__main__":
    unittest.main(verbosity=1)
