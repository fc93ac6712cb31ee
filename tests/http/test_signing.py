"""Signed requests: every 401 code, in the documented order."""

import json
import time
import unittest

import harness
import rgclient
from harness import OTHER, SITE

QUERY = {"collection": "products", "limit": 1}
BODY = json.dumps(QUERY).encode()
PATH = "/v1/%s/query" % SITE
HEADERS = ("X-Readgate-Session", "X-Readgate-Timestamp", "X-Readgate-Nonce",
           "X-Readgate-Signature")


class SigningTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.env = harness.env()
        cls.c = cls.env.client
        cls.s = cls.c.session(SITE, api_key=cls.env.api_key)

    def send(self, **kw):
        body = kw.pop("body", BODY)
        return self.c.signed(self.s, "POST", kw.pop("path", PATH), body, **kw)

    def assert401(self, r, code):
        self.assertEqual(r.status, 401, r)
        self.assertEqual(r.code, code, r)
        self.assertIsInstance(r.json["error"].get("message"), str)

    def test_valid(self):
        r = self.send()
        self.assertEqual(r.status, 200, r)
        self.assertEqual(len(r.json["rows"]), 1)

    def test_missing_each_header(self):
        for h in HEADERS:
            with self.subTest(header=h):
                r = self.send(drop=[h])
                self.assert401(r, "missing_signature")
                self.assertIn(h.lower(), r.json["error"]["message"].lower())

    def test_missing_all_headers(self):
        r = self.c.request("POST", PATH, BODY, [("Content-Type", "application/json")])
        self.assert401(r, "missing_signature")

    def test_malformed_timestamp(self):
        for ts in ("abc", "12.5", "0x10", "1e9", str(int(time.time())) + "a"):
            with self.subTest(ts=ts):
                self.assert401(self.send(ts=ts), "invalid_signature_header")

    def test_malformed_nonce(self):
        for n in ("short", "a" * 15, "a" * 65, "bad.nonce.0123456789", "bad nonce 0123456789",
                  "bad/nonce+0123456789", "ünïcödé0123456789"):
            with self.subTest(nonce=n):
                self.assert401(self.send(nonce=n), "invalid_signature_header")

    def test_nonce_length_bounds_accepted(self):
        for n in (rgclient.new_nonce()[:16], (rgclient.new_nonce() * 2)[:64],
                  "Aa0_-" + rgclient.new_nonce()[:12]):
            with self.subTest(nonce=n):
                self.assertEqual(self.send(nonce=n).status, 200)

    def test_malformed_signature(self):
        good = rgclient.sign(self.s.secret, "1", "x" * 16, "POST", PATH, BODY)
        for sig in (good[len("sha256="):],                 # no scheme
                    "sha1=" + good[len("sha256="):],
                    "sha256=" + "zz" * 32,                 # not hex
                    "sha256=",
                    "sha256=abc",
                    "sha256=" + "0" * 63,
                    "sha256=" + "0" * 65):
            with self.subTest(sig=sig[:12]):
                self.assert401(self.send(signature=sig), "invalid_signature_header")

    def test_timestamp_window(self):
        now = int(time.time())
        self.assert401(self.send(ts=now - 301), "timestamp_out_of_window")
        self.assert401(self.send(ts=now + 301), "timestamp_out_of_window")
        self.assert401(self.send(ts=1), "timestamp_out_of_window")
        self.assertEqual(self.send(ts=now - 280).status, 200)
        self.assertEqual(self.send(ts=now + 280).status, 200)

    def test_bad_signature(self):
        self.assert401(self.send(signature="sha256=" + "0" * 64), "invalid_signature")
        self.assert401(self.send(secret=self.s.secret + "x"), "invalid_signature")
        other = self.c.session(SITE, api_key=self.env.api_key)
        self.assert401(self.send(secret=other.secret), "invalid_signature")

    def test_signature_covers_body(self):
        changed = json.dumps({"collection": "products", "limit": 2}).encode()
        self.assert401(self.send(body=changed, sign_body=BODY), "invalid_signature")
        self.assert401(self.send(body=BODY + b" ", sign_body=BODY), "invalid_signature")

    def test_signature_covers_path(self):
        r = self.send(sign_path="/v1/%s/collections" % SITE)
        self.assert401(r, "invalid_signature")

    def test_signature_covers_method(self):
        r = self.c.collections(self.s, sign_method="POST")
        self.assert401(r, "invalid_signature")

    def test_query_string_not_signed(self):
        # The path is signed without its query string.
        r = self.c.signed(self.s, "POST", PATH + "?x=1", BODY, sign_path=PATH)
        self.assertEqual(r.status, 200, r)

    def test_signature_hex_is_lower_case_of_the_right_key(self):
        r = self.send()
        self.assertEqual(r.status, 200, r)

    def test_replay(self):
        n = rgclient.new_nonce()
        self.assertEqual(self.send(nonce=n).status, 200)
        self.assert401(self.send(nonce=n), "replayed_request")
        # a different body with the same nonce is a replay too
        self.assert401(self.send(nonce=n, body=json.dumps({"collection": "products",
                                                           "limit": 3}).encode()),
                       "replayed_request")
        # the signature is checked before the nonce
        self.assert401(self.send(nonce=n, signature="sha256=" + "1" * 64), "invalid_signature")

    def test_failed_signature_does_not_burn_nonce(self):
        n = rgclient.new_nonce()
        self.assert401(self.send(nonce=n, signature="sha256=" + "2" * 64), "invalid_signature")
        self.assertEqual(self.send(nonce=n).status, 200)

    def test_same_nonce_in_two_sessions(self):
        other = self.c.session(SITE, api_key=self.env.api_key)
        n = rgclient.new_nonce()
        self.assertEqual(self.send(nonce=n).status, 200)
        r = self.c.signed(other, "POST", PATH, BODY, nonce=n)
        self.assertEqual(r.status, 200, r)

    def test_tampered_token(self):
        t = self.s.token
        for bad in (t[:-2] + ("AA" if t[-2:] != "AA" else "BB"),
                    t[:10] + ("x" if t[10] != "x" else "y") + t[11:],
                    "sst_garbage",
                    "sst_",
                    t + "A",
                    t[4:],
                    "abc"):
            with self.subTest(token=bad[:16]):
                self.assert401(self.send(token=bad), "invalid_session")

    def test_session_of_another_site(self):
        other = self.c.session(OTHER, api_key=self.env.other_api_key)
        r = self.c.signed(other, "POST", PATH, BODY)  # testsite01 path, othersite01 session
        self.assert401(r, "session_wrong_site")

    def test_ended_session(self):
        s = self.c.session(SITE, api_key=self.env.api_key)
        self.assertEqual(self.c.query(s, QUERY).status, 200)
        r = self.c.end_session(s)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json, {"ended": True})
        self.assert401(self.c.query(s, QUERY), "session_ended")
        self.assert401(self.c.collections(s), "session_ended")
        # other sessions are untouched
        self.assertEqual(self.send().status, 200)

    def test_order_missing_before_malformed(self):
        r = self.send(drop=["X-Readgate-Session"], ts="abc")
        self.assert401(r, "missing_signature")

    def test_order_malformed_before_window(self):
        r = self.send(ts=1, nonce="bad")
        self.assert401(r, "invalid_signature_header")

    def test_order_window_before_session(self):
        r = self.send(ts=int(time.time()) - 1000, token="sst_garbage")
        self.assert401(r, "timestamp_out_of_window")

    def test_order_session_before_signature(self):
        r = self.send(token="sst_garbage", signature="sha256=" + "0" * 64)
        self.assert401(r, "invalid_session")

    def test_signed_routes_on_unknown_site(self):
        r = self.c.signed(self.s, "POST", "/v1/unknownsite99/query", BODY)
        self.assertEqual(r.status, 404, r)
        self.assertEqual(r.code, "widget_unavailable")

    def test_collections_and_session_are_signed(self):
        for method, path in (("GET", "/v1/%s/collections" % SITE),
                             ("DELETE", "/v1/%s/session" % SITE)):
            with self.subTest(path=path):
                r = self.c.request(method, path)
                self.assert401(r, "missing_signature")

    def test_413_and_415_before_signature(self):
        r = self.c.request("POST", PATH, b"{}", [("Content-Type", "text/plain")])
        self.assertEqual(r.status, 415, r)
        self.assertEqual(r.code, "unsupported_media_type")
        r = self.c.request("POST", PATH, b" " * (17 * 1024), [("Content-Type", "application/json")])
        self.assertEqual(r.status, 413, r)
        self.assertEqual(r.code, "body_too_large")


if __name__ == "__main__":
    unittest.main()
