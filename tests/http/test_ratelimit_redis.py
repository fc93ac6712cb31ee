"""Rate limits and replay protection shared through Redis: two gateway
processes on one real Redis enforce one limit and refuse each other's
replays; Retry-After is honest in both backends; Redis killed or frozen under
running gateways leaves them answering, still limiting, and saying so in
/metrics and (once) in the log; when it returns they use it again.

Needs RG_TEST_REDIS_PORT and RG_TEST_REDIS_DIR (tests/redis.sh start DIR PORT)."""

import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import unittest

import harness
import rlbase
from rlbase import PER_MIN, fresh_ip, rate_headers
from test_ratelimit import assert_limited

REDIS_PORT = os.environ.get("RG_TEST_REDIS_PORT")
REDIS_DIR = os.environ.get("RG_TEST_REDIS_DIR")


def redis_family(env):
    """Gateways A and B on one Redis (started once per run)."""
    got = getattr(env, "rl_redis_gateways", None)
    if got:
        return got
    if not REDIS_PORT or not REDIS_DIR:
        raise harness.SetupError("set RG_TEST_REDIS_PORT and RG_TEST_REDIS_DIR "
                                 "(tests/redis.sh start DIR PORT)")
    # Counters of an earlier run would still be in their windows.
    rc, out = rlbase.redis_cli(REDIS_PORT, "FLUSHALL")
    if rc != 0 or out != "OK":
        raise harness.SetupError("Redis on %s does not answer: %s" % (REDIS_PORT, out))
    fam = rlbase.Gateways(env)
    extra = {
        "rate_limit": "redis://127.0.0.1:%s" % REDIS_PORT,
        "rate_limits": rlbase.SMALL,
        "trusted_proxies": ["127.0.0.1"],
        # generous: a loaded test machine must not fall back by accident
        "limits": {"ratelimit_timeout_ms": 3000},
    }
    a = env.start_server("rlredis_a", fam.sites(), extra=extra)
    b = env.start_server("rlredis_b", fam.sites(), extra=extra)
    for s in (a, b):
        if not rlbase.wait_for(lambda: rlbase.metric(s, "readgate_ratelimit_redis_up") == 1):
            raise harness.SetupError("gateway %s did not connect to Redis:\n%s"
                                     % (s.name, s.log_tail()))
    env.rl_redis_gateways = (fam, a, b)
    return env.rl_redis_gateways


class SharedLimitsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.env = harness.env()
        cls.fam, cls.a, cls.b = redis_family(cls.env)
        cls.ca, cls.cb = cls.fam.client(cls.a), cls.fam.client(cls.b)

    def test_one_per_ip_limit_across_instances(self):
        ip = fresh_ip()
        for i in range(PER_MIN):
            c = self.ca if i % 2 == 0 else self.cb
            r = self.fam.token(c, "rlsite01", ip)
            self.assertEqual(r.status, 200, (i, r))
            self.assertEqual(rate_headers(r)[:2], (PER_MIN, PER_MIN - 1 - i))
        assert_limited(self, self.fam.token(self.cb, "rlsite01", ip), PER_MIN)
        assert_limited(self, self.fam.token(self.ca, "rlsite01", ip), PER_MIN)
        self.assertEqual(self.fam.token(self.ca, "rlsite01", fresh_ip()).status, 200)

    def test_one_per_site_limit_across_instances(self):
        sa = self.fam.session(self.ca, "rlsite02")
        for i in range(PER_MIN):
            # sessions are stateless: A's session works on B
            r = (self.ca if i % 2 else self.cb).collections(sa, retry_429=False)
            self.assertEqual(r.status, 200, (i, r))
        assert_limited(self, self.ca.collections(sa, retry_429=False), PER_MIN)
        assert_limited(self, self.cb.collections(sa, retry_429=False), PER_MIN)

    def test_per_session_limit_across_instances(self):
        per_session = rlbase.SMALL["query"]["per_session_per_min"]
        s = self.fam.session(self.ca, "rlsite03")
        q = {"collection": "items", "limit": 1}
        for i in range(per_session):
            r = (self.cb if i % 2 else self.ca).query(s, q, retry_429=False)
            self.assertEqual(r.status, 200, (i, r))
        assert_limited(self, self.cb.query(s, q, retry_429=False), per_session)

    def test_replay_on_the_other_instance_is_refused(self):
        s = self.fam.session(self.ca, "rlsite04")
        body = b'{"collection":"items","limit":1}'
        path = "/v1/rlsite04/query"
        ts, nonce = str(int(time.time())), rlbase.rgclient.new_nonce()
        sig = rlbase.rgclient.sign(s.secret, ts, nonce, "POST", path, body)
        kw = dict(ts=ts, nonce=nonce, signature=sig, retry_429=False)
        r = self.ca.signed(s, "POST", path, body, **kw)
        self.assertEqual(r.status, 200, r)
        for c in (self.cb, self.ca):
            r = c.signed(s, "POST", path, body, **kw)
            self.assertEqual((r.status, r.code), (401, "replayed_request"), r)
        # a fresh nonce is fine anywhere
        self.assertEqual(self.cb.query(s, {"collection": "items", "limit": 1},
                                       retry_429=False).status, 200)

    def test_session_ended_on_one_instance_is_ended_on_every_instance(self):
        s = self.fam.session(self.ca, "rlsite09")
        q = {"collection": "items", "limit": 1}
        self.assertEqual(self.cb.query(s, q, retry_429=False).status, 200)
        r = self.ca.end_session(s, retry_429=False)
        self.assertEqual(r.status, 200, r)
        # B never saw the DELETE: Redis tells it.
        for call in (lambda: self.cb.query(s, q, retry_429=False),
                     lambda: self.cb.collections(s, retry_429=False),
                     lambda: self.cb.end_session(s, retry_429=False),
                     lambda: self.ca.query(s, q, retry_429=False)):
            r = call()
            self.assertEqual((r.status, r.code), (401, "session_ended"), r)
        # Another session of the same site is untouched.
        s2 = self.fam.session(self.cb, "rlsite09")
        self.assertEqual(self.cb.query(s2, q, retry_429=False).status, 200)
        self.assertEqual(self.ca.query(s2, q, retry_429=False).status, 200)

    def test_burst_is_honest_with_redis(self):
        for site in rlbase.Gateways.BURST_SITES:
            s = self.fam.session(self.ca, site)
            t0 = time.monotonic()
            rs = [(self.ca if i % 2 else self.cb).collections(s, retry_429=False)
                  for i in range(rlbase.BURST + 1)]
            if time.monotonic() - t0 >= 0.9:
                continue
            self.assertEqual([r.status for r in rs], [200] * rlbase.BURST + [429], rs)
            ra = assert_limited(self, rs[-1], rlbase.BURST)
            time.sleep(ra)
            r = self.cb.collections(s, retry_429=False)
            self.assertEqual(r.status, 200, "a retry after Retry-After was refused: %r" % r)
            return
        self.fail("no attempt of %d requests fit in one second" % (rlbase.BURST + 1))

    def test_retry_after_is_honest_per_minute_in_both_backends(self):
        # Fill a per-minute window on each backend, wait exactly Retry-After
        # (up to a minute, waited once for both), and the retry succeeds.
        fam_m, mem = rlbase.memory_gateway(self.env)
        cm = fam_m.client(mem)
        cases = []
        for name, fam, c in (("memory", fam_m, cm), ("redis", self.fam, self.ca)):
            ip = fresh_ip()
            for i in range(PER_MIN):
                self.assertEqual(fam.token(c, "rlsite11", ip).status, 200, (name, i))
            r = fam.token(c, "rlsite11", ip)
            ra = assert_limited(self, r, PER_MIN)
            cases.append((name, fam, c, ip, time.monotonic() + ra))
        for name, fam, c, ip, when in sorted(cases, key=lambda x: x[4]):
            time.sleep(max(0.0, when - time.monotonic()))
            r = fam.token(c, "rlsite11", ip)
            self.assertEqual(r.status, 200, "%s: retry after Retry-After refused: %r" % (name, r))


class SharedLimitsWhenRedisFailsTest(unittest.TestCase):
    """Breaks Redis and mends it; runs after SharedLimitsTest (unittest
    orders classes by name)."""

    @classmethod
    def setUpClass(cls):
        cls.env = harness.env()
        cls.fam, cls.a, cls.b = redis_family(cls.env)
        cls.ca, cls.cb = cls.fam.client(cls.a), cls.fam.client(cls.b)

    def ensure_redis(self):
        if not rlbase.wait_for(lambda: os.path.exists(os.path.join(REDIS_DIR, "redis.pid")), 0.1):
            rlbase.redis_sh("start", REDIS_DIR, REDIS_PORT)
        for s in (self.a, self.b):
            self.assertTrue(
                rlbase.wait_for(lambda: rlbase.metric(s, "readgate_ratelimit_redis_up") == 1, 20),
                "%s did not reconnect to Redis:\n%s" % (s.name, s.log_tail()))

    def down_lines(self, server):
        return [l for l in server.log_text().splitlines() if "Redis at" in l and "unavailable" in l]

    def test_killed_redis_keeps_limiting(self):
        before = len(self.down_lines(self.a))
        fallbacks0 = rlbase.metric(self.a, "readgate_ratelimit_fallback_total")
        rlbase.redis_sh("kill", REDIS_DIR)
        try:
            ip = fresh_ip()
            statuses = [self.fam.token(self.ca, "rlsite05", ip).status for _ in range(PER_MIN + 3)]
            # local counters: exactly the limit, never unlimited, no crash
            self.assertEqual(statuses, [200] * PER_MIN + [429] * 3)
            self.assertEqual(self.a.proc.poll(), None, "gateway A died")
            self.assertEqual(rlbase.metric(self.a, "readgate_ratelimit_redis_up"), 0)
            self.assertGreater(rlbase.metric(self.a, "readgate_ratelimit_fallback_total"),
                               fallbacks0)
            # replays are still refused, from the local cache
            s = self.fam.session(self.ca, "rlsite05")
            r = self.ca.query(s, {"collection": "items", "limit": 1}, nonce="n" * 20,
                              retry_429=False)
            self.assertEqual(r.status, 200, r)
            r = self.ca.query(s, {"collection": "items", "limit": 1}, nonce="n" * 20,
                              retry_429=False)
            self.assertEqual(r.code, "replayed_request", r)
            # many requests, one log line per loop and change, not one per request
            for _ in range(20):
                self.fam.token(self.ca, "rlsite06", fresh_ip())
            new = len(self.down_lines(self.a)) - before
            self.assertGreaterEqual(new, 1)
            self.assertLessEqual(new, 2, self.down_lines(self.a))  # two event loops
        finally:
            rlbase.redis_sh("start", REDIS_DIR, REDIS_PORT)
        self.ensure_redis()
        # shared again: a replay across instances is refused
        s = self.fam.session(self.ca, "rlsite07")
        body = b'{"collection":"items","limit":1}'
        path = "/v1/rlsite07/query"
        ts, nonce = str(int(time.time())), rlbase.rgclient.new_nonce()
        sig = rlbase.rgclient.sign(s.secret, ts, nonce, "POST", path, body)
        kw = dict(ts=ts, nonce=nonce, signature=sig, retry_429=False)
        self.assertEqual(self.ca.signed(s, "POST", path, body, **kw).status, 200)
        self.assertEqual(self.cb.signed(s, "POST", path, body, **kw).code, "replayed_request")
        self.assertTrue(any("connected to Redis" in l for l in self.a.log_text().splitlines()))

    def test_frozen_redis_is_bounded_by_the_timeout(self):
        # SIGSTOP: connections stay open but nothing answers. Each gateway
        # waits at most limits.ratelimit_timeout_ms, then decides locally.
        self.ensure_redis()
        timeouts0 = rlbase.metric(self.b, "readgate_ratelimit_redis_timeouts_total")
        rlbase.redis_sh("pause", REDIS_DIR)
        try:
            ip = fresh_ip()
            results = []

            def go():
                results.extend(self.fam.token(self.cb, "rlsite08", ip).status
                               for _ in range(PER_MIN + 1))

            t = threading.Thread(target=go)
            t.start()
            t.join(120)
            self.assertFalse(t.is_alive(), "requests hung while Redis was frozen")
            self.assertEqual(results, [200] * PER_MIN + [429])
            self.assertGreater(rlbase.metric(self.b, "readgate_ratelimit_redis_timeouts_total"),
                               timeouts0)
            self.assertEqual(rlbase.metric(self.b, "readgate_ratelimit_redis_up"), 0)
        finally:
            rlbase.redis_sh("resume", REDIS_DIR)
        self.ensure_redis()


if __name__ == "__main__":
    unittest.main()

class RedisAuthTest(unittest.TestCase):
    """A Redis that requires a password (requirepass): the gateway sends AUTH
    with READGATE_REDIS_PASSWORD from its environment and shares its limits
    there; a wrong or missing password leaves it limiting locally, saying why
    in the log without ever printing the password."""

    PASSWORD = "rg-test-redis-pw-7f3a"

    @classmethod
    def setUpClass(cls):
        cls.env = harness.env()
        cls.dir = tempfile.mkdtemp(prefix="readgate-redis-auth.")
        cls.port = harness.free_port()
        cls.redis = subprocess.Popen(
            ["redis-server", "--bind", "127.0.0.1", "--port", str(cls.port), "--dir", cls.dir,
             "--save", "", "--appendonly", "no", "--requirepass", cls.PASSWORD],
            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        deadline = time.time() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", cls.port), 0.2).close()
                break
            except OSError:
                if time.time() > deadline or cls.redis.poll() is not None:
                    raise harness.SetupError("redis-server with requirepass did not start")
                time.sleep(0.1)
        cls.fam = rlbase.Gateways(cls.env)

    @classmethod
    def tearDownClass(cls):
        cls.redis.terminate()
        try:
            cls.redis.wait(10)
        except subprocess.TimeoutExpired:
            cls.redis.kill()
            cls.redis.wait()
        shutil.rmtree(cls.dir, ignore_errors=True)

    def gateway(self, name, environ):
        srv = harness.Server(self.env, name, self.fam.sites(), extra={
            "rate_limit": "redis://127.0.0.1:%d" % self.port,
            "rate_limits": rlbase.SMALL,
            "limits": {"ratelimit_timeout_ms": 3000},
        })
        srv.extra_env = environ
        self.env.servers.append(srv)
        return srv.start()

    def test_right_password_shares_limits_in_redis(self):
        srv = self.gateway("rlredis_auth_ok", {"READGATE_REDIS_PASSWORD": self.PASSWORD})
        self.assertTrue(rlbase.wait_for(
            lambda: rlbase.metric(srv, "readgate_ratelimit_redis_up") == 1),
            srv.log_tail())
        c = self.fam.client(srv)
        s = self.fam.session(c, "rlsite10")
        self.assertEqual(c.query(s, {"collection": "items", "limit": 1},
                                 retry_429=False).status, 200)
        # The counters are in that Redis.
        rc, out = rlbase.redis_cli(self.port, "--no-auth-warning", "-a", self.PASSWORD,
                                   "--scan", "--pattern", "rg:*")
        self.assertEqual(rc, 0, out)
        self.assertIn("rg:rl:", out)
        self.assertNotIn(self.PASSWORD, srv.log_text())
        srv.stop()

    def test_wrong_or_missing_password_is_explained_and_limits_stay(self):
        for name, environ, word in (
                ("rlredis_auth_bad", {"READGATE_REDIS_PASSWORD": "not-the-password"},
                 "AUTH refused"),
                ("rlredis_auth_none", {}, "NOAUTH")):
            with self.subTest(name):
                environ = dict(environ)
                srv = self.gateway(name, environ)
                self.assertTrue(rlbase.wait_for(lambda: word in srv.log_text()),
                                srv.log_tail())
                self.assertEqual(rlbase.metric(srv, "readgate_ratelimit_redis_up"), 0)
                # Still answering, and still limiting (locally): the per-session
                # query window of SMALL is 4 a minute.
                c = self.fam.client(srv)
                s = self.fam.session(c, "rlsite12")
                statuses = [c.query(s, {"collection": "items", "limit": 1},
                                    retry_429=False).status for _ in range(5)]
                self.assertEqual(statuses, [200] * 4 + [429])
                self.assertNotIn("not-the-password", srv.log_text())
                srv.stop()
