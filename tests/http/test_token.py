"""POST /v1/{site}/token: browser (Origin) and backend (API key) modes, and
identical refusals."""

import time
import unittest

import harness
from harness import OTHER, SESSION_TTL, SITE

REFUSAL = b'{"error":{"code":"widget_unavailable","message":"widget unavailable"}}'


class TokenTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.env = harness.env()
        cls.c = cls.env.client
        # The reference refusal every other refusal must equal byte for byte.
        cls.ref = cls.c.token("unknownsite99", origin="https://shop.example.com")

    def assertRefused(self, r):
        self.assertEqual(r.status, 404, r)
        self.assertEqual(r.code, "widget_unavailable", r)
        self.assertEqual(r.body, self.ref.body, "refusals must be byte-identical")
        self.assertIsNone(r.header("Access-Control-Allow-Origin"), r.headers)

    def assertSession(self, r, origin=None, ttl=SESSION_TTL):
        self.assertEqual(r.status, 200, r)
        j = r.json
        self.assertEqual(set(j), {"session_token", "signing_secret", "expires_in", "expires_at"})
        self.assertTrue(j["session_token"].startswith("sst_"), j)
        self.assertIsInstance(j["signing_secret"], str)
        self.assertGreaterEqual(len(j["signing_secret"]), 16)
        self.assertEqual(j["expires_in"], ttl)
        self.assertAlmostEqual(j["expires_at"], time.time() + ttl, delta=5)
        self.assertIn("no-store", (r.header("Cache-Control") or "").lower())
        self.assertTrue((r.header("Content-Type") or "").startswith("application/json"))
        if origin is not None:
            self.assertEqual(r.header("Access-Control-Allow-Origin"), origin)
            self.assertIn("origin", (r.header("Vary") or "").lower())

    # -- browser mode -----------------------------------------------------------

    def test_reference_refusal_shape(self):
        self.assertEqual(self.ref.status, 404)
        self.assertEqual(self.ref.body, REFUSAL)

    def test_exact_origin(self):
        self.assertSession(self.c.token(SITE, origin="https://shop.example.com"),
                           "https://shop.example.com")

    def test_origin_host_is_case_insensitive(self):
        o = "https://SHOP.Example.COM"
        self.assertSession(self.c.token(SITE, origin=o), o)

    def test_wildcard_subdomain(self):
        for o in ("https://a.example.com", "https://deep.sub.example.com"):
            self.assertSession(self.c.token(SITE, origin=o), o)

    def test_origin_with_port(self):
        self.assertSession(self.c.token(SITE, origin="https://app.example.org:8443"),
                           "https://app.example.org:8443")

    def test_refused_origins(self):
        for o in ("https://evilexample.com",          # not a subdomain
                  "https://example.com",              # wildcard excludes the bare domain
                  "https://shop.example.com.evil.com",
                  "https://evil.com",
                  "http://shop.example.com",          # plain http for a bare host pattern
                  "https://app.example.org",          # port pattern without the port
                  "https://app.example.org:8444",
                  "https://shop.example.com:8443",
                  "null",
                  "https://shop.example.com/path",
                  "https://user@shop.example.com",
                  "shop.example.com",
                  "",
                  "http://localhost:5173",            # allow_localhost is false here
                  "https://other.example.net"):       # another site's origin
            with self.subTest(origin=o):
                self.assertRefused(self.c.token(SITE, origin=o))

    def test_localhost_allowed_by_default(self):
        # othersite01 sets neither allow_localhost nor session_ttl_s: both defaults
        self.assertSession(self.c.token(OTHER, origin="http://localhost:5173"),
                           "http://localhost:5173", ttl=600)

    def test_no_credentials(self):
        self.assertRefused(self.c.token(SITE))

    def test_unknown_and_malformed_sites(self):
        for site in ("unknownsite98", "Testsite01", "short", "bad-site!", "a" * 33, "a" * 40,
                     "testsite01x", "%74estsite01"):
            with self.subTest(site=site):
                self.assertRefused(self.c.token(site, origin="https://shop.example.com"))

    # -- backend mode -------------------------------------------------------------

    def test_api_key(self):
        self.assertSession(self.c.token(SITE, api_key=self.env.api_key))

    def test_api_key_session_works(self):
        s = self.c.session(SITE, api_key=self.env.api_key)
        r = self.c.query(s, {"collection": "products", "limit": 1})
        self.assertEqual(r.status, 200, r)

    def test_wrong_api_keys(self):
        for key in ("rgk_" + "x" * 43, self.env.api_key + "x", self.env.api_key[:-1],
                    self.env.other_api_key, "", self.env.api_key.upper()):
            with self.subTest(key=key[:8]):
                self.assertRefused(self.c.token(SITE, api_key=key))

    def test_other_authorization_schemes(self):
        for h in ("Basic " + self.env.api_key, self.env.api_key, "Bearer"):
            with self.subTest(h=h[:8]):
                self.assertRefused(self.c.token(SITE, headers=[("Authorization", h)]))

    def test_body_is_ignored(self):
        r = self.c.token(SITE, api_key=self.env.api_key, body=b'{"anything": [1, 2]}')
        self.assertSession(r)

    def test_sessions_differ(self):
        a = self.c.session(SITE, api_key=self.env.api_key)
        b = self.c.session(SITE, api_key=self.env.api_key)
        self.assertNotEqual(a.token, b.token)
        self.assertNotEqual(a.secret, b.secret)

    def test_get_is_not_allowed(self):
        r = self.c.request("GET", "/v1/%s/token" % SITE, headers=[
            ("Origin", "https://shop.example.com")])
        self.assertEqual(r.status, 405, r)
        self.assertEqual(r.code, "method_not_allowed")

    def test_unknown_path(self):
        for p in ("/", "/v1/%s/nothing" % SITE, "/v2/%s/token" % SITE, "/v1/%s/token/x" % SITE):
            with self.subTest(path=p):
                r = self.c.request("POST", p, headers=[("Origin", "https://shop.example.com")])
                self.assertEqual(r.status, 404, r)
                self.assertEqual(r.code, "not_found", r)


if __name__ == "__main__":
    unittest.main()
