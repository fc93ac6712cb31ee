"""Tokens the provider has issued survive a state store that fails the write.

Airtable spends a refresh token the moment it answers the refresh, so the
tokens in that answer are the only copy. Here the PostgreSQL state store is
stopped while the fake provider holds its answer, so the gateway's first
write fails; the store comes back a moment later and the gateway must write
the new tokens then, not drop them (which would leave it a spent refresh
token, and Airtable revokes a grant whose refresh token is presented twice).
"""

import time
import unittest

import harness
from test_oauth import (FakeProcess, Gateway, SITE, airtable_source, grant_view, mint,
                        refresh_log, site_doc, wait_for)


class StoreOutageDuringRefreshTest(unittest.TestCase):

    def test_issued_tokens_are_written_when_the_store_returns(self):
        env = harness.env()
        if not env.pg_dir:
            self.fail("RG_TEST_PG_DIR is not set: the test stops and restarts the cluster")
        fake = FakeProcess("airtable", "--rate", "1000")
        pg_stopped = False
        try:
            key = harness.new_api_key()
            state = "postgres://postgres@127.0.0.1:%d/catalog" % env.pg_port
            doc = site_doc(env, key, {"wr": airtable_source(env, SITE, "wr", fake, margin=20)})
            srv = env.start_server("oauth-store-outage", {SITE: doc},
                                   extra={"state_store": state})
            gw = Gateway(env, srv, key)
            # The provider rotates at once and answers 6 s later.
            fake.control("config", {"faults": [{"delay_after_s": 6, "scope": "oauth"}]})
            answer, grant = mint(fake, expires_in=22)  # due now: margin 20 s
            gw.import_token("wr", answer)
            before = gw.status()[(SITE, "wr")]
            wait_for(lambda: refresh_log(fake, grant), 15, "the refresh to reach the provider")

            env.pg_sh("stop", env.pg_dir)
            pg_stopped = True
            wait_for(lambda: "writing the new token failed" in srv.log_text(), 20,
                     "the gateway's first write to fail")
            env.pg_sh("start", env.pg_dir, str(env.pg_port))
            pg_stopped = False

            wait_for(lambda: "the new token was written after" in srv.log_text(), 20,
                     "the retried write")
            after = gw.status()[(SITE, "wr")]
            self.assertEqual(after["state"], "ok")
            self.assertEqual(after["version"], before["version"] + 1)
            self.assertGreater(after["expires_at"], before["expires_at"])
            # One refresh reached the provider and the grant is alive.
            log = refresh_log(fake, grant)
            self.assertEqual(len(log), 1, log)
            self.assertEqual(log[0]["result"], "ok")
            self.assertFalse(grant_view(fake, grant)["revoked"])
            # Queries use the written token (the provider has retired the old one).
            fake.control("config", {"clear_faults": True})
            r = wait_for(lambda: (lambda r: r if r.status == 200 else None)(gw.query("wr")),
                         20, "a query to answer 200")
            self.assertEqual(len(r.json["rows"]), 3)
            # The next refresh presents the rotated token, not the spent one.
            fake.control("config", {"expire_access_tokens_in_s": 0})
            r = gw.query("wr")
            self.assertEqual(r.status, 200, r)
            log = refresh_log(fake, grant)
            self.assertEqual(len(log), 2, log)
            self.assertEqual(log[1]["refresh_token"], log[0]["new_refresh_token"])
            self.assertEqual(log[1]["result"], "ok")
            self.assertFalse(grant_view(fake, grant)["revoked"])
            srv.stop()
        finally:
            if pg_stopped:
                env.pg_sh("start", env.pg_dir, str(env.pg_port))
            fake.stop()


if __name__ == "__main__":
    unittest.main()
