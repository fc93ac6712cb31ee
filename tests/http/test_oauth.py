"""OAuth token lifecycle (docs/configuration.md, "OAuth connections") against the fake providers.

Gateways of their own, each with Airtable (and for some tests Google or
Shopify) sources pointed at a fake provider process (tests/fakes). The fake's
control API mints grants, expires access tokens, spends refresh tokens and
keeps a refresh log with every refresh token presented, which is what the
rotation tests count.
"""

import glob
import hashlib
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import unittest

import fixture
import harness
from test_keys import encrypt as encrypt_under, key_line, write_keys

sys.path.insert(0, os.path.join(harness.REPO, "tests", "fakes"))
from launch import FakeProcess  # noqa: E402

SITE = "oauthsite01"
BASE = "appRGFakeBase0001"
CLIENT_ID = "fake-client-id"
CLIENT_SECRET = "fake-client-secret"


def wait_for(pred, timeout, what, step=0.2):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(step)
    raise AssertionError("timed out after %.0f s waiting for %s" % (timeout, what))


def mint(fake, **kw):
    """(token answer, grant id) of a new grant."""
    status, headers, body = fake.call("POST", "/_fake/tokens", kw)
    if status != 200:
        raise AssertionError("mint: %s %s" % (status, body))
    return body, headers.get("X-Fake-Grant")


def refresh_log(fake, grant=None):
    log = fake.control("refresh-log")
    entries = log["refresh_log"] if isinstance(log, dict) and "refresh_log" in log else log
    if isinstance(entries, dict):
        entries = entries.get("entries", [])
    return [e for e in entries if grant is None or e.get("grant") == grant]


def grant_view(fake, grant):
    g = fake.control("grants")
    grants = g["grants"] if isinstance(g, dict) else g
    return next(x for x in grants if x["id"] == grant)


def all_token_values(fake):
    """Every token value the fake ever issued (from its state file)."""
    with open(os.path.join(fake.state, "tokens.json")) as f:
        snap = json.load(f)
    return list(snap["access"]) + list(snap["refresh"])


def airtable_source(env, site, name, fake, margin=300, extra_options=None):
    opts = {"base_id": BASE, "base_url": fake.url, "requests_per_second": 1000}
    opts.update(extra_options or {})
    return {
        "adapter": "airtable",
        "workers": 2,
        "options": opts,
        "oauth": {
            "provider": "airtable",
            "client_id": CLIENT_ID,
            "client_secret": env.encrypt(site, "sources.%s.oauth.client_secret" % name,
                                         CLIENT_SECRET),
            "token_url": fake.url + "/oauth2/v1/token",
            "revoke_url": fake.url + "/oauth2/v1/revoke",
            "refresh_margin_s": margin,
        },
    }


def products(source):
    return {
        "source": source,
        "target": "products",
        "key": "id",
        "limit": {"default": 5, "max": 50},
        "fields": {
            "id": {"type": "integer", "display": True, "sortable": True, "filterable": ["eq"]},
            "name": {"type": "string", "display": True},
        },
    }


def site_doc(env, api_key, sources, site=SITE):
    return {
        "site_id": site,
        "allowed_origins": ["oauth.example.com"],
        "api_keys": [harness.api_key_hash(api_key)],
        "sources": sources,
        "collections": {"c_" + name: products(name) for name in sources},
    }


class Gateway:
    """Helpers around one harness.Server for these tests."""

    def __init__(self, env, srv, api_key):
        self.env, self.srv, self.api_key = env, srv, api_key

    def cli(self, *args, stdin=None):
        p = subprocess.run([self.env.readgate, *args, "-c", self.srv.config_path],
                           input=(stdin or "").encode(), stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, env=self.env.proc_env, timeout=60)
        return p.returncode, p.stdout.decode(), p.stderr.decode()

    def import_token(self, source, answer, site=SITE):
        rc, out, err = self.cli("oauth", "import", "--site", site, "--source", source,
                                stdin=json.dumps(answer))
        if rc != 0:
            raise AssertionError("oauth import failed (%d): %s %s" % (rc, out, err))
        return out

    def status(self):
        rc, out, err = self.cli("oauth", "status", "--json")
        if rc != 0:
            raise AssertionError("oauth status failed (%d): %s" % (rc, err))
        return {(x["site"], x["source"]): x for x in json.loads(out)}

    def query(self, source, site=SITE):
        s = self.srv.client.session(site, api_key=self.api_key)
        return self.srv.client.query(s, {"collection": "c_" + source, "limit": 3,
                                         "sort": [{"field": "id", "dir": "asc"}]})

    def metrics(self):
        return self.srv.admin_get("/metrics")[1].decode()


def assert_no_tokens_in(testcase, fake, texts):
    values = all_token_values(fake)
    testcase.assertTrue(values)
    for name, text in texts.items():
        for v in values:
            testcase.assertNotIn(v, text, "a token value appears in %s" % name)


class AirtableLifecycleTest(unittest.TestCase):
    """Import, status, background refresh, 401 -> refresh + retry, invalid_grant."""

    @classmethod
    def setUpClass(cls):
        cls.env = harness.env()
        cls.fake = FakeProcess("airtable", "--rate", "1000")
        cls.key = harness.new_api_key()
        sources = {
            "imp": airtable_source(cls.env, SITE, "imp", cls.fake),
            "bg": airtable_source(cls.env, SITE, "bg", cls.fake, margin=20),
            "rej": airtable_source(cls.env, SITE, "rej", cls.fake),
            "bad": airtable_source(cls.env, SITE, "bad", cls.fake),
        }
        srv = cls.env.start_server("oauth-airtable", {SITE: site_doc(cls.env, cls.key, sources)},
                                   extra={"audit_log": "audit.log"})
        cls.gw = Gateway(cls.env, srv, cls.key)

    @classmethod
    def tearDownClass(cls):
        try:
            texts = {"gateway log": cls.gw.srv.log_text()}
            with open(os.path.join(cls.gw.srv.dir, "audit.log")) as f:
                texts["audit log"] = f.read()
            assert_no_tokens_in(unittest.TestCase(), cls.fake, texts)
        finally:
            cls.fake.stop()

    def test_import_status_and_query(self):
        answer, grant = mint(self.fake, expires_in=3600)
        out = self.gw.import_token("imp", answer)
        self.assertNotIn(answer["access_token"], out)
        st = self.gw.status()[(SITE, "imp")]
        self.assertEqual(st["state"], "ok")
        self.assertEqual(st["provider"], "airtable")
        self.assertIsNotNone(st["expires_at"])
        self.assertIsNone(st["last_refresh"])
        r = self.gw.query("imp")
        self.assertEqual(r.status, 200, r)
        self.assertEqual([row["id"] for row in r.json["rows"]], [1, 2, 3])
        # The adapter got the imported access token.
        reqs = self.fake.control("requests")["requests"]
        self.assertTrue(any(q["path"].startswith("/v0/") for q in reqs))
        # Stored encrypted: the state file never holds a token in the clear.
        db = os.path.join(self.gw.srv.dir, "state.db")
        with open(db, "rb") as f:
            raw = f.read()
        for wal in glob.glob(db + "-wal"):
            with open(wal, "rb") as f:
                raw += f.read()
        self.assertNotIn(answer["access_token"].encode(), raw)
        self.assertNotIn(answer["refresh_token"].encode(), raw)
        self.assertEqual(refresh_log(self.fake, grant), [])

    def test_status_lists_missing_connections(self):
        st = self.gw.status()
        self.assertIn((SITE, "bad"), st)
        for key in st:
            self.assertIn(st[key]["state"], ("ok", "missing", "needs_reauth"))

    def test_background_refresh_before_expiry(self):
        # refresh_margin_s is 20: a token valid for 24 s is due in about 4 s.
        answer, grant = mint(self.fake, expires_in=24)
        self.gw.import_token("bg", answer)
        self.assertEqual(self.gw.query("bg").status, 200)
        entries = wait_for(lambda: [e for e in refresh_log(self.fake, grant)
                                    if e["result"] == "ok"], 20, "a background refresh")
        self.assertEqual(entries[0]["result"], "ok")
        st = self.gw.status()[(SITE, "bg")]
        self.assertEqual(st["state"], "ok")
        self.assertIsNotNone(st["last_refresh"])
        log = self.gw.srv.log_text()
        self.assertRegex(log, r"oauth %s/bg: token refreshed in the background" % SITE)
        # Queries keep working, now with the new token (the old one may be expired).
        for _ in range(3):
            r = self.gw.query("bg")
            self.assertEqual(r.status, 200, r)
        # Each refresh token of the grant was presented once.
        digests = [e["refresh_token"] for e in refresh_log(self.fake, grant)]
        self.assertEqual(len(digests), len(set(digests)), digests)
        self.assertFalse(grant_view(self.fake, grant)["revoked"])

    def test_provider_401_refreshes_once_and_retries(self):
        answer, grant = mint(self.fake, expires_in=3600)
        self.gw.import_token("rej", answer)
        # Two queries: both workers hold a connection with this token.
        for _ in range(2):
            self.assertEqual(self.gw.query("rej").status, 200)
        before = len(refresh_log(self.fake, grant))
        # The provider stops accepting every access token issued so far.
        self.fake.control("config", {"expire_access_tokens_in_s": 0})
        r = self.gw.query("rej")
        self.assertEqual(r.status, 200, r)
        after = refresh_log(self.fake, grant)
        self.assertEqual(len(after) - before, 1, after)
        self.assertEqual(after[-1]["result"], "ok")
        # The other worker got the new token too (generation): no second refresh.
        for _ in range(4):
            self.assertEqual(self.gw.query("rej").status, 200)
        self.assertEqual(len(refresh_log(self.fake, grant)) - before, 1)
        self.assertIn("refused the access token; refreshed it", self.gw.srv.log_text())

    def test_invalid_grant_needs_reauth(self):
        answer, grant = mint(self.fake, expires_in=3600)
        self.gw.import_token("bad", answer)
        self.assertEqual(self.gw.query("bad").status, 200)
        self.fake.control("config", {"invalidate_refresh_token": answer["refresh_token"],
                                     "expire_access_tokens_in_s": 0})
        r = self.gw.query("bad")
        self.assertEqual(r.status, 503, r)
        self.assertEqual(r.code, "source_unavailable")
        msg = r.json["error"]["message"]
        self.assertIn("re-authorisation", msg)
        self.assertIn("readgate oauth import", msg)
        self.assertEqual(refresh_log(self.fake, grant)[-1]["result"], "invalid_grant")
        # Further queries answer the same without calling the provider again.
        n = len(refresh_log(self.fake, grant))
        self.assertEqual(self.gw.query("bad").status, 503)
        self.assertEqual(len(refresh_log(self.fake, grant)), n)
        st = self.gw.status()[(SITE, "bad")]
        self.assertEqual(st["state"], "needs_reauth")
        self.assertIn("invalid_grant", st["error"])
        code, body = self.gw.srv.admin_get("/readyz")
        self.assertEqual(code, 503, body)
        doc = json.loads(body)
        bad = [s for s in doc["sources"] if s["source"] == "bad"][0]
        self.assertEqual(bad["status"], "unavailable")
        self.assertIn("re-authorisation", bad["message"])
        m = self.gw.metrics()
        self.assertRegex(m, r'readgate_oauth_connections\{state="needs_reauth"\} 1\b')
        self.assertRegex(m, r'readgate_oauth_refreshes_total\{outcome="invalid_grant"\} [1-9]')
        lines = [ln for ln in self.gw.srv.log_text().splitlines()
                 if "oauth %s/bad:" % SITE in ln and "-> needs_reauth" in ln]
        self.assertEqual(len(lines), 1, lines)
        # A new authorisation brings it back.
        answer2, _ = mint(self.fake, expires_in=3600)
        self.gw.import_token("bad", answer2)
        r = self.gw.query("bad")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(self.gw.status()[(SITE, "bad")]["state"], "ok")
        wait_for(lambda: re.search(r'readgate_oauth_connections\{state="needs_reauth"\} 0\b',
                                   self.gw.metrics()), 10, "the gauge to drop")


class _TwoGateways:
    """Two readgate processes on one state store, Airtable rotating the
    refresh token on every refresh and revoking the grant on reuse."""

    store = None  # set by subclasses: "sqlite" or "postgres"

    @classmethod
    def setUpClass(cls):
        cls.env = harness.env()
        # Every token lives 25 s and is due 20 s before expiry, so both
        # gateways want to refresh it every few seconds.
        cls.fake = FakeProcess("airtable", "--rate", "1000", "--access-ttl", "25")
        cls.key = harness.new_api_key()
        if cls.store == "sqlite":
            state = "sqlite:" + os.path.join(cls.env.tmp, "shared-%s.db" % os.getpid())
        else:
            state = "postgres://postgres@127.0.0.1:%d/catalog" % cls.env.pg_port
        cls.state = state
        src = airtable_source(cls.env, SITE, "rot", cls.fake, margin=20)
        doc = site_doc(cls.env, cls.key, {"rot": src})
        extra = {"state_store": state}
        cls.a = Gateway(cls.env, cls.env.start_server("oauth-two-a-" + cls.store, {SITE: doc},
                                                      extra=extra), cls.key)
        cls.b = Gateway(cls.env, cls.env.start_server("oauth-two-b-" + cls.store, {SITE: doc},
                                                      extra=extra), cls.key)

    @classmethod
    def tearDownClass(cls):
        for g in (cls.a, cls.b):
            g.srv.stop()
        cls.fake.stop()

    def test_each_refresh_token_presented_once(self):
        answer, grant = mint(self.fake, expires_in=25)
        self.a.import_token("rot", answer)
        v0 = self.a.status()[(SITE, "rot")]["version"]
        deadline = time.time() + 24
        failures = []
        n = 0
        while time.time() < deadline:
            for g in (self.a, self.b):
                r = g.query("rot")
                n += 1
                if r.status != 200:
                    failures.append(repr(r))
            time.sleep(0.1)
        log = refresh_log(self.fake, grant)
        self.assertGreaterEqual(len(log), 3, "too few refreshes to prove anything: %s" % log)
        digests = [e["refresh_token"] for e in log]
        self.assertEqual(len(digests), len(set(digests)),
                         "a refresh token was presented twice: %s" % log)
        self.assertTrue(all(e["result"] == "ok" for e in log), log)
        # Each refresh presented the token the previous one issued: one chain.
        for prev, cur in zip(log, log[1:]):
            self.assertEqual(cur["refresh_token"], prev["new_refresh_token"])
        self.assertFalse(grant_view(self.fake, grant)["revoked"])
        self.assertEqual(failures, [], "%d of %d queries failed" % (len(failures), n))
        st = self.a.status()[(SITE, "rot")]
        self.assertEqual(st["state"], "ok")
        self.assertEqual(st["version"], v0 + len(log))
        # Both processes refreshed (the work is shared, not one-sided).
        refreshed = [g for g in (self.a, self.b)
                     if "oauth %s/rot: token refreshed" % SITE in g.srv.log_text()
                     or "refreshed it" in g.srv.log_text()]
        self.assertTrue(refreshed)
        assert_no_tokens_in(self, self.fake, {"log a": self.a.srv.log_text(),
                                              "log b": self.b.srv.log_text()})


class TwoGatewaysSqliteTest(_TwoGateways, unittest.TestCase):
    store = "sqlite"


class TwoGatewaysPostgresTest(_TwoGateways, unittest.TestCase):
    store = "postgres"


class CrashDuringRefreshTest(unittest.TestCase):
    """kill -9 while the provider holds its answer: the store keeps the old,
    consistent row. The rotated refresh token the provider issued is lost
    with the process (the window no HTTP protocol can close), so the next
    refresh presents the spent one and Airtable revokes the grant: the
    connection ends up needs_reauth, never half-written."""

    def test_kill_between_answer_and_commit(self):
        env = harness.env()
        fake = FakeProcess("airtable", "--rate", "1000")
        try:
            key = harness.new_api_key()
            doc = site_doc(env, key, {"cr": airtable_source(env, SITE, "cr", fake, margin=20)})
            srv = env.start_server("oauth-crash", {SITE: doc})
            gw = Gateway(env, srv, key)
            answer, grant = mint(fake, expires_in=3600)
            gw.import_token("cr", answer)
            before = gw.status()[(SITE, "cr")]
            fake.control("config", {"faults": [{"delay_after_s": 8, "scope": "oauth"}]})
            # Make the token due: the background refresher calls the fake,
            # which rotates and then holds the answer.
            answer2, grant2 = mint(fake, expires_in=22)
            gw.import_token("cr", answer2)
            before = gw.status()[(SITE, "cr")]
            wait_for(lambda: refresh_log(fake, grant2), 15, "the refresh to reach the provider")
            srv.proc.send_signal(signal.SIGKILL)
            srv.proc.wait(10)
            srv.logf.close()
            db = os.path.join(srv.dir, "state.db")
            con = sqlite3.connect(db)
            self.assertEqual(con.execute("PRAGMA integrity_check").fetchone()[0], "ok")
            rows = con.execute("SELECT site_id, source, state, version, refresh_token_enc "
                               "FROM oauth_tokens").fetchall()
            con.close()
            self.assertEqual(len(rows), 1, rows)
            self.assertEqual(rows[0][2], "ok")
            after = gw.status()[(SITE, "cr")]
            # Nothing of the interrupted refresh was committed.
            self.assertEqual(after["version"], before["version"])
            self.assertEqual(after["expires_at"], before["expires_at"])
            log = refresh_log(fake, grant2)
            self.assertEqual(len(log), 1)
            self.assertEqual(log[0]["result"], "ok")  # the provider did rotate
            # Restarted, the gateway presents the refresh token it has (spent
            # at the provider): invalid_grant, needs_reauth, a clear answer.
            fake.control("config", {"clear_faults": True})
            srv.start()
            r = wait_for(lambda: (lambda r: r if r.status == 503 else None)(gw.query("cr")),
                         20, "the query to answer 503")
            self.assertIn("re-authorisation", r.json["error"]["message"])
            self.assertEqual(gw.status()[(SITE, "cr")]["state"], "needs_reauth")
            self.assertTrue(grant_view(fake, grant2)["revoked"])
            srv.stop()
        finally:
            fake.stop()


class SiteDeleteTest(unittest.TestCase):
    """readgate site delete revokes at each provider, then deletes locally."""

    def test_revoke_and_delete(self):
        env = harness.env()
        at = FakeProcess("airtable", "--rate", "1000")
        sh = FakeProcess("shopify")
        gg = FakeProcess("google")
        site = "delsite01"
        try:
            key = harness.new_api_key()
            shop_src = {
                "adapter": "shopify",
                "options": {"shop": "demo-shop.myshopify.com", "base_url": sh.url},
                "oauth": {"provider": "shopify", "client_id": CLIENT_ID,
                          "client_secret": env.encrypt(site, "sources.shop.oauth.client_secret",
                                                       CLIENT_SECRET),
                          "token_url": sh.url + "/admin/oauth/access_token",
                          "revoke_url": sh.url + "/admin/api_permissions/current.json"},
            }
            sheet_src = {
                "adapter": "sheets",
                "options": {"spreadsheet_id": "1RGfakeSpreadsheet0000000000000000000000000",
                            "base_url": gg.url},
                "oauth": {"provider": "google", "client_id": CLIENT_ID,
                          "client_secret": env.encrypt(site, "sources.sheet.oauth.client_secret",
                                                       CLIENT_SECRET),
                          "token_url": gg.url + "/token", "revoke_url": gg.url + "/revoke"},
            }
            sources = {"tab": airtable_source(env, site, "tab", at), "shop": shop_src,
                       "sheet": sheet_src}
            doc = {"site_id": site, "allowed_origins": ["del.example.com"],
                   "api_keys": [harness.api_key_hash(key)], "sources": sources,
                   "collections": {"c_tab": products("tab")}}
            srv = harness.Server(env, "oauth-delete", {site: doc})  # the CLI only
            gw = Gateway(env, srv, key)
            a_tok, a_grant = mint(at, expires_in=3600)
            # The Shopify access token has expired: revoking needs a refresh first.
            s_tok, s_grant = mint(sh, expires_in=1)
            g_tok, g_grant = mint(gg, expires_in=3600, scope="https://www.googleapis.com/auth/spreadsheets.readonly")
            gw.import_token("tab", a_tok, site=site)
            gw.import_token("shop", s_tok, site=site)
            gw.import_token("sheet", g_tok, site=site)
            time.sleep(1.2)

            # A revoke failure (Airtable's revoke endpoint answers 503) keeps
            # that token and exits 1; the others are revoked and deleted.
            at.control("config", {"faults": [{"status": 503, "scope": "oauth",
                                              "path_prefix": "/oauth2/v1/revoke"}]})
            rc, out, err = gw.cli("site", "delete", site)
            self.assertEqual(rc, 1, out + err)
            self.assertRegex(out, r"%s/tab: FAILED to revoke at airtable" % site)
            self.assertIn("%s/shop: revoked at shopify and deleted" % site, out)
            self.assertIn("%s/sheet: revoked at google and deleted" % site, out)
            self.assertNotIn("now remove the site file", out)
            st = gw.status()
            self.assertEqual(st[(site, "tab")]["state"], "ok")
            self.assertEqual(st[(site, "shop")]["state"], "missing")
            self.assertEqual(st[(site, "sheet")]["state"], "missing")
            self.assertFalse(grant_view(at, a_grant)["revoked"])
            self.assertEqual(grant_view(sh, s_grant)["revoked_reason"], "app uninstalled")
            self.assertTrue(grant_view(gg, g_grant)["revoked"])
            reqs = sh.control("requests")["requests"]
            self.assertTrue(any(q["method"] == "DELETE" and
                                q["path"] == "/admin/api_permissions/current.json" and
                                q["status"] == 200 for q in reqs), reqs)

            # Run again once the provider is back: the kept token goes too.
            rc, out, err = gw.cli("site", "delete", site)
            self.assertEqual(rc, 0, out + err)
            self.assertIn("%s/tab: revoked at airtable and deleted" % site, out)
            self.assertIn("now remove the site file", out)
            self.assertTrue(grant_view(at, a_grant)["revoked"])
            self.assertEqual(grant_view(at, a_grant)["revoked_reason"], "revoked by client")
            self.assertEqual(gw.status()[(site, "tab")]["state"], "missing")
            reqs = at.control("requests")["requests"]
            rv = [q for q in reqs if q["path"] == "/oauth2/v1/revoke"]
            # Airtable's client authentication: HTTP Basic client_id:client_secret.
            self.assertTrue(rv and rv[-1]["headers"].get("Authorization", "").startswith(
                "Basic sha256:"), rv)
            assert_no_tokens_in(self, at, {"stdout": out, "stderr": err})
        finally:
            for f in (at, sh, gg):
                f.stop()


class _KeyRotation:
    """`readgate keys rotate` re-encrypts the stored OAuth tokens too (docs/http-api.md
    section 6), in one transaction per store that waits for a refresh holding
    the row lock, so the old master key can be retired: afterwards a gateway
    holding only the new key serves the OAuth source and refreshes its token.
    A run that cannot open every token changes nothing in the store."""

    store = None  # set by subclasses: "sqlite" or "postgres"
    site = "rotkeys0001"
    cols = ("site_id, source, access_token_enc, refresh_token_enc, expires_at, last_refresh, "
            "state, error, updated_at, version")

    @classmethod
    def setUpClass(cls):
        cls.env = harness.env()
        cls.k1 = key_line(cls.env, "k1")
        cls.k2 = key_line(cls.env, "k2")
        cls.fake = FakeProcess("airtable", "--rate", "1000")
        cls.db = None
        if cls.store == "postgres":
            # A database of its own: rotation covers every row of a store,
            # and other tests' rows are under other keys.
            cls.db = "rgrotate_%d" % os.getpid()
            fixture.psql(cls.env.pg_port, "DROP DATABASE IF EXISTS %s;" % cls.db)
            fixture.psql(cls.env.pg_port, "CREATE DATABASE %s;" % cls.db)

    @classmethod
    def tearDownClass(cls):
        cls.fake.stop()
        if cls.db:
            fixture.psql(cls.env.pg_port, "DROP DATABASE IF EXISTS %s WITH (FORCE);" % cls.db)

    # -- the store, read and written behind readgate's back --------------------

    def sql(self, srv, statement):
        if self.store == "sqlite":
            con = sqlite3.connect(os.path.join(srv.dir, "state.db"), timeout=30)
            try:
                rows = [tuple("" if v is None else str(v) for v in r)
                        for r in con.execute(statement)]
                con.commit()
                return rows
            finally:
                con.close()
        out = fixture.psql(self.env.pg_port, statement + ";", db=self.db)
        return [tuple(line.split("|")) for line in out.splitlines() if line]

    def rows(self, srv):
        return self.sql(srv, "SELECT %s FROM oauth_tokens ORDER BY site_id, source" % self.cols)

    def hold_row_then_refresh(self, srv, new_access_enc, hold_s):
        """What a gateway's refresh does to the store: take the row lock, wait
        (the provider call), store a new access token with version + 1,
        commit. Returns once the lock is held; join() the result."""
        update = ("UPDATE oauth_tokens SET access_token_enc = '%s', version = version + 1 "
                  "WHERE site_id = '%s' AND source = 'tab'" % (new_access_enc, self.site))
        if self.store == "sqlite":
            locked = threading.Event()

            def run():
                con = sqlite3.connect(os.path.join(srv.dir, "state.db"), timeout=30,
                                      isolation_level=None)
                try:
                    con.execute("BEGIN IMMEDIATE")
                    locked.set()
                    time.sleep(hold_s)
                    con.execute(update)
                    con.execute("COMMIT")
                finally:
                    locked.set()
                    con.close()

            t = threading.Thread(target=run)
            t.start()
            self.assertTrue(locked.wait(10))
            return t
        script = ("BEGIN;\nSELECT version FROM oauth_tokens WHERE site_id = '%s' AND source = "
                  "'tab' FOR UPDATE;\nSELECT pg_sleep(%s);\n%s;\nCOMMIT;\n"
                  % (self.site, hold_s, update))
        p = subprocess.Popen(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1",
                              "-p", str(self.env.pg_port), "-U", "postgres", "-d", self.db],
                             stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                             env=dict(os.environ, PGAPPNAME="rg-test-refresh"))
        p.stdin.write(script.encode())
        p.stdin.close()
        wait_for(lambda: fixture.psql(
            self.env.pg_port, "SELECT count(*) FROM pg_stat_activity WHERE application_name = "
            "'rg-test-refresh' AND query LIKE '%pg_sleep%' AND state = 'active';",
            db=self.db).strip() == "1", 10, "psql to hold the row lock")

        class Waiter:
            def join(_self, timeout=None):
                self.assertEqual(p.wait(timeout or 30), 0)
        return Waiter()

    # -- the test ----------------------------------------------------------------

    def test_rotate_then_retire_the_old_key(self):
        name = "oauth-rotate-" + self.store
        keyfile = os.path.join(self.env.tmp, name + ".keys")
        write_keys(keyfile, self.k1)
        key = harness.new_api_key()
        src = airtable_source(self.env, self.site, "tab", self.fake)
        src["oauth"]["client_secret"] = encrypt_under(
            self.env, self.k1, self.site, "sources.tab.oauth.client_secret", CLIENT_SECRET)
        extra = {"keys": {"file": keyfile}, "audit_log": "audit.log"}
        if self.db:
            extra["state_store"] = "postgres://postgres@127.0.0.1:%d/%s" % (self.env.pg_port,
                                                                            self.db)
        srv = harness.Server(self.env, name,
                             {self.site: site_doc(self.env, key, {"tab": src}, site=self.site)},
                             extra=extra)
        self.env.servers.append(srv)
        srv.start()
        gw = Gateway(self.env, srv, key)
        site_path = os.path.join(srv.sites_dir, self.site + ".yaml")
        outputs = {}

        def rotate(tag):
            rc, out, err = gw.cli("keys", "rotate", "--to", "k2")
            outputs[tag] = out + err
            return rc, out, err

        def site_text():
            with open(site_path) as f:
                return f.read()

        answer, grant = mint(self.fake, expires_in=3600)
        gw.import_token("tab", answer, site=self.site)
        self.assertEqual(gw.query("tab", site=self.site).status, 200)
        v0 = gw.status()[(self.site, "tab")]["version"]
        rows0, text0 = self.rows(srv), site_text()
        self.assertEqual(len(rows0), 1, rows0)
        self.assertTrue(rows0[0][2].startswith("enc:v1:k1:"), rows0)
        self.assertTrue(rows0[0][3].startswith("enc:v1:k1:"), rows0)

        # 1. The target key is not loaded: refused before anything is opened.
        rc, out, err = rotate("k2 not loaded")
        self.assertEqual(rc, 1, out + err)
        self.assertIn("key id 'k2' is not among the loaded master keys", err)
        self.assertEqual(self.rows(srv), rows0)
        self.assertEqual(site_text(), text0)

        # 2. The old key is missing: no token opens, nothing changes.
        write_keys(keyfile, self.k2)
        rc, out, err = rotate("k1 missing")
        self.assertEqual(rc, 1, out + err)
        self.assertIn("%s/oauth.tab.access_token: cannot decrypt: unknown key id 'k1'"
                      % self.site, err)
        self.assertIn("2 token values could not be re-encrypted", err)
        self.assertIn("nothing in the store was changed", err)
        self.assertIn("sources.tab.oauth.client_secret: cannot decrypt", err)
        self.assertEqual(self.rows(srv), rows0)
        self.assertEqual(site_text(), text0)

        # 3. One stored token does not open (a ciphertext moved to another
        # connection): the good one is not rewritten either.
        write_keys(keyfile, self.k2, self.k1)
        self.sql(srv, "INSERT INTO oauth_tokens (%s, provider) VALUES ('%s', 'ghost', '%s', "
                      "NULL, 0, 0, 'ok', '', 0, 1, 'airtable')"
                 % (self.cols, self.site, rows0[0][2]))
        rc, out, err = rotate("moved ciphertext")
        self.assertEqual(rc, 1, out + err)
        self.assertIn("%s/oauth.ghost.access_token: cannot decrypt: authentication failed"
                      % self.site, err)
        self.assertIn("nothing in the store was changed", err)
        self.assertEqual([r for r in self.rows(srv) if r[1] == "tab"], rows0)
        self.sql(srv, "DELETE FROM oauth_tokens WHERE source = 'ghost'")
        # The site file is independent of the store and did move to k2.
        self.assertIn("1 value re-encrypted under k2", out)
        self.assertNotIn("enc:v1:k1:", site_text())

        # 4. A refresh holds the row lock when the rotation starts: the
        # rotation waits for its commit, then re-encrypts what it stored.
        answer2, _ = mint(self.fake, expires_in=3600)
        refreshed = encrypt_under(self.env, self.k1, self.site, "oauth.tab.access_token",
                                  answer2["access_token"])
        holder = self.hold_row_then_refresh(srv, refreshed, 2)
        t0 = time.time()
        rc, out, err = rotate("during a refresh")
        waited = time.time() - t0
        holder.join()
        self.assertEqual(rc, 0, out + err)
        self.assertGreater(waited, 1.0, "the rotation did not wait for the row lock")
        self.assertRegex(out, r"state store \S+: 2 OAuth tokens re-encrypted under k2 "
                              r"\(1 connection, 0 tokens already under k2\)")
        rows1 = self.rows(srv)
        self.assertEqual(len(rows1), 1, rows1)
        self.assertTrue(rows1[0][2].startswith("enc:v1:k2:"), rows1)
        self.assertTrue(rows1[0][3].startswith("enc:v1:k2:"), rows1)
        # Only the ciphertexts moved: expiry, timestamps, state and the
        # version the refresh committed stay.
        self.assertEqual(rows1[0][4:9], rows0[0][4:9])
        self.assertEqual(int(rows1[0][9]), v0 + 1)

        # 5. Again: nothing left to do.
        rc, out, err = rotate("again")
        self.assertEqual(rc, 0, out + err)
        self.assertIn("0 OAuth tokens re-encrypted under k2 (1 connection, 2 tokens already "
                      "under k2)", out)
        self.assertEqual(self.rows(srv), rows1)

        # 6. Retire k1 and restart: the gateway opens the site file and the
        # stored token with k2 alone, and sends the token the refresh stored.
        write_keys(keyfile, self.k2)
        srv.stop()
        srv.start()
        r = gw.query("tab", site=self.site)
        self.assertEqual(r.status, 200, r)
        self.assertEqual([row["id"] for row in r.json["rows"]], [1, 2, 3])
        api = [q for q in self.fake.control("requests")["requests"]
               if q["path"].startswith("/v0/")]
        digest = "sha256:" + hashlib.sha256(answer2["access_token"].encode()).hexdigest()[:16]
        self.assertEqual(api[-1]["headers"].get("Authorization"), "Bearer " + digest)
        st = gw.status()[(self.site, "tab")]
        self.assertEqual((st["state"], st["version"]), ("ok", v0 + 1))
        # The refresh token opens under k2 too: the provider refuses the
        # access token, the gateway refreshes once and retries.
        self.fake.control("config", {"expire_access_tokens_in_s": 0})
        r = gw.query("tab", site=self.site)
        self.assertEqual(r.status, 200, r)
        self.assertEqual([e["result"] for e in refresh_log(self.fake, grant)], ["ok"])
        st = gw.status()[(self.site, "tab")]
        self.assertEqual((st["state"], st["version"]), ("ok", v0 + 2))
        srv.stop()

        # Every decrypt was audited, the failed ones too; never a value.
        with open(os.path.join(srv.dir, "audit.log")) as f:
            audit_text = f.read()
        events = {(e["field"], e["kid"], e["purpose"], e["ok"])
                  for e in map(json.loads, audit_text.splitlines())}
        for want in [("oauth.tab.access_token", "k1", "rotate", True),
                     ("oauth.tab.refresh_token", "k1", "rotate", True),
                     ("oauth.tab.access_token", "k1", "rotate", False),
                     ("oauth.ghost.access_token", "k1", "rotate", False),
                     ("sources.tab.oauth.client_secret", "k1", "rotate", True),
                     ("oauth.tab.access_token", "k2", "oauth", True),
                     ("oauth.tab.refresh_token", "k2", "oauth", True)]:
            self.assertIn(want, events)
        texts = {"log": srv.log_text(), "audit": audit_text}
        texts.update(outputs)
        assert_no_tokens_in(self, self.fake, texts)


class KeyRotationSqliteTest(_KeyRotation, unittest.TestCase):
    store = "sqlite"


class KeyRotationPostgresTest(_KeyRotation, unittest.TestCase):
    store = "postgres"


class GoogleServiceAccountTest(unittest.TestCase):
    """JWT bearer grant signed with RS256 by the gateway, checked by the fake
    with `openssl dgst -verify` against the public half of a key made now."""

    def test_service_account_token_and_query(self):
        env = harness.env()
        kdir = os.path.join(env.tmp, "sa-key")
        os.makedirs(kdir, exist_ok=True)
        priv, pub = os.path.join(kdir, "sa.pem"), os.path.join(kdir, "sa.pub.pem")
        subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt",
                        "rsa_keygen_bits:2048", "-out", priv], check=True, capture_output=True)
        subprocess.run(["openssl", "pkey", "-in", priv, "-pubout", "-out", pub], check=True,
                       capture_output=True)
        email = "reader@proj.iam.gserviceaccount.com"
        gg = FakeProcess("google", "--sa-email", email, "--sa-public-key", pub)
        site = "sasite0001"
        try:
            with open(priv) as f:
                pem = f.read()
            key = harness.new_api_key()
            src = {
                "adapter": "sheets",
                "options": {"spreadsheet_id": "1RGfakeSpreadsheet0000000000000000000000000",
                            "base_url": gg.url},
                "oauth": {"provider": "google", "service_account": {
                    "client_email": email,
                    "private_key": env.encrypt(
                        site, "sources.sheet.oauth.service_account.private_key", pem),
                    "token_uri": gg.url + "/token",
                    "scopes": ["https://www.googleapis.com/auth/spreadsheets.readonly"]}},
            }
            doc = {"site_id": site, "allowed_origins": ["sa.example.com"],
                   "api_keys": [harness.api_key_hash(key)], "sources": {"sheet": src},
                   "collections": {"c_sheet": {
                       "source": "sheet", "target": "products!A1:J", "key": "id",
                       "fields": {"id": {"type": "integer", "display": True, "sortable": True},
                                  "name": {"type": "string", "display": True}}}}}
            srv = env.start_server("oauth-sa", {site: doc}, extra={"audit_log": "audit.log"})
            gw = Gateway(env, srv, key)
            st = wait_for(lambda: (lambda s: s if s["state"] == "ok" else None)(
                gw.status()[(site, "sheet")]), 15, "the service account token")
            self.assertIsNotNone(st["expires_at"])
            self.assertTrue(st["service_account"])
            reqs = gg.control("requests")["requests"]
            grants = [q for q in reqs if q["path"] == "/token"]
            self.assertTrue(grants)
            self.assertIn("jwt-bearer", json.dumps(grants[0]["body"]))
            self.assertEqual(grants[0]["status"], 200)
            s = srv.client.session(site, api_key=key)
            r = srv.client.query(s, {"collection": "c_sheet", "limit": 2,
                                     "sort": [{"field": "id", "dir": "asc"}]})
            self.assertEqual(r.status, 200, r)
            self.assertEqual([x["id"] for x in r.json["rows"]], [1, 2])
            with open(os.path.join(srv.dir, "audit.log")) as f:
                audit = f.read()
            self.assertIn('"purpose":"oauth"', audit)
            self.assertIn("sources.sheet.oauth.service_account.private_key", audit)
            self.assertNotIn("PRIVATE KEY", srv.log_text() + audit)
            assert_no_tokens_in(self, gg, {"log": srv.log_text(), "audit": audit})
            srv.stop()
        finally:
            gg.stop()
