"""CORS: preflight and response headers only for allowed origins."""

import unittest

import harness
from harness import OTHER, SITE

ALLOWED = "https://shop.example.com"


class CorsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.env = harness.env()
        cls.c = cls.env.client

    def preflight(self, path, origin, method="POST"):
        h = [("Access-Control-Request-Method", method),
             ("Access-Control-Request-Headers",
              "content-type,x-readgate-session,x-readgate-timestamp,x-readgate-nonce,"
              "x-readgate-signature")]
        if origin is not None:
            h.append(("Origin", origin))
        return self.c.request("OPTIONS", path, headers=h)

    def assertNoCors(self, r):
        acs = [k for k, _ in r.headers if k.lower().startswith("access-control-")]
        self.assertEqual(acs, [], r.headers)

    def test_allowed_preflight(self):
        for origin, path in ((ALLOWED, "/v1/%s/query" % SITE),
                             ("https://x.example.com", "/v1/%s/token" % SITE),
                             ("https://app.example.org:8443", "/v1/%s/collections" % SITE),
                             ("http://localhost:5173", "/v1/%s/session" % OTHER)):
            with self.subTest(origin=origin, path=path):
                r = self.preflight(path, origin)
                self.assertEqual(r.status, 204, r)
                self.assertEqual(r.header_all("Access-Control-Allow-Origin"), [origin])
                self.assertIn("origin", (r.header("Vary") or "").lower())
                methods = {m.strip() for m in
                           (r.header("Access-Control-Allow-Methods") or "").split(",")}
                self.assertTrue({"GET", "POST", "DELETE"} <= methods, methods)
                hdrs = {h.strip().lower() for h in
                        (r.header("Access-Control-Allow-Headers") or "").split(",")}
                self.assertTrue({"content-type", "x-readgate-session", "x-readgate-timestamp",
                                 "x-readgate-nonce", "x-readgate-signature"} <= hdrs, hdrs)
                self.assertEqual(r.header("Access-Control-Max-Age"), "600")
                self.assertIsNone(r.header("Access-Control-Allow-Credentials"))
                self.assertEqual(r.body, b"")

    def test_disallowed_preflight(self):
        for origin, path in (("https://evilexample.com", "/v1/%s/query" % SITE),
                             ("null", "/v1/%s/query" % SITE),
                             ("http://localhost:5173", "/v1/%s/query" % SITE),
                             ("https://other.example.net", "/v1/%s/token" % SITE),
                             (ALLOWED, "/v1/%s/query" % OTHER),
                             (ALLOWED, "/v1/unknownsite99/query"),
                             (None, "/v1/%s/query" % SITE)):
            with self.subTest(origin=origin, path=path):
                r = self.preflight(path, origin)
                self.assertEqual(r.status, 204, r)
                self.assertNoCors(r)

    def test_no_wildcard_origin(self):
        r = self.preflight("/v1/%s/query" % SITE, ALLOWED)
        self.assertNotEqual(r.header("Access-Control-Allow-Origin"), "*")

    def test_signed_response_headers(self):
        s = self.c.session(SITE, origin=ALLOWED)
        r = self.c.query(s, {"collection": "products", "limit": 1}, origin=ALLOWED)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.header("Access-Control-Allow-Origin"), ALLOWED)
        self.assertIn("origin", (r.header("Vary") or "").lower())
        r = self.c.collections(s, origin=ALLOWED)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.header("Access-Control-Allow-Origin"), ALLOWED)

    def test_signed_response_to_other_origin(self):
        s = self.c.session(SITE, api_key=self.env.api_key)
        r = self.c.query(s, {"collection": "products", "limit": 1},
                         origin="https://evilexample.com")
        self.assertIsNone(r.header("Access-Control-Allow-Origin"), r.headers)

    def test_error_response_to_allowed_origin_is_readable(self):
        # a browser widget must be able to read its own 400s
        s = self.c.session(SITE, origin=ALLOWED)
        r = self.c.query(s, {"collection": "nope"}, origin=ALLOWED)
        self.assertEqual(r.status, 400, r)
        self.assertEqual(r.header("Access-Control-Allow-Origin"), ALLOWED)


if __name__ == "__main__":
    unittest.main()
