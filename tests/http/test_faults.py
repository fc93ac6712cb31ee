"""Backend faults (run last): PostgreSQL going away and coming back, an
adapter built for another ABI major, plugins that break the ABI's array rule,
and a slow backend that must not stall other sources."""

import json
import os
import re
import secrets
import subprocess
import threading
import time
import unittest

import fixture
import harness
from harness import LITE, SITE, WRONG


class SlowBackendTest(unittest.TestCase):
    """The "slow" collection reads a view that takes minutes per query from a
    source with timeout_ms 1000."""

    @classmethod
    def setUpClass(cls):
        cls.env = harness.env()
        cls.c = cls.env.client
        cls.s = cls.c.session(SITE, api_key=cls.env.api_key)
        cls.lite = cls.c.session(LITE, api_key=cls.env.lite_api_key)

    def test_timeout_is_504(self):
        r = self.c.query(self.s, {"collection": "slow", "limit": 5})
        elapsed = r.elapsed
        self.assertEqual(r.status, 504, r)
        self.assertEqual(r.code, "upstream_timeout")
        self.assertLess(elapsed, 2.9, "the 1 s budget was not enforced")
        self.assertGreater(elapsed, 0.8)

    def test_slow_source_does_not_stall_others(self):
        result = {}

        def slow(i):
            # different limits: two distinct queries, nothing to coalesce
            r = self.c.query(self.s, {"collection": "slow", "limit": 4 + i})
            result[i] = (r, r.elapsed)

        threads = [threading.Thread(target=slow, args=(i,)) for i in range(2)]
        for t in threads:
            t.start()
        time.sleep(0.15)
        fast = []  # (response, seconds, a slow query was still in flight)
        for i in range(8):
            r = self.c.query(self.lite, {"collection": "items", "limit": 3,
                                         "filters": [{"field": "id", "op": "lte", "value": i + 3}]})
            fast.append((r, r.elapsed, any(t.is_alive() for t in threads)))
            r = self.c.query(self.s, {"collection": "products", "limit": 2,
                                      "filters": [{"field": "id", "op": "gte", "value": 100 + i}]})
            fast.append((r, r.elapsed, any(t.is_alive() for t in threads)))
        for t in threads:
            t.join(10)
        for r, secs, _ in fast:
            self.assertEqual(r.status, 200, r)
            self.assertLess(secs, 0.5, "a query to another source waited %.2f s" % secs)
        overlapped = sum(1 for _, _, alive in fast if alive)
        self.assertGreaterEqual(overlapped, 4, "too few queries ran while the slow ones did")
        for i, (r, secs) in result.items():
            self.assertEqual(r.status, 504, r)
            self.assertEqual(r.code, "upstream_timeout")
        self.assertEqual(len(result), 2)

    def test_sqlite_site_answers(self):
        r = self.c.query(self.lite, {"collection": "items", "sort": [{"field": "price",
                                                                      "dir": "desc"}],
                                     "limit": 3})
        self.assertEqual(r.status, 200, r)
        self.assertEqual([x["id"] for x in r.json["rows"]], [30, 29, 28])
        self.assertEqual(r.json["rows"][0], {"id": 30, "name": "lite item 30", "price": 30})


class PostgresDownTest(unittest.TestCase):
    """Stops the cluster under a running readgate and starts it again."""

    @classmethod
    def setUpClass(cls):
        cls.env = harness.env()
        cls.c = cls.env.client
        cls.s = cls.c.session(SITE, api_key=cls.env.api_key)
        cls.lite = cls.c.session(LITE, api_key=cls.env.lite_api_key)

    def unique_query(self):
        # a filter value never used before, so no cache can answer
        return {"collection": "products", "limit": 3,
                "filters": [{"field": "name", "op": "ne", "value": secrets.token_hex(8)}]}

    def wait_for(self, what, cond, timeout):
        deadline = time.time() + timeout
        last = None
        while time.time() < deadline:
            ok, last = cond()
            if ok:
                return last
            time.sleep(0.3)
        self.fail("%s not within %d s; last: %r" % (what, timeout, last))

    def concurrent_queries(self, n):
        out = [None] * n

        def go(i):
            c = harness.rgclient.Client("127.0.0.1", self.env.main.port)
            out[i] = c.query(self.s, self.unique_query(), retry_429=False)
        threads = [threading.Thread(target=go, args=(i,)) for i in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        return out

    def test_restart_while_idle_is_invisible(self):
        """PostgreSQL restarted while every worker's connection sat idle:
        each dead connection is found on its next query and the query runs
        again on a new one; the client sees no error."""
        if not self.env.pg_dir:
            self.fail("RG_TEST_PG_DIR is not set: the fault test needs the cluster directory")
        # Enough at once that every worker holds a connection.
        self.assertEqual([r.status for r in self.concurrent_queries(16)], [200] * 16)
        self.env.pg_sh("stop", self.env.pg_dir)
        self.env.pg_sh("start", self.env.pg_dir, str(self.env.pg_port))
        rs = self.concurrent_queries(16)
        self.assertEqual([r.status for r in rs], [200] * 16, [r for r in rs if r.status != 200])
        self.assertIn("retrying once on a new connection", self.env.main.log_text())

    def test_outage_and_recovery(self):
        if not self.env.pg_dir:
            self.fail("RG_TEST_PG_DIR is not set: the fault test needs the cluster directory")
        srv = self.env.main
        r = self.c.query(self.s, self.unique_query())
        self.assertEqual(r.status, 200, r)
        self.assertEqual(srv.admin_get("/readyz")[0], 200)

        self.env.pg_sh("stop", self.env.pg_dir)
        try:
            for _ in range(3):
                r = self.c.query(self.s, self.unique_query())
                secs = r.elapsed
                self.assertEqual(r.status, 503, r)
                self.assertEqual(r.code, "source_unavailable")
                self.assertLess(secs, 6.0)
                self.assertNotIn("127.0.0.1", r.json["error"]["message"])
                self.assertNotIn("rg_reader", r.json["error"]["message"])
            self.assertEqual(srv.admin_get("/healthz")[0], 200)

            def not_ready():
                st, body = srv.admin_get("/readyz")
                return st == 503, (st, body)
            st, body = self.wait_for("/readyz 503", not_ready, 10)
            doc = json.loads(body)
            self.assertIn("unavailable", json.dumps(doc))
            # other sources keep working
            r = self.c.query(self.lite, {"collection": "items", "limit": 2})
            self.assertEqual(r.status, 200, r)
        finally:
            self.env.pg_sh("start", self.env.pg_dir, str(self.env.pg_port))

        def query_ok():
            r = self.c.query(self.s, self.unique_query())
            return r.status == 200, r
        r = self.wait_for("queries to succeed again", query_ok, 10)
        self.assertEqual(len(r.json["rows"]), 3)

        def ready():
            st, body = srv.admin_get("/readyz")
            return st == 200, (st, body)
        self.wait_for("/readyz 200", ready, 15)
        self.assertIsNone(srv.proc.poll(), "readgate must not have restarted or exited")


def adapters_dir_with(env, name, *extra):
    """A fresh adapters_dir: every built plugin, plus `extra` files from
    build/test-adapters."""
    adir = os.path.join(env.tmp, "adapters-" + name)
    os.makedirs(adir)
    real = os.path.join(env.build_dir, "adapters")
    for f in os.listdir(real):
        if f.endswith(".so"):
            os.symlink(os.path.join(real, f), os.path.join(adir, f))
    for f in extra:
        path = os.path.join(env.build_dir, "test-adapters", f)
        if not os.path.exists(path):
            raise AssertionError("%s is missing (build the test targets)" % path)
        os.symlink(path, os.path.join(adir, f))
    return adir


class WrongMajorAdapterTest(unittest.TestCase):
    """A second instance whose adapters_dir also holds an adapter built for
    the next ABI major (3) and one built for major 1."""

    OLD = "oldmajor01"

    @classmethod
    def setUpClass(cls):
        cls.env = harness.env()
        env = cls.env
        adir = adapters_dir_with(env, "wrongmajor", "readgate-adapter-wrongmajor.so",
                                 "readgate-adapter-oldmajor.so")
        old = dict(env.wrong_site(), site_id=cls.OLD,
                   sources={"w": {"adapter": "oldmajor", "options": {}}})
        cls.srv = env.start_server("wrongmajor", {WRONG: env.wrong_site(), cls.OLD: old,
                                                  LITE: env.lite_site()}, adapters_dir=adir)
        cls.c = cls.srv.client

    def test_healthy_site_answers(self):
        s = self.c.session(LITE, api_key=self.env.lite_api_key)
        r = self.c.query(s, {"collection": "items", "limit": 5,
                             "filters": [{"field": "id", "op": "lte", "value": 3}]})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["rows"], [{"id": i, "name": "lite item %d" % i, "price": i}
                                          for i in (1, 2, 3)])

    def test_wrong_major_site_is_unavailable(self):
        for site in (WRONG, self.OLD):
            s = self.c.session(site, api_key=self.env.wrong_api_key)
            for _ in range(2):
                r = self.c.query(s, {"collection": "items", "limit": 5})
                self.assertEqual(r.status, 503, r)
                self.assertEqual(r.code, "source_unavailable")

    def test_log_names_the_abi_major(self):
        log = self.srv.log_text()
        for name, major in (("wrongmajor", "3"), ("oldmajor", "1")):
            lines = [ln for ln in log.splitlines() if re.search(r"ABI", ln) and name in ln]
            self.assertTrue(lines, "no log line about %s's ABI major:\n%s" % (name, log[-3000:]))
            self.assertTrue(any(re.search(r"built for ABI major %s\b" % major, ln)
                                and re.search(r"supports adapter ABI major 2\b", ln)
                                for ln in lines), lines)

    def test_readyz_reports_the_source(self):
        st, body = self.srv.admin_get("/readyz")
        self.assertEqual(st, 503, body)
        self.assertIn(WRONG, body.decode())

    def test_zz_stops_cleanly(self):
        rc, secs = self.srv.stop()
        self.assertEqual(rc, 0, self.srv.log_tail())
        self.assertLess(secs, 5)


class ArrayRuleTest(unittest.TestCase):
    """Plugins that load (ABI 2.0) but break its array rule: an adapter whose
    row values claim a struct_size below the 2.0 rg_value, or different sizes
    within one row, and a token provider whose request headers claim one below
    the 2.0 rg_provider_header. readgate refuses what they return as their
    error, logs why, and keeps serving; it never reads past what they sent."""

    ROWS = "badrows001"
    HEADERS = "badheaders01"
    ORIGIN = "https://bad.example.com"

    @classmethod
    def setUpClass(cls):
        env = cls.env = harness.env()
        adir = adapters_dir_with(env, "arrayrule", "readgate-adapter-badrows.so",
                                 "readgate-provider-badheaders.so")
        # Two collections: one reads only id, one id and price (two values).
        item = env.wrong_site()["collections"]["items"]
        price = {"type": "number", "display": True}
        rows = dict(env.wrong_site(), site_id=cls.ROWS, sources={
            mode: {"adapter": "badrows", "options": {"mode": mode}} for mode in ("small", "mixed")
        }, collections={
            "small": dict(item, source="small"),
            "mixed": dict(item, source="mixed", fields=dict(item["fields"], price=price)),
        })
        headers = env.lite_site()
        headers["site_id"] = cls.HEADERS
        headers["allowed_origins"] = ["bad.example.com"]
        headers["ai"] = {"provider": "badheaders",
                         "api_key": env.encrypt(cls.HEADERS, "ai.api_key",
                                                "sk-test-bad-headers-0123456789")}
        cls.srv = env.start_server("arrayrule", {cls.ROWS: rows, cls.HEADERS: headers,
                                                 LITE: env.lite_site()}, adapters_dir=adir)
        cls.c = cls.srv.client

    def test_rows_with_small_values_are_refused(self):
        s = self.c.session(self.ROWS, api_key=self.env.wrong_api_key)
        for coll, size in (("small", "8"), ("mixed", "40")):
            r = self.c.query(s, {"collection": coll, "limit": 5})
            self.assertEqual(r.status, 500, r)
            self.assertEqual(r.code, "internal")
            self.wait_for_log(r"adapter badrows sent a row whose values have struct_size %s;"
                              % size)

    def test_headers_without_struct_size_are_refused(self):
        r = self.c.token(self.HEADERS, origin=self.ORIGIN)
        self.assertEqual(r.status, 500, r)
        self.assertEqual(r.code, "internal")
        self.wait_for_log(r"provider badheaders: the plugin's request header 0 has struct_size 0;")

    def test_zy_others_keep_working(self):
        s = self.c.session(LITE, api_key=self.env.lite_api_key)
        r = self.c.query(s, {"collection": "items", "limit": 2})
        self.assertEqual(r.status, 200, r)
        self.assertIsNone(self.srv.proc.poll(), "readgate must not have exited")

    def test_zz_stops_cleanly(self):
        rc, secs = self.srv.stop()
        self.assertEqual(rc, 0, self.srv.log_tail())
        self.assertLess(secs, 5)

    def wait_for_log(self, pattern):
        deadline = time.time() + 5
        while time.time() < deadline:
            if re.search(pattern, self.srv.log_text()):
                return
            time.sleep(0.05)
        self.fail("no log line matching %r:\n%s" % (pattern, self.srv.log_text()[-3000:]))


class RefusedOptionsTest(unittest.TestCase):
    """A source whose adapter refuses its options (check_options) is reported
    when the configuration is loaded, not at the first query; its site
    answers 503 and every other site keeps working."""

    BAD = "badopts01"

    @classmethod
    def setUpClass(cls):
        cls.env = harness.env()
        bad = cls.env.lite_site()
        bad["site_id"] = cls.BAD
        bad["allowed_origins"] = ["badopts.example.com"]
        bad["sources"]["lite"]["options"]["jurnal_mode"] = "wal"
        cls.srv = cls.env.start_server("badopts", {cls.BAD: bad, LITE: cls.env.lite_site()})
        cls.c = cls.srv.client

    def test_log_names_the_option_at_start(self):
        # Logged at start, before anything asked for the source.
        lines = [ln for ln in self.srv.log_text().splitlines()
                 if self.BAD in ln and "jurnal_mode" in ln]
        self.assertEqual(len(lines), 1, self.srv.log_text()[-3000:])
        self.assertIn("refuses the options", lines[0])

    def test_site_is_unavailable_and_others_answer(self):
        s = self.c.session(self.BAD, origin="https://badopts.example.com")
        r = self.c.query(s, {"collection": "items", "limit": 5})
        self.assertEqual((r.status, r.code), (503, "source_unavailable"), r)
        s = self.c.session(LITE, api_key=self.env.lite_api_key)
        r = self.c.query(s, {"collection": "items", "limit": 2})
        self.assertEqual(r.status, 200, r)
        st, body = self.srv.admin_get("/readyz")
        self.assertEqual(st, 503, body)
        self.assertIn(self.BAD, body.decode())

    def test_check_reports_the_same(self):
        p = subprocess.run([self.env.readgate, "check", "-c", self.srv.config_path],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           env=self.env.proc_env, timeout=60)
        out = p.stdout.decode()
        self.assertNotEqual(p.returncode, 0, out)
        self.assertIn("jurnal_mode", out)

    def test_zz_stops_cleanly(self):
        rc, secs = self.srv.stop()
        self.assertEqual(rc, 0, self.srv.log_tail())


if __name__ == "__main__":
    unittest.main()
