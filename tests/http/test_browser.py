"""The JavaScript client (clients/js) in a real browser: Debian's chromium
driven by playwright-core (tests/browser), pages served from an allowed
origin and from a forbidden one, against a real readgate."""

import json
import os
import subprocess
import tempfile
import unittest

import harness

BROWSER_DIR = os.path.join(harness.REPO, "tests", "browser")
SITE = "browsersite1"
LIMITED = "browserlim01"


class BrowserTest(unittest.TestCase):
    def test_client_in_chromium(self):
        env = harness.env()
        allowed, forbidden = harness.free_port(), harness.free_port()

        def site(site_id, limits=None):
            doc = env.lite_site()
            doc["site_id"] = site_id
            doc["allowed_origins"] = ["localhost:%d" % allowed]
            doc["allow_localhost"] = False
            doc["session_ttl_s"] = 60
            if limits:
                doc["rate_limits"] = limits
            return doc

        limited = {"query": {"per_ip_per_min": 1000, "per_site_per_min": 2, "burst_per_s": 100,
                             "per_session_per_min": 1000}}
        srv = env.start_server("browser", {SITE: site(SITE), LIMITED: site(LIMITED, limited)})
        # What the pages must see, from the same gateway through the signed
        # Python client.
        c = srv.client
        s = c.session(SITE, api_key=env.lite_api_key)
        query = {"collection": "items", "sort": [{"field": "price", "dir": "asc"}], "limit": 3,
                 "fields": ["id", "name", "price"]}
        rows = c.query(s, query).json["rows"]
        all_rows, _ = c.query_all(s, dict(query, limit=2))
        self.assertGreater(len(all_rows), 3)
        expect = {"query": query, "rows": rows, "all_rows": all_rows, "limited_site": LIMITED}
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            json.dump(expect, f)
            path = f.name
        try:
            p = subprocess.run(
                ["bash", os.path.join(BROWSER_DIR, "run.sh")],
                env=dict(os.environ, RG_GATEWAY="http://127.0.0.1:%d" % srv.port, RG_SITE=SITE,
                         RG_ALLOWED_PORT=str(allowed), RG_FORBIDDEN_PORT=str(forbidden),
                         RG_COLLECTION="items", RG_EXPECT=path),
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=900)
        finally:
            os.unlink(path)
        out = p.stdout.decode(errors="replace")
        self.assertEqual(p.returncode, 0, out[-8000:])
        import re
        # node --test prints its totals as "# pass N" (TAP) or "ℹ pass N" (spec).
        passed = re.search(r"^(?:#|ℹ) pass (\d+)$", out, re.M)
        failed = re.search(r"^(?:#|ℹ) fail (\d+)$", out, re.M)
        self.assertTrue(passed and int(passed.group(1)) >= 10, out[-3000:])
        self.assertEqual(int(failed.group(1)), 0, out[-3000:])
        self.assertNotRegex(out, r"^(?:#|ℹ) (skipped|todo) [1-9]", "a skipped test is no pass")


if __name__ == "__main__":
    unittest.main()
