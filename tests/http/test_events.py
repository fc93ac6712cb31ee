"""POST /v1/{site}/events (structural widget analytics) and
POST /v1/{site}/webhooks/shopify (signed by Shopify, app/uninstalled ends the
connection)."""

import base64
import hashlib
import hmac
import json
import os
import re
import sys
import time
import unittest

import harness
from harness import SITE
from test_oauth import CLIENT_ID, CLIENT_SECRET, Gateway, mint, products

sys.path.insert(0, os.path.join(harness.REPO, "tests", "fakes"))
from launch import FakeProcess  # noqa: E402


def wait_for(pred, timeout, what):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.2)
    raise AssertionError("timed out waiting for " + what)


class EventsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.env = harness.env()
        cls.c = cls.env.client
        cls.s = cls.c.session(SITE, api_key=cls.env.api_key)

    def send(self, body, **kw):
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        return self.c.signed(self.s, "POST", "/v1/%s/events" % SITE, raw, **kw)

    def totals(self):
        st, body = self.env.main.admin_get("/events?site=" + SITE)
        self.assertEqual(st, 200)
        return json.loads(body)["events"]

    def count_of(self, event, collection=None, field=None, latency=None):
        for r in self.totals():
            if (r["event"], r.get("collection"), r.get("field"), r.get("latency")) == (
                    event, collection, field, latency):
                return r["count"], r["items"]
        return 0, 0

    def test_counts_reach_the_store_and_metrics(self):
        before = self.count_of("results_shown", "products", None, "lt_300ms")
        before_f = self.count_of("results_shown", "products", "price")
        for _ in range(3):
            r = self.send({"event": "results_shown", "collection": "products",
                           "fields": ["price", "category"], "count": 7, "latency_ms": 120})
            self.assertEqual(r.status, 202, r)
            self.assertEqual(r.json, {"accepted": True})
        wait_for(lambda: self.count_of("results_shown", "products", None, "lt_300ms")[0]
                 >= before[0] + 3, 10, "the counts in the state store")
        self.assertEqual(self.count_of("results_shown", "products", None, "lt_300ms"),
                         (before[0] + 3, before[1] + 21))
        self.assertEqual(self.count_of("results_shown", "products", "price"),
                         (before_f[0] + 3, before_f[1] + 21))
        st, m = self.env.main.admin_get("/metrics")
        self.assertRegex(m.decode(), r'readgate_widget_events_total\{site="%s",event="results_shown"\} '
                         r'[1-9]\d*' % SITE)
        # The stored rows carry names and numbers only.
        import sqlite3
        db = sqlite3.connect(os.path.join(self.env.main.dir, "state.db"))
        rows = db.execute("SELECT * FROM widget_events").fetchall()
        db.close()
        self.assertTrue(rows)

    def test_values_and_text_are_refused(self):
        cases = [
            ({"event": "query_sent", "query": "red sneakers"}, "invalid_event", "query"),
            ({"event": "query_sent", "search": "red"}, "invalid_event", "search"),
            ({"event": "voice_ended", "transcript": "hello"}, "invalid_event", "transcript"),
            ({"event": "query_sent", "collection": "products",
              "filters": [{"field": "price", "op": "lt", "value": 50}]}, "invalid_event", "filters"),
            ({"event": "typed: red shoes"}, "invalid_event", "event"),
            ({"event": "query_sent", "collection": "orders"}, "unknown_collection", "collection"),
            ({"event": "query_sent", "collection": "products", "fields": ["red shoes"]},
             "unknown_field", "fields[0]"),
            ({"event": "query_sent", "collection": "products", "fields": ["price", "price"]},
             "invalid_event", "fields[1]"),
            ({"event": "query_sent", "fields": ["price"]}, "invalid_event", "fields"),
            ({"event": "query_sent", "count": "12"}, "invalid_event", "count"),
            ({"event": "query_sent", "count": -1}, "invalid_event", "count"),
            ({"event": "query_sent", "latency_ms": 1.5}, "invalid_event", "latency_ms"),
            ({}, "invalid_event", "event"),
        ]
        before = self.totals()
        for body, code, field in cases:
            with self.subTest(body=body):
                r = self.send(body)
                self.assertEqual((r.status, r.code), (400, code), r)
                self.assertEqual(r.json["error"].get("field"), field, r)
        r = self.send(b"[1,2]")
        self.assertEqual((r.status, r.code), (400, "invalid_json"), r)
        time.sleep(1.5)  # a write would have happened by now
        self.assertEqual(self.totals(), before, "a refused event changed nothing")
        self.assertNotIn("red sneakers", self.env.main.log_text())

    def test_signed_only(self):
        r = self.c.request("POST", "/v1/%s/events" % SITE, b'{"event":"widget_opened"}',
                           [("Content-Type", "application/json")])
        self.assertEqual((r.status, r.code), (401, "missing_signature"), r)
        r = self.send({"event": "widget_opened"}, content_type="text/plain")
        self.assertEqual((r.status, r.code), (415, "unsupported_media_type"), r)

    def test_rate_limits(self):
        env = self.env
        site = env.lite_site()
        limits = dict(harness.HIGH_RATE_LIMITS)
        limits["events"] = {"per_site_per_min": 600, "burst_per_s": 5}
        srv = env.start_server("events-rl", {harness.LITE: site}, extra={"rate_limits": limits})
        s = srv.client.session(harness.LITE, api_key=env.lite_api_key)
        statuses = [srv.client.signed(s, "POST", "/v1/%s/events" % harness.LITE,
                                      b'{"event":"widget_opened"}', retry_429=False).status
                    for _ in range(8)]
        self.assertEqual(statuses[:5], [202] * 5, statuses)
        self.assertIn(429, statuses[5:], statuses)


SHOP_SITE = "hooksite01"
SHOP = "demo-shop.myshopify.com"


class ShopifyWebhookTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        env = cls.env = harness.env()
        cls.fake = FakeProcess("shopify")
        cls.key = harness.new_api_key()
        src = {"adapter": "shopify",
               "options": {"shop": SHOP, "base_url": cls.fake.url},
               "oauth": {"provider": "shopify", "client_id": CLIENT_ID,
                         "client_secret": env.encrypt(SHOP_SITE, "sources.shop.oauth.client_secret",
                                                      CLIENT_SECRET),
                         "token_url": cls.fake.url + "/admin/oauth/access_token",
                         "revoke_url": cls.fake.url + "/admin/api_permissions/current.json"}}
        doc = {"site_id": SHOP_SITE, "allowed_origins": ["hook.example.com"],
               "api_keys": [harness.api_key_hash(cls.key)], "sources": {"shop": src},
               "collections": {"c_shop": products("shop")}}
        cls.srv = env.start_server("webhooks", {SHOP_SITE: doc},
                                   extra={"audit_log": "audit.log"})
        cls.gw = Gateway(env, cls.srv, cls.key)

    @classmethod
    def tearDownClass(cls):
        cls.fake.stop()

    def hook(self, topic, body, secret=CLIENT_SECRET, shop=SHOP, sign=True, signature=None):
        raw = json.dumps(body).encode()
        h = [("Content-Type", "application/json"), ("X-Shopify-Topic", topic),
             ("X-Shopify-Shop-Domain", shop), ("X-Shopify-Webhook-Id", "b54557e4-bdd9-4b37")]
        if sign:
            sig = signature or base64.b64encode(
                hmac.new(secret.encode(), raw, hashlib.sha256).digest()).decode()
            h.append(("X-Shopify-Hmac-Sha256", sig))
        return self.srv.client.request("POST", "/v1/%s/webhooks/shopify" % SHOP_SITE, raw, h)

    def stored(self):
        return self.gw.status()[(SHOP_SITE, "shop")]["state"]

    def test_uninstall(self):
        tok, grant = mint(self.fake, expires_in=3600)
        self.gw.import_token("shop", tok, site=SHOP_SITE)
        self.assertEqual(self.stored(), "ok")
        body = {"id": 690933842, "name": "Demo Shop", "domain": SHOP}
        # Unsigned, wrongly signed, signed with another secret, another shop:
        # 401, and nothing changes.
        for r in (self.hook("app/uninstalled", body, sign=False),
                  self.hook("app/uninstalled", body, signature="AAAA"),
                  self.hook("app/uninstalled", body, signature=base64.b64encode(b"x" * 32).decode()),
                  self.hook("app/uninstalled", body, secret="another-app-secret"),
                  self.hook("app/uninstalled", body, shop="other-shop.myshopify.com")):
            self.assertEqual((r.status, r.code), (401, "invalid_webhook_signature"), r)
        # Signed over other bytes than those sent.
        raw = json.dumps(body).encode()
        sig = base64.b64encode(hmac.new(CLIENT_SECRET.encode(), raw + b" ",
                                        hashlib.sha256).digest()).decode()
        r = self.srv.client.request("POST", "/v1/%s/webhooks/shopify" % SHOP_SITE, raw,
                                    [("X-Shopify-Topic", "app/uninstalled"),
                                     ("X-Shopify-Shop-Domain", SHOP),
                                     ("X-Shopify-Hmac-Sha256", sig)])
        self.assertEqual(r.status, 401, r)
        time.sleep(1)
        self.assertEqual(self.stored(), "ok")
        self.assertFalse(any(q["method"] == "DELETE" for q in self.fake.control("requests")["requests"]))
        # Another topic, signed: acknowledged, nothing done.
        r = self.hook("products/update", {"id": 1})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["action"], "none")
        self.assertEqual(self.stored(), "ok")
        # app/uninstalled, signed: the grant is revoked and the tokens go.
        r = self.hook("app/uninstalled", body)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["action"], "connection_removed")
        wait_for(lambda: self.stored() == "missing", 15, "the connection to be removed")
        reqs = self.fake.control("requests")["requests"]
        self.assertTrue(any(q["method"] == "DELETE" and "api_permissions" in q["path"]
                            for q in reqs), reqs)
        with open(os.path.join(self.srv.dir, "audit.log")) as f:
            audit = [json.loads(x) for x in f if x.strip()]
        self.assertTrue(any(a["purpose"] == "webhook" and a["ok"] for a in audit))
        self.assertNotIn(CLIENT_SECRET, self.srv.log_text())
        self.assertNotRegex(open(os.path.join(self.srv.dir, "audit.log")).read(),
                            re.escape(CLIENT_SECRET))


if __name__ == "__main__":
    unittest.main()
