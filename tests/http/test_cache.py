"""The result cache and request coalescing, against gateways of their own.

Backend calls are counted objectively: the sources use the `counting` test
adapter (tests/adapters/counting.c), which wraps the SQLite adapter and
appends one line "<site> <source>" to a file for every query() call. Its
gate_file option holds a query in flight until the test creates the file,
so "identical queries at the same time" never depends on timing; the test
waits until the gateway reports every caller as coalesced before letting
the backend answer.
"""

import json
import os
import signal
import socket
import sqlite3
import threading
import time
import unittest

import harness
import rgclient
from rlbase import metric, wait_for

SITE_A = "cachesite01"
SITE_B = "cachesite02"
TTL_SHORT = 2


def make_db(path, label, factor):
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL, price REAL)")
    db.executemany("INSERT INTO items VALUES (?, ?, ?)",
                   [(i, "%s item %d" % (label, i), i * factor) for i in range(1, 41)])
    db.commit()
    db.close()


def rows_of(label, factor, ids, fields=("id", "name", "price")):
    out = []
    for i in ids:
        full = {"id": i, "name": "%s item %d" % (label, i), "price": i * factor}
        out.append({f: full[f] for f in fields})
    return out


ITEM_FIELDS = {
    "id": {"type": "integer", "display": True, "sortable": True,
           "filterable": ["eq", "lte", "in"]},
    "name": {"type": "string", "display": True, "searchable": True},
    "price": {"type": "number", "display": True, "sortable": True, "filterable": ["lt"]},
}


def collection(source, ttl, fields=None):
    return {"source": source, "target": "items", "key": "id", "cache_ttl_s": ttl,
            "limit": {"default": 10, "max": 100}, "fields": dict(fields or ITEM_FIELDS)}


class Backend:
    """The files a gateway's counting sources use."""

    def __init__(self, env, name):
        self.dir = os.path.join(env.tmp, name + "-backend")
        os.makedirs(self.dir)
        self.count_file = os.path.join(self.dir, "calls")
        self.gate = os.path.join(self.dir, "gate")
        self.flaky_gate = os.path.join(self.dir, "flaky-gate")
        self.fail = os.path.join(self.dir, "fail")
        self.inner = os.path.join(env.build_dir, "adapters", "readgate-adapter-sqlite.so")
        self.adapters_dir = os.path.join(env.tmp, name + "-adapters")
        os.makedirs(self.adapters_dir)
        real = os.path.join(env.build_dir, "adapters")
        for f in os.listdir(real):
            if f.endswith(".so"):
                os.symlink(os.path.join(real, f), os.path.join(self.adapters_dir, f))
        counting = os.path.join(env.build_dir, "test-adapters", "readgate-adapter-counting.so")
        if not os.path.exists(counting):
            raise AssertionError("%s is missing (build target readgate-adapter-counting)"
                                 % counting)
        os.symlink(counting, os.path.join(self.adapters_dir, "readgate-adapter-counting.so"))

    def source(self, db, source_keys=None, **opts):
        o = {"inner": self.inner, "path": db, "count_file": self.count_file}
        o.update(opts)
        s = {"adapter": "counting", "options": o}
        s.update(source_keys or {})
        return s

    def calls(self, site, source):
        try:
            with open(self.count_file) as f:
                return sum(1 for ln in f if ln.split() == [site, source])
        except FileNotFoundError:
            return 0

    @staticmethod
    def touch(path):
        with open(path, "w"):
            pass

    @staticmethod
    def remove(path):
        try:
            os.remove(path)
        except FileNotFoundError:
            pass


def site_file(env, site_id, api_key, backend, db, collections):
    slow = {"timeout_ms": 30000}
    return {
        "site_id": site_id,
        "allowed_origins": ["cache.example.com"],
        "api_keys": [harness.api_key_hash(api_key)],
        "sources": {
            "lite": backend.source(db),
            "gated": backend.source(db, slow, gate_file=backend.gate),
            "flaky": backend.source(db, slow, gate_file=backend.flaky_gate, fail_file=backend.fail),
        },
        "collections": collections,
    }


def run_concurrently(fn, n):
    """Start n threads running fn(i); returns (threads, results dict)."""
    results = {}

    def work(i):
        try:
            results[i] = fn(i)
        except Exception as e:  # reported by the caller
            results[i] = e

    threads = [threading.Thread(target=work, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    return threads, results


def coalesced(server):
    return metric(server, "readgate_coalesced_requests_total") or 0


class CacheTest(unittest.TestCase):
    """A gateway with the cache on (default cache.max_bytes)."""

    @classmethod
    def setUpClass(cls):
        env = cls.env = harness.env()
        cls.b = Backend(env, "cache")
        cls.db_a = os.path.join(cls.b.dir, "a.db")
        cls.db_b = os.path.join(cls.b.dir, "b.db")
        make_db(cls.db_a, "alpha", 1.5)
        make_db(cls.db_b, "beta", 2)
        cls.key_a = harness.new_api_key()
        cls.key_b = harness.new_api_key()
        cls.site_a = site_file(env, SITE_A, cls.key_a, cls.b, cls.db_a, {
            "items": collection("lite", 30),
            "fresh": collection("lite", 0),
            "short": collection("lite", TTL_SHORT),
            "gated": collection("gated", 30),
            "flaky": collection("flaky", 30),
            "reloadable": collection("lite", 300, {k: v for k, v in ITEM_FIELDS.items()
                                                   if k != "price"}),
        })
        cls.site_b = site_file(env, SITE_B, cls.key_b, cls.b, cls.db_b, {
            "items": collection("lite", 30),
        })
        cls.srv = env.start_server("cache", {SITE_A: cls.site_a, SITE_B: cls.site_b},
                                   adapters_dir=cls.b.adapters_dir)
        cls.c = cls.srv.client
        cls.sa = cls.c.session(SITE_A, api_key=cls.key_a)
        cls.sb = cls.c.session(SITE_B, api_key=cls.key_b)

    def setUp(self):
        # The gates start closed, the failure switch off.
        for p in (self.b.gate, self.b.flaky_gate, self.b.fail):
            self.b.remove(p)

    def q(self, body, session=None):
        return self.c.query(session or self.sa, body)

    def ok(self, body, session=None):
        r = self.q(body, session)
        self.assertEqual(r.status, 200, r)
        return r

    def test_concurrent_identical_queries_call_the_backend_once(self):
        body = {"collection": "gated", "filters": [{"field": "id", "op": "lte", "value": 25}],
                "limit": 7}
        before = coalesced(self.srv)
        threads, results = run_concurrently(lambda i: self.q(body), 100)
        try:
            # Every one of the 100 is waiting on the one backend call.
            self.assertTrue(wait_for(lambda: coalesced(self.srv) >= before + 99, timeout=60),
                            "only %s of 99 requests joined" % (coalesced(self.srv) - before))
            self.assertEqual(self.b.calls(SITE_A, "gated"), 1)
        finally:
            self.b.touch(self.b.gate)
            for t in threads:
                t.join(60)
        self.assertEqual(len(results), 100)
        bodies = set()
        for i, r in results.items():
            self.assertIsInstance(r, rgclient.Response, r)
            self.assertEqual(r.status, 200, r)
            bodies.add(r.body)
        self.assertEqual(len(bodies), 1, "the callers got different answers")
        got = json.loads(bodies.pop())
        self.assertEqual(got["rows"], rows_of("alpha", 1.5, range(1, 8)))
        self.assertIsInstance(got["next_cursor"], str)
        self.assertEqual(self.b.calls(SITE_A, "gated"), 1)
        self.assertEqual(coalesced(self.srv), before + 99)
        # And now it is cached.
        r = self.ok(body)
        self.assertEqual(json.loads(r.body), got)
        self.assertEqual(self.b.calls(SITE_A, "gated"), 1)

    def test_ttl_expiry_makes_exactly_one_new_call(self):
        body = {"collection": "short", "limit": 4}
        # Within the TTL the second query is a hit. Only a pair that
        # finished within the TTL can show that; a slower pair is retried.
        for _ in range(5):
            n0 = self.b.calls(SITE_A, "lite")
            t0 = time.monotonic()
            first = self.ok(body)
            second = self.ok(body)
            if time.monotonic() - t0 < TTL_SHORT:
                self.assertEqual(self.b.calls(SITE_A, "lite"), n0 + 1)
                self.assertEqual(first.body, second.body)
                break
            time.sleep(TTL_SHORT + 0.5)
        else:
            self.fail("no pair of queries finished within %d s" % TTL_SHORT)
        time.sleep(TTL_SHORT + 0.5)
        n1 = self.b.calls(SITE_A, "lite")
        third = self.ok(body)
        self.assertEqual(self.b.calls(SITE_A, "lite"), n1 + 1)
        self.assertEqual(third.json["rows"], rows_of("alpha", 1.5, range(1, 5)))

    def test_cache_hit_never_crosses_sites(self):
        # The same collection name and query on two sites whose data differ.
        body = {"collection": "items", "filters": [{"field": "id", "op": "lte", "value": 3}]}
        na, nb = self.b.calls(SITE_A, "lite"), self.b.calls(SITE_B, "lite")
        for round_ in range(2):
            a = self.ok(body, self.sa)
            b = self.ok(body, self.sb)
            self.assertEqual(a.json["rows"], rows_of("alpha", 1.5, [1, 2, 3]), round_)
            self.assertEqual(b.json["rows"], rows_of("beta", 2, [1, 2, 3]), round_)
            # One call per site, then each site's own hit.
            self.assertEqual(self.b.calls(SITE_A, "lite"), na + 1, round_)
            self.assertEqual(self.b.calls(SITE_B, "lite"), nb + 1, round_)

    def test_different_queries_do_not_share(self):
        base = {"collection": "items", "filters": [{"field": "price", "op": "lt", "value": 10}]}
        variants = [
            dict(base),
            dict(base, limit=3),
            dict(base, fields=["id"]),
            dict(base, fields=["name", "id"]),
            dict(base, sort=[{"field": "price", "dir": "desc"}]),
            dict(base, filters=[{"field": "price", "op": "lt", "value": 11}]),
            dict(base, search="item 3"),
            {"collection": "fresh", "filters": base["filters"]},
        ]
        answers = []
        for v in variants:
            n = self.b.calls(SITE_A, "lite")
            r = self.ok(v)
            self.assertEqual(self.b.calls(SITE_A, "lite"), n + 1, v)
            answers.append(r.json)
        ids_lt10 = [i for i in range(1, 41) if i * 1.5 < 10]
        self.assertEqual(answers[0]["rows"], rows_of("alpha", 1.5, ids_lt10))
        self.assertEqual(answers[1]["rows"], rows_of("alpha", 1.5, ids_lt10[:3]))
        self.assertEqual(answers[2]["rows"], [{"id": i} for i in ids_lt10])
        self.assertEqual(list(answers[3]["rows"][0]), ["name", "id"])
        self.assertEqual(answers[4]["rows"], rows_of("alpha", 1.5, ids_lt10[::-1]))
        self.assertEqual(answers[6]["rows"], rows_of("alpha", 1.5, [3]))
        # The same question written differently is the same entry.
        n = self.b.calls(SITE_A, "lite")
        r = self.ok({"limit": 10, "filters": [{"value": 10.0, "op": "lt", "field": "price"},
                                              {"field": "price", "op": "lt", "value": 10}],
                     "collection": "items", "cursor": None})
        self.assertEqual(r.json, answers[0])
        self.assertEqual(self.b.calls(SITE_A, "lite"), n)

    def test_collection_without_ttl_is_never_cached(self):
        body = {"collection": "fresh", "limit": 2}
        n = self.b.calls(SITE_A, "lite")
        for _ in range(3):
            self.ok(body)
        self.assertEqual(self.b.calls(SITE_A, "lite"), n + 3)

    def test_errors_are_not_cached(self):
        body = {"collection": "flaky", "limit": 3}
        self.b.touch(self.b.flaky_gate)
        self.b.touch(self.b.fail)
        n = self.b.calls(SITE_A, "flaky")
        for i in range(2):
            r = self.q(body)
            self.assertEqual(r.status, 502, r)
            self.assertEqual(r.code, "upstream_error")
        self.assertEqual(self.b.calls(SITE_A, "flaky"), n + 2)
        self.b.remove(self.b.fail)
        r = self.ok(body)
        self.assertEqual(r.json["rows"], rows_of("alpha", 1.5, [1, 2, 3]))
        self.assertEqual(self.b.calls(SITE_A, "flaky"), n + 3)
        self.ok(body)
        self.assertEqual(self.b.calls(SITE_A, "flaky"), n + 3)

    def test_coalesced_callers_share_the_error(self):
        body = {"collection": "flaky", "limit": 4}
        self.b.touch(self.b.fail)
        n = self.b.calls(SITE_A, "flaky")
        before = coalesced(self.srv)
        threads, results = run_concurrently(lambda i: self.q(body), 10)
        try:
            self.assertTrue(wait_for(lambda: coalesced(self.srv) >= before + 9, timeout=60))
            self.assertEqual(self.b.calls(SITE_A, "flaky"), n + 1)
        finally:
            self.b.touch(self.b.flaky_gate)
            for t in threads:
                t.join(60)
        for r in results.values():
            self.assertIsInstance(r, rgclient.Response, r)
            self.assertEqual(r.status, 502, r)
            self.assertEqual(r.code, "upstream_error")
        self.assertEqual(self.b.calls(SITE_A, "flaky"), n + 1)
        # The error was not kept: the next caller asks again.
        r = self.q(body)
        self.assertEqual(r.status, 502, r)
        self.assertEqual(self.b.calls(SITE_A, "flaky"), n + 2)

    def raw_query(self, session, body):
        """Send a signed query on a socket of our own and return the socket."""
        raw = json.dumps(body).encode()
        path = "/v1/%s/query" % session.site
        ts, nonce = str(int(time.time())), rgclient.new_nonce()
        sig = rgclient.sign(session.secret, ts, nonce, "POST", path, raw)
        head = ("POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                "Content-Length: %d\r\nX-Readgate-Session: %s\r\nX-Readgate-Timestamp: %s\r\n"
                "X-Readgate-Nonce: %s\r\nX-Readgate-Signature: %s\r\n\r\n"
                % (path, len(raw), session.token, ts, nonce, sig))
        s = socket.create_connection(("127.0.0.1", self.srv.port), timeout=30)
        s.sendall(head.encode() + raw)
        return s

    def test_leader_client_gone_followers_still_answered(self):
        body = {"collection": "gated", "limit": 5, "sort": [{"field": "price", "dir": "desc"}]}
        n = self.b.calls(SITE_A, "gated")
        before = coalesced(self.srv)
        leader = self.raw_query(self.sa, body)
        try:
            self.assertTrue(wait_for(lambda: self.b.calls(SITE_A, "gated") == n + 1, timeout=30))
            threads, results = run_concurrently(lambda i: self.q(body), 3)
            self.assertTrue(wait_for(lambda: coalesced(self.srv) >= before + 3, timeout=30))
        finally:
            leader.close()
        # Give the gateway a moment to see the leader's connection close; the
        # outcome must not depend on whether it did.
        time.sleep(0.3)
        self.b.touch(self.b.gate)
        for t in threads:
            t.join(60)
        for r in results.values():
            self.assertIsInstance(r, rgclient.Response, r)
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.json["rows"], rows_of("alpha", 1.5, range(40, 35, -1)))
        self.assertEqual(self.b.calls(SITE_A, "gated"), n + 1)

    def test_cached_cursor_works_for_another_session(self):
        body = {"collection": "items", "limit": 6, "fields": ["id"]}
        s2 = self.c.session(SITE_A, api_key=self.key_a)
        p1 = self.ok(body, self.sa)
        n = self.b.calls(SITE_A, "lite")
        p1b = self.ok(body, s2)  # a hit, with the same cursor
        self.assertEqual(p1b.body, p1.body)
        self.assertEqual(self.b.calls(SITE_A, "lite"), n)
        p2 = self.ok(dict(body, cursor=p1b.json["next_cursor"]), s2)
        self.assertEqual(p2.json["rows"], [{"id": i} for i in range(7, 13)])
        # Not across sites: site B refuses site A's cursor.
        r = self.q(dict(body, cursor=p1.json["next_cursor"]), self.sb)
        self.assertEqual(r.status, 400, r)
        self.assertEqual(r.code, "invalid_cursor")

    def reload(self):
        """SIGHUP, then wait for the log to say how it went."""
        mark = "SIGHUP: reloading"
        before = self.srv.log_text().count(mark)
        self.srv.proc.send_signal(signal.SIGHUP)

        def outcome():
            text = self.srv.log_text()
            if text.count(mark) <= before:
                return None
            last = text.split(mark)[-1]
            if "configuration reloaded" in last:
                return "ok"
            if "reload failed" in last:
                return "failed"
            return None

        self.assertEqual(wait_for(outcome, timeout=30), "ok", self.srv.log_tail())

    def test_reload_invalidates(self):
        body = {"collection": "reloadable", "limit": 2}
        r1 = self.ok(body)
        self.assertEqual(r1.json["rows"], rows_of("alpha", 1.5, [1, 2], ("id", "name")))
        n = self.b.calls(SITE_A, "lite")
        self.ok(body)
        self.assertEqual(self.b.calls(SITE_A, "lite"), n)
        # The same configuration reloaded: nothing from before is served.
        self.reload()
        r2 = self.ok(body)
        self.assertEqual(self.b.calls(SITE_A, "lite"), n + 1)
        self.assertEqual(r2.json, r1.json)
        # A changed configuration: the answer follows it at once, within the TTL.
        site = json.loads(json.dumps(self.site_a))
        site["collections"]["reloadable"]["fields"]["price"] = ITEM_FIELDS["price"]
        with open(os.path.join(self.srv.sites_dir, SITE_A + ".yaml"), "w") as f:
            f.write(harness.to_yaml(site) + "\n")
        try:
            self.reload()
            r3 = self.ok(body)
            self.assertEqual(r3.json["rows"], rows_of("alpha", 1.5, [1, 2]))
            self.assertEqual(self.b.calls(SITE_A, "lite"), n + 2)
        finally:
            with open(os.path.join(self.srv.sites_dir, SITE_A + ".yaml"), "w") as f:
                f.write(harness.to_yaml(self.site_a) + "\n")
            self.reload()

    def test_repeated_body_answered_and_counted_once_each(self):
        # The same bytes again and again (the body memo's case), the same
        # query written differently, and an invalid body that looks alike:
        # each answered as the first was, each a hit or a refusal, no miss
        # counted twice, the backend read once.
        raw = b'{"collection":"items","filters":[{"field":"id","op":"lte","value":7}],"limit":3}'
        first = self.ok(raw)
        n = self.b.calls(SITE_A, "lite")
        hits = metric(self.srv, "readgate_cache_hits_total")
        misses = metric(self.srv, "readgate_cache_misses_total")
        for _ in range(5):
            r = self.ok(raw)
            self.assertEqual(r.body, first.body)
        spaced = self.ok(raw.replace(b",", b", "))
        self.assertEqual(spaced.body, first.body)
        self.assertEqual(self.b.calls(SITE_A, "lite"), n)
        self.assertEqual(metric(self.srv, "readgate_cache_hits_total"), hits + 6)
        self.assertEqual(metric(self.srv, "readgate_cache_misses_total"), misses)
        bad = self.q(raw.replace(b'"limit":3', b'"limit":-3'))
        self.assertEqual(bad.status, 400, bad)
        # Another site sending the very same bytes gets its own rows.
        other = self.c.query(self.sb, raw)
        self.assertEqual(other.status, 200, other)
        self.assertNotEqual(other.body, first.body)

    def test_metrics(self):
        self.ok({"collection": "items", "limit": 1})
        self.ok({"collection": "items", "limit": 1})
        for name in ("readgate_cache_hits_total", "readgate_cache_misses_total",
                     "readgate_cache_evictions_total", "readgate_cache_bytes",
                     "readgate_cache_entries", "readgate_coalesced_requests_total"):
            self.assertIsNotNone(metric(self.srv, name), name)
        self.assertGreaterEqual(metric(self.srv, "readgate_cache_hits_total"), 1)
        self.assertGreater(metric(self.srv, "readgate_cache_bytes"), 0)
        self.assertGreaterEqual(metric(self.srv, "readgate_cache_entries"), 1)


class NoCacheTest(unittest.TestCase):
    """cache.max_bytes: 0 turns the cache off; coalescing still applies to
    collections with cache_ttl_s > 0, and only to them."""

    @classmethod
    def setUpClass(cls):
        env = cls.env = harness.env()
        cls.b = Backend(env, "nocache")
        cls.db = os.path.join(cls.b.dir, "a.db")
        make_db(cls.db, "alpha", 1.5)
        cls.key = harness.new_api_key()
        site = site_file(env, SITE_A, cls.key, cls.b, cls.db, {
            "gated": collection("gated", 30),
            "gated_fresh": collection("gated", 0),
        })
        cls.srv = env.start_server("nocache", {SITE_A: site}, adapters_dir=cls.b.adapters_dir,
                                   extra={"cache": {"max_bytes": 0}})
        cls.c = cls.srv.client
        cls.s = cls.c.session(SITE_A, api_key=cls.key)

    def setUp(self):
        self.b.remove(self.b.gate)

    def test_coalescing_without_cache(self):
        body = {"collection": "gated", "limit": 3}
        before = coalesced(self.srv)
        threads, results = run_concurrently(lambda i: self.c.query(self.s, body), 50)
        try:
            self.assertTrue(wait_for(lambda: coalesced(self.srv) >= before + 49, timeout=60))
            self.assertEqual(self.b.calls(SITE_A, "gated"), 1)
        finally:
            self.b.touch(self.b.gate)
            for t in threads:
                t.join(60)
        for r in results.values():
            self.assertIsInstance(r, rgclient.Response, r)
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.json["rows"], rows_of("alpha", 1.5, [1, 2, 3]))
        self.assertEqual(self.b.calls(SITE_A, "gated"), 1)
        # Nothing is kept: the next one asks the backend.
        r = self.c.query(self.s, body)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(self.b.calls(SITE_A, "gated"), 2)
        self.assertEqual(metric(self.srv, "readgate_cache_entries"), 0)

    def test_ttl_zero_is_not_coalesced(self):
        body = {"collection": "gated_fresh", "limit": 2}
        n = self.b.calls(SITE_A, "gated")
        threads, results = run_concurrently(lambda i: self.c.query(self.s, body), 3)
        try:
            # Three identical queries, three backend calls (the source has 4 workers).
            self.assertTrue(wait_for(lambda: self.b.calls(SITE_A, "gated") == n + 3, timeout=60),
                            "calls: %d" % (self.b.calls(SITE_A, "gated") - n))
        finally:
            self.b.touch(self.b.gate)
            for t in threads:
                t.join(60)
        for r in results.values():
            self.assertIsInstance(r, rgclient.Response, r)
            self.assertEqual(r.status, 200, r)
        self.assertEqual(self.b.calls(SITE_A, "gated"), n + 3)


if __name__ == "__main__":
    unittest.main()
