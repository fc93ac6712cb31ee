"""Rate limits with the in-memory backend (docs/configuration.md and SECURITY.md), the client
address behind trusted proxies, the per-site cap on queries in flight and the
cap on connections. The Redis backend is in test_ratelimit_redis.py."""

import socket
import threading
import time
import unittest

import harness
import rlbase
from harness import SITE
from rlbase import BURST, PER_MIN, fresh_ip, rate_headers


def assert_limited(t, r, limit):
    t.assertEqual(r.status, 429, r)
    t.assertEqual(r.code, "rate_limited", r)
    ra = r.header("Retry-After")
    t.assertIsNotNone(ra, "429 without Retry-After")
    t.assertRegex(ra, r"^[1-9][0-9]*$", "Retry-After must be whole seconds >= 1")
    t.assertLessEqual(int(ra), 60)
    t.assertEqual(rate_headers(r), (limit, 0, int(ra)), r.headers)
    return int(ra)


class MemoryLimitsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.env = harness.env()
        cls.fam, cls.srv = rlbase.memory_gateway(cls.env)
        cls.c = cls.fam.client(cls.srv)

    def test_token_per_ip_boundary(self):
        ip = fresh_ip()
        for i in range(PER_MIN):
            r = self.fam.token(self.c, "rlsite01", ip)
            self.assertEqual(r.status, 200, (i, r))
            lim = rate_headers(r)
            self.assertIsNotNone(lim, r.headers)
            self.assertEqual(lim[:2], (PER_MIN, PER_MIN - 1 - i))
            self.assertGreaterEqual(lim[2], 1)
        assert_limited(self, self.fam.token(self.c, "rlsite01", ip), PER_MIN)
        # the same client is refused on another site too: the window is per IP
        assert_limited(self, self.fam.token(self.c, "rlsite02", ip), PER_MIN)
        # another client is not affected
        self.assertEqual(self.fam.token(self.c, "rlsite01", fresh_ip()).status, 200)

    def test_refused_token_requests_count(self):
        # Guessing keys (or site ids) runs into the same per-IP window.
        ip = fresh_ip()
        for i in range(PER_MIN):
            r = self.c.token("rlsite03", api_key="rgk_wrong_key_0123456789",
                             headers=[("X-Forwarded-For", ip)])
            self.assertEqual((r.status, r.code), (404, "widget_unavailable"), (i, r))
        r = self.c.token("nosuchsite99", api_key="rgk_wrong_key_0123456789",
                         headers=[("X-Forwarded-For", ip)])
        assert_limited(self, r, PER_MIN)
        self.assertEqual(self.fam.token(self.c, "rlsite03", ip).status, 429)

    def test_collections_per_site_boundary(self):
        s = self.fam.session(self.c, "rlsite04")
        other = self.fam.session(self.c, "rlsite04")
        for i in range(PER_MIN):
            # two sessions, one site: the window is the site's
            r = self.c.collections(s if i % 2 else other, retry_429=False)
            self.assertEqual(r.status, 200, (i, r))
            self.assertEqual(rate_headers(r)[:2], (PER_MIN, PER_MIN - 1 - i))
        assert_limited(self, self.c.collections(s, retry_429=False), PER_MIN)
        # another site has a window of its own
        s5 = self.fam.session(self.c, "rlsite05")
        self.assertEqual(self.c.collections(s5, retry_429=False).status, 200)

    def test_query_per_session_boundary(self):
        per_session = rlbase.SMALL["query"]["per_session_per_min"]
        s = self.fam.session(self.c, "rlsite06")
        q = {"collection": "items", "limit": 1}
        for i in range(per_session):
            r = self.c.query(s, q, retry_429=False)
            self.assertEqual(r.status, 200, (i, r))
        assert_limited(self, self.c.query(s, q, retry_429=False), per_session)
        # a second session of the same site still gets through
        s2 = self.fam.session(self.c, "rlsite06")
        self.assertEqual(self.c.query(s2, q, retry_429=False).status, 200)

    def test_burst_site_override_and_honest_retry_after(self):
        # The burst site's file sets collections.burst_per_s = 3. Requests of
        # one attempt must fit in one second for the boundary to be exact; on
        # a very slow machine an attempt may not, and is tried again.
        for attempt, site in enumerate(rlbase.Gateways.BURST_SITES):
            s = self.fam.session(self.c, site)
            t0 = time.monotonic()
            rs = [self.c.collections(s, retry_429=False) for _ in range(BURST + 1)]
            if time.monotonic() - t0 >= 0.9:
                continue
            self.assertEqual([r.status for r in rs], [200] * BURST + [429], rs)
            self.assertEqual(rate_headers(rs[0])[:2], (BURST, BURST - 1))
            ra = assert_limited(self, rs[-1], BURST)
            self.assertEqual(ra, 1)
            time.sleep(ra)
            r = self.c.collections(s, retry_429=False)
            self.assertEqual(r.status, 200, "a retry after Retry-After was refused: %r" % r)
            return
        self.fail("no attempt of %d requests fit in one second" % (BURST + 1))

    def test_server_defaults_apply_where_the_site_sets_nothing(self):
        s = self.fam.session(self.c, "rlburst01")
        r = self.c.query(s, {"collection": "items", "limit": 1}, retry_429=False)
        self.assertEqual(r.status, 200, r)
        # query limits come from readgate.yaml: per session 4 is the tightest
        self.assertEqual(rate_headers(r)[0], rlbase.SMALL["query"]["per_session_per_min"])

    def test_cors_exposes_the_headers(self):
        r = self.c.token("rlsite07", origin="https://rl.example.com",
                         headers=[("X-Forwarded-For", fresh_ip())])
        self.assertEqual(r.status, 200, r)
        exposed = (r.header("Access-Control-Expose-Headers") or "").lower()
        for h in ("retry-after", "ratelimit-limit", "ratelimit-remaining", "ratelimit-reset"):
            self.assertIn(h, exposed)

    def test_metrics_show_the_memory_backend(self):
        self.assertEqual(rlbase.metric(self.srv, "readgate_ratelimit_redis_up"), 0)
        self.assertGreater(rlbase.metric(self.srv, "readgate_ratelimit_memory_entries"), 0)


class ClientAddressTest(unittest.TestCase):
    """trusted_proxies is 127.0.0.1 and 10.0.0.0/8."""

    @classmethod
    def setUpClass(cls):
        cls.env = harness.env()
        cls.fam, cls.srv = rlbase.memory_gateway(cls.env)
        cls.c = cls.fam.client(cls.srv)

    def test_left_of_the_client_is_ignored(self):
        client = fresh_ip()
        for i in range(PER_MIN):
            spoof = "%s, %s" % (fresh_ip(), client)  # a new forged left part each time
            self.assertEqual(self.fam.token(self.c, "rlsite08", spoof).status, 200, i)
        assert_limited(self, self.fam.token(self.c, "rlsite08", "%s, %s" % (fresh_ip(), client)),
                       PER_MIN)
        assert_limited(self, self.fam.token(self.c, "rlsite08", client), PER_MIN)

    def test_trusted_hops_are_skipped(self):
        client = fresh_ip()
        for i in range(PER_MIN):
            xff = "%s, %s, 10.%d.0.1" % (fresh_ip(), client, i)  # through an inner proxy
            self.assertEqual(self.fam.token(self.c, "rlsite08", xff).status, 200, i)
        assert_limited(self, self.fam.token(self.c, "rlsite08", client), PER_MIN)

    def test_several_headers_read_as_one_list(self):
        client = fresh_ip()
        for i in range(PER_MIN):
            r = self.c.token("rlsite08", api_key=self.fam.key,
                             headers=[("X-Forwarded-For", fresh_ip()),
                                      ("X-Forwarded-For", client)])
            self.assertEqual(r.status, 200, (i, r))
        assert_limited(self, self.fam.token(self.c, "rlsite08", client), PER_MIN)

    def test_garbage_stops_at_the_proxy(self):
        # An element that is no address: the proxy itself is the client, so
        # garbage never earns a window of its own.
        for i in range(PER_MIN):
            self.fam.token(self.c, "rlsite09", "not-an-ip-%d" % i)
        r = self.fam.token(self.c, "rlsite09", "still garbage")
        assert_limited(self, r, PER_MIN)

    def test_untrusted_peer_is_the_client(self):
        # Connections from 127.0.0.2 are not from a trusted proxy: their
        # X-Forwarded-For is ignored, however it changes.
        c2 = self.fam.client(self.srv, source="127.0.0.2")
        for i in range(PER_MIN):
            r = self.fam.token(c2, "rlsite10", fresh_ip())
            self.assertEqual(r.status, 200, (i, r))
        assert_limited(self, self.fam.token(c2, "rlsite10", fresh_ip()), PER_MIN)
        # the trusted proxy's clients are unaffected
        self.assertEqual(self.fam.token(self.c, "rlsite10", fresh_ip()).status, 200)


class InflightCapTest(unittest.TestCase):
    """limits.max_inflight_per_site = 2 on a site whose source is slow."""

    CAP = 2

    @classmethod
    def setUpClass(cls):
        env = cls.env = harness.env()
        cls.key = harness.new_api_key()
        slow = {
            "site_id": "rlslow01",
            "allowed_origins": ["slow.example.com"],
            "api_keys": [harness.api_key_hash(cls.key)],
            "sources": {"db": env.pg_source("rlslow01", "db", {"timeout_ms": 4000})},
            "collections": {"slow": {
                "source": "db", "target": "public.slow_products", "key": "id",
                "fields": {"id": {"type": "integer", "display": True, "sortable": True}}}},
        }
        lite = rlbase.lite_site(env, "rlfast01", cls.key)
        cls.srv = env.start_server("rlinflight", {"rlslow01": slow, "rlfast01": lite}, extra={
            "limits": {"max_inflight_per_site": cls.CAP},
        })
        cls.c = cls.srv.client

    def test_cap_answers_overloaded_and_spares_other_sites(self):
        s = self.c.session("rlslow01", api_key=self.key)
        fast = self.c.session("rlfast01", api_key=self.key)
        results = []
        lock = threading.Lock()

        def slow(i):
            r = self.c.query(s, {"collection": "slow", "limit": 3 + i})
            with lock:
                results.append(r)

        threads = [threading.Thread(target=slow, args=(i,)) for i in range(self.CAP + 2)]
        for t in threads:
            t.start()
            time.sleep(0.2)
        r = self.c.query(fast, {"collection": "items", "limit": 2})
        self.assertEqual(r.status, 200, "another site was starved: %r" % r)
        for t in threads:
            t.join(30)
        codes = sorted((r.status, r.code) for r in results)
        self.assertEqual(codes, [(503, "overloaded")] * 2 + [(504, "upstream_timeout")] * self.CAP,
                         results)
        for r in results:
            if r.status == 503:
                self.assertIn("rlslow01", r.json["error"]["message"])


class ConnectionCapTest(unittest.TestCase):
    """limits.max_connections = 3."""

    CAP = 3

    @classmethod
    def setUpClass(cls):
        env = cls.env = harness.env()
        cls.key = harness.new_api_key()
        cls.srv = env.start_server("rlconn", {"rlconn01": rlbase.lite_site(env, "rlconn01", cls.key)},
                                   extra={"limits": {"max_connections": cls.CAP}})

    def open_count(self):
        return rlbase.metric(self.srv, "readgate_connections")

    def connect(self):
        s = socket.create_connection(("127.0.0.1", self.srv.port), timeout=10)
        return s

    def test_cap(self):
        held = [self.connect() for _ in range(self.CAP)]
        try:
            self.assertTrue(rlbase.wait_for(lambda: self.open_count() == self.CAP),
                            "open connections: %s" % self.open_count())
            extra = self.connect()
            data = b""
            try:
                while True:
                    chunk = extra.recv(4096)
                    if not chunk:
                        break
                    data += chunk
            finally:
                extra.close()
            self.assertTrue(data.startswith(b"HTTP/1.1 503"), data)
            self.assertIn(b'"overloaded"', data)
            self.assertGreaterEqual(rlbase.metric(self.srv, "readgate_connections_refused_total"),
                                    1)
            held.pop().close()
            self.assertTrue(rlbase.wait_for(lambda: self.open_count() == self.CAP - 1))
            r = self.srv.client.request("GET", "/nothing-here")
            self.assertEqual(r.status, 404, r)
        finally:
            for s in held:
                s.close()
        self.assertTrue(rlbase.wait_for(lambda: self.open_count() == 0),
                        "connections leaked: %s" % self.open_count())

    def test_count_returns_to_zero(self):
        # Every way a connection ends must give its slot back.
        c = self.srv.client
        for _ in range(3):
            c.request("GET", "/v1/rlconn01/collections")                 # 401, closed by us
            c.request("POST", "/v1/rlconn01/token", b"", [("Connection", "close")])
            s = self.connect()                                              # idle, closed
            s.close()
            s = self.connect()                                              # malformed
            s.sendall(b"NOT HTTP AT ALL\r\n\r\n")
            s.recv(100)
            s.close()
            s = self.connect()                                              # half a request
            s.sendall(b"POST /v1/rlconn01/query HTTP/1.1\r\nContent-Length: 100\r\n\r\n{")
            s.close()
        self.assertTrue(rlbase.wait_for(lambda: self.open_count() == 0),
                        "connections leaked: %s" % self.open_count())
        self.assertEqual(c.request("GET", "/nothing-here").status, 404)


if __name__ == "__main__":
    unittest.main()
