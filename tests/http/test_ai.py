"""AI provider sessions: POST /v1/{site}/token mints the widget's AI
credential through a token-provider plugin (docs/configuration.md, "AI
provider"), against local fakes of the providers' APIs (tests/fakes).

One gateway with one event-loop thread serves a site per provider, so a
provider that is slow to answer also proves the loop keeps serving others.
"""

import json
import os
import re
import subprocess
import sys
import threading
import time
import unittest

import harness

sys.path.insert(0, os.path.join(harness.REPO, "tests", "fakes"))
from common import secret_digest  # noqa: E402
from launch import FakeProcess  # noqa: E402

ORIGIN = "https://ai.example.com"

OPENAI_KEY = "sk-test-readgate-openai-0123456789"
RETELL_KEY = "key_test_readgate_retell_0123456789"
ELEVEN_KEY = "sk_test_readgate_elevenlabs_0123456789"
VAPI_KEY = "vapi-private-key-readgate-test-0123456789"
WRONG_KEY = "sk-test-this-key-is-not-known-0123456789"
RETELL_AGENT = "oBeDLoLOeuAbiuaMFXRtDOLriTJ5tSxD"
ELEVEN_AGENT = "agent_01jrgfake0000000000000000"
VAPI_ORG = "6da6841c-0fca-4604-8941-3d5d65f43a17"
VAPI_ASSISTANT = "1cbf8c70-5fd7-4f61-a220-376ab35be1b0"

S_OPENAI = "aiopenai01"
S_RETELL = "airetell01"
S_ELEVEN = "aieleven01"
S_SIGNED = "aisigned01"
S_VAPI = "aivapi0001"
S_WRONG = "aiwrongkey1"
S_DOWN = "aidown0001"
S_LIMIT = "ailimit001"
S_BROKEN = "aibroken01"

ALL_KEYS = [OPENAI_KEY, RETELL_KEY, ELEVEN_KEY, VAPI_KEY, WRONG_KEY]


def closed_port():
    """A loopback port nothing listens on: a provider that is down."""
    return harness.free_port()


class AiTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        env = cls.env = harness.env()
        cls.fakes = []
        cls.openai = cls.fake("openai", "--api-key", OPENAI_KEY)
        cls.retell = cls.fake("retell", "--api-key", RETELL_KEY, "--agent", RETELL_AGENT)
        cls.eleven = cls.fake("elevenlabs", "--api-key", ELEVEN_KEY, "--agent", ELEVEN_AGENT)
        cls.vapi = cls.fake("vapi", "--org-id", VAPI_ORG, "--private-key", VAPI_KEY,
                            "--assistant", VAPI_ASSISTANT)
        cls.api_key = harness.new_api_key()
        sites = {
            S_OPENAI: cls.site(S_OPENAI, {
                "provider": "openai-realtime",
                "api_key": env.encrypt(S_OPENAI, "ai.api_key", OPENAI_KEY),
                "expires_after_s": 120,
                "options": {"base_url": cls.openai.url, "model": "gpt-realtime",
                            "voice": "marin",
                            "instructions": "You help visitors find products. SECRET-PROMPT"},
            }),
            S_RETELL: cls.site(S_RETELL, {
                "provider": "retell",
                "api_key": env.encrypt(S_RETELL, "ai.api_key", RETELL_KEY),
                "options": {"base_url": cls.retell.url, "agent_id": RETELL_AGENT},
            }),
            S_ELEVEN: cls.site(S_ELEVEN, {
                "provider": "elevenlabs",
                "api_key": env.encrypt(S_ELEVEN, "ai.api_key", ELEVEN_KEY),
                "options": {"base_url": cls.eleven.url, "agent_id": ELEVEN_AGENT},
            }),
            S_SIGNED: cls.site(S_SIGNED, {
                "provider": "elevenlabs",
                "api_key": env.encrypt(S_SIGNED, "ai.api_key", ELEVEN_KEY),
                "options": {"base_url": cls.eleven.url, "agent_id": ELEVEN_AGENT,
                            "mode": "signed_url"},
            }),
            S_VAPI: cls.site(S_VAPI, {
                "provider": "vapi",
                "api_key": env.encrypt(S_VAPI, "ai.api_key", VAPI_KEY),
                "expires_after_s": 300,
                "options": {"org_id": VAPI_ORG, "assistant_id": VAPI_ASSISTANT},
            }),
            S_WRONG: cls.site(S_WRONG, {
                "provider": "openai-realtime",
                "api_key": env.encrypt(S_WRONG, "ai.api_key", WRONG_KEY),
                "options": {"base_url": cls.openai.url},
            }),
            S_DOWN: cls.site(S_DOWN, {
                "provider": "openai-realtime",
                "api_key": env.encrypt(S_DOWN, "ai.api_key", OPENAI_KEY),
                "connect_timeout_ms": 1000,
                "options": {"base_url": "http://127.0.0.1:%d" % closed_port()},
            }),
            S_LIMIT: dict(cls.site(S_LIMIT, {
                "provider": "openai-realtime",
                "api_key": env.encrypt(S_LIMIT, "ai.api_key", OPENAI_KEY),
                "timeout_ms": 1500,
                "options": {"base_url": cls.openai.url},
            }), rate_limits={"token": {"per_ip_per_min": 1000000, "per_site_per_min": 2,
                                       "burst_per_s": 100}}),
            S_BROKEN: cls.site(S_BROKEN, {
                "provider": "nosuchprovider",
                "api_key": env.encrypt(S_BROKEN, "ai.api_key", OPENAI_KEY),
            }),
            harness.LITE: env.lite_site(),
        }
        # One event loop: a provider slow to answer must not hold up anyone else.
        cls.srv = env.start_server("ai", sites, extra={"loop_threads": 1,
                                                       "audit_log": "audit.log"})
        cls.c = cls.srv.client
        cls.audit_path = os.path.join(cls.srv.dir, "audit.log")

    @classmethod
    def fake(cls, name, *args):
        f = FakeProcess(name, *args)
        cls.fakes.append(f)
        return f

    @classmethod
    def tearDownClass(cls):
        for f in cls.fakes:
            f.stop()

    @classmethod
    def site(cls, site_id, ai):
        doc = cls.env.lite_site()
        doc["site_id"] = site_id
        doc["allowed_origins"] = ["ai.example.com"]
        doc["api_keys"] = [harness.api_key_hash(cls.api_key)]
        doc["ai"] = ai
        return doc

    def setUp(self):
        for f in self.fakes:
            f.control("reset", {})

    # -- helpers -----------------------------------------------------------------

    def requests(self, fake):
        return fake.control("requests")["requests"]

    def mint(self, site, **kw):
        kw.setdefault("origin", ORIGIN)
        return self.c.token(site, **kw)

    def mint_once(self, site):
        """One request, without the client's waiting and retrying after a 429."""
        return self.c.request("POST", "/v1/%s/token" % site, b"", [("Origin", ORIGIN)])

    def assertSession(self, r):
        self.assertEqual(r.status, 200, r)
        j = r.json
        for k in ("session_token", "signing_secret", "expires_in", "expires_at"):
            self.assertIn(k, j)
        self.assertTrue(j["session_token"].startswith("sst_"))
        self.assertIn("no-store", (r.header("Cache-Control") or "").lower())
        return j

    def assertNoSecrets(self, text, *extra):
        for k in ALL_KEYS + list(extra):
            self.assertNotIn(k, text)

    def assertUpstreamError(self, r, status, code, provider="openai-realtime"):
        self.assertEqual(r.status, status, r)
        e = r.json["error"]
        self.assertEqual(e["code"], code, r)
        self.assertEqual(e["provider"], provider, r)
        self.assertIn(provider, e["message"])
        self.assertEqual(set(r.json), {"error"}, "no session when the mint failed")
        self.assertNoSecrets(r.body.decode())

    # -- each provider -----------------------------------------------------------

    def test_openai_realtime(self):
        r = self.mint(S_OPENAI)
        j = self.assertSession(r)
        self.assertEqual(r.header("Access-Control-Allow-Origin"), ORIGIN)
        ai = j["ai"]
        # Only what the browser needs: never the echoed session or instructions.
        self.assertEqual(set(ai), {"provider", "value", "expires_at"}, ai)
        self.assertEqual(ai["provider"], "openai-realtime")
        self.assertTrue(ai["value"].startswith("ek_"), ai)
        self.assertAlmostEqual(ai["expires_at"], time.time() + 120, delta=10)
        self.assertNotIn("SECRET-PROMPT", r.body.decode())
        self.assertNotIn("session\"", r.body.decode().replace("session_token", ""))
        self.assertNoSecrets(r.body.decode())

        reqs = self.requests(self.openai)
        self.assertEqual(len(reqs), 1, reqs)
        q = reqs[0]
        self.assertEqual((q["method"], q["path"], q["status"]),
                         ("POST", "/v1/realtime/client_secrets", 200))
        self.assertEqual(q["headers"].get("Authorization"), "Bearer " + secret_digest(OPENAI_KEY))
        self.assertEqual(q["response"]["value"], secret_digest(ai["value"]))
        body = q["json"]
        self.assertEqual(body["expires_after"], {"anchor": "created_at", "seconds": 120})
        s = body["session"]
        self.assertEqual((s["type"], s["model"]), ("realtime", "gpt-realtime"))
        self.assertEqual(s["audio"]["output"]["voice"], "marin")
        # tools: functions (the default): one flat function tool per collection,
        # from the same source as GET /collections.
        self.assertEqual(len(s["tools"]), 1, s["tools"])
        t = s["tools"][0]
        self.assertEqual(set(t), {"type", "name", "description", "parameters"})
        self.assertEqual((t["type"], t["name"]), ("function", "query_items"))
        sess = self.c.session(S_OPENAI, api_key=self.api_key)
        coll = self.c.collections(sess).json["collections"][0]["tool"]["function"]
        self.assertEqual(t["parameters"], coll["parameters"])
        self.assertEqual(t["description"], coll["description"])

    def test_backend_mode_mints_too(self):
        r = self.c.token(S_OPENAI, api_key=self.api_key)
        j = self.assertSession(r)
        self.assertTrue(j["ai"]["value"].startswith("ek_"))
        self.assertIsNone(r.header("Access-Control-Allow-Origin"))

    def test_refused_caller_touches_nothing(self):
        """A refused /token decrypts nothing and calls no provider."""
        before = self.audit_lines("mint")
        for r in (self.c.token(S_OPENAI, origin="https://evil.example.net"),
                  self.c.token(S_OPENAI, api_key=harness.new_api_key())):
            self.assertEqual(r.status, 404, r)
            self.assertEqual(r.code, "widget_unavailable")
        self.assertEqual(self.requests(self.openai), [])
        self.assertEqual(self.audit_lines("mint"), before)

    def test_retell(self):
        r = self.mint(S_RETELL)
        ai = self.assertSession(r)["ai"]
        self.assertEqual(set(ai), {"provider", "access_token", "call_id", "expires_at"}, ai)
        self.assertEqual(ai["provider"], "retell")
        # Retell: the call must start within 30 s of its creation.
        self.assertAlmostEqual(ai["expires_at"], time.time() + 30, delta=5)
        reqs = self.requests(self.retell)
        self.assertEqual(len(reqs), 1, reqs)
        q = reqs[0]
        self.assertEqual((q["method"], q["path"], q["status"]), ("POST", "/v2/create-web-call", 201))
        self.assertEqual(q["json"]["agent_id"], RETELL_AGENT)
        self.assertEqual(q["json"]["metadata"], {"site_id": S_RETELL})
        self.assertEqual(q["response"]["access_token"], secret_digest(ai["access_token"]))
        self.assertNoSecrets(r.body.decode())

    def test_elevenlabs_token(self):
        r = self.mint(S_ELEVEN)
        ai = self.assertSession(r)["ai"]
        self.assertEqual(set(ai), {"provider", "token", "expires_at"}, ai)
        q = self.requests(self.eleven)[0]
        self.assertEqual((q["method"], q["path"]), ("GET", "/v1/convai/conversation/token"))
        self.assertEqual(q["query"], {"agent_id": [ELEVEN_AGENT]})
        hdrs = {k.lower(): v for k, v in q["headers"].items()}
        self.assertEqual(hdrs.get("xi-api-key"), secret_digest(ELEVEN_KEY))
        self.assertNotIn("authorization", hdrs)
        self.assertEqual(q["response"]["token"], secret_digest(ai["token"]))

    def test_elevenlabs_signed_url(self):
        ai = self.assertSession(self.mint(S_SIGNED))["ai"]
        self.assertEqual(set(ai), {"provider", "signed_url", "expires_at"}, ai)
        self.assertTrue(ai["signed_url"].startswith("wss://"), ai)
        q = self.requests(self.eleven)[0]
        self.assertEqual(q["path"], "/v1/convai/conversation/get-signed-url")

    def test_vapi_jwt_is_accepted_by_vapi_for_this_origin_only(self):
        r = self.mint(S_VAPI)
        ai = self.assertSession(r)["ai"]
        self.assertEqual(set(ai), {"provider", "token", "expires_at", "assistant_id"}, ai)
        self.assertAlmostEqual(ai["expires_at"], time.time() + 300, delta=10)
        # Made locally: readgate called nobody.
        self.assertEqual(self.requests(self.vapi), [])
        self.assertNoSecrets(r.body.decode())
        body = {"assistantId": VAPI_ASSISTANT}
        auth = {"Authorization": "Bearer " + ai["token"]}
        st, _, out = self.vapi.call("POST", "/call/web", body, dict(auth, Origin=ORIGIN))
        self.assertEqual(st, 201, out)
        st, h, out = self.vapi.call("POST", "/call/web", body,
                                    dict(auth, Origin="https://evil.example.net"))
        self.assertEqual(st, 401, out)
        self.assertEqual(h.get("X-Fake-Reason"), "origin")

    # -- failures ------------------------------------------------------------------

    def test_wrong_key(self):
        r = self.mint(S_WRONG)
        self.assertUpstreamError(r, 502, "upstream_error")
        self.assertIn("api_key", r.json["error"]["message"])
        # The provider's own words never reach the browser.
        q = self.requests(self.openai)[0]
        self.assertEqual(q["status"], 401)
        self.assertNotIn("Incorrect", r.body.decode())
        self.assertNotIn("invalid_api_key", r.body.decode())

    def test_provider_throttles(self):
        self.openai.control("config", {"faults": [{"status": 429, "count": 1,
                                                   "headers": {"Retry-After": "7"}}]})
        r = self.mint(S_OPENAI)
        self.assertUpstreamError(r, 502, "upstream_error")
        self.assertEqual(r.header("Retry-After"), "7")
        self.assertNotIn("rate_limit_exceeded", r.body.decode())
        # The next one goes through again.
        self.assertTrue(self.assertSession(self.mint(S_OPENAI))["ai"]["value"].startswith("ek_"))

    def test_provider_fails(self):
        for status in (500, 503):
            with self.subTest(status=status):
                self.openai.control("config", {"faults": [{"status": status, "count": 1}]})
                self.assertUpstreamError(self.mint(S_OPENAI), 502, "upstream_error")

    def test_provider_down(self):
        t0 = time.time()
        r = self.mint(S_DOWN)
        self.assertUpstreamError(r, 502, "upstream_error")
        self.assertLess(time.time() - t0, 5)
        self.assertEqual(self.c.token(harness.LITE, api_key=self.env.lite_api_key).status, 200)

    def test_provider_slow_times_out_without_blocking_the_loop(self):
        self.openai.control("config", {"faults": [{"delay_s": 4, "count": 1}]})
        out = {}

        def slow():
            t0 = time.time()
            out["r"] = self.mint_once(S_LIMIT)  # timeout_ms 1500
            out["t"] = time.time() - t0

        th = threading.Thread(target=slow)
        th.start()
        time.sleep(0.3)
        # Meanwhile the gateway's only event loop answers everyone else.
        t0 = time.time()
        other = self.mint(S_VAPI)
        self.assertEqual(other.status, 200, other)
        self.assertLess(time.time() - t0, 1.0)
        th.join(10)
        self.assertFalse(th.is_alive())
        self.assertUpstreamError(out["r"], 504, "upstream_timeout")
        self.assertGreaterEqual(out["t"], 1.3)
        self.assertLess(out["t"], 3.5)
        # Let the fake finish the slow answer, so it isn't counted in the next test.
        deadline = time.time() + 8
        while not self.requests(self.openai) and time.time() < deadline:
            time.sleep(0.2)

    def test_token_rate_limit_comes_before_any_decrypt_or_call(self):
        # ailimit001 allows 2 tokens per minute; whatever earlier tests spent
        # of it, within three calls one is refused.
        before_audit = self.audit_lines("mint", site=S_LIMIT)
        statuses = []
        for _ in range(3):
            statuses.append(self.mint_once(S_LIMIT).status)
        self.assertIn(429, statuses)
        minted = statuses.count(200)
        # Exactly one provider call and one audited decrypt per minted credential.
        self.assertEqual(len(self.requests(self.openai)), minted)
        self.assertEqual(len(self.audit_lines("mint", site=S_LIMIT)) - len(before_audit), minted)
        r = self.mint_once(S_LIMIT)
        self.assertEqual(r.status, 429, r)
        self.assertTrue(r.header("Retry-After"))
        self.assertEqual(len(self.requests(self.openai)), minted)

    def test_unusable_provider_answers_503_and_others_keep_working(self):
        r = self.mint(S_BROKEN)
        self.assertEqual(r.status, 503, r)
        self.assertEqual(r.code, "provider_unavailable")
        self.assertIn("nosuchprovider", r.json["error"]["message"])
        self.assertEqual(self.mint(S_VAPI).status, 200)
        self.assertIn("provider 'nosuchprovider' refused", self.srv.log_text())

    # -- secrets ----------------------------------------------------------------------

    def audit_lines(self, purpose, site=None):
        try:
            with open(self.audit_path) as f:
                lines = [json.loads(x) for x in f if x.strip()]
        except OSError:
            return []
        return [x for x in lines if x.get("purpose") == purpose
                and (site is None or x.get("site") == site)]

    def test_every_mint_is_audited(self):
        before = len(self.audit_lines("mint", site=S_RETELL))
        self.assertEqual(self.mint(S_RETELL).status, 200)
        lines = self.audit_lines("mint", site=S_RETELL)
        self.assertEqual(len(lines), before + 1)
        self.assertEqual(lines[-1]["field"], "ai.api_key")
        self.assertTrue(lines[-1]["ok"])

    def test_no_key_or_credential_in_logs(self):
        minted = [self.assertSession(self.mint(s))["ai"] for s in (S_OPENAI, S_RETELL, S_VAPI)]
        self.mint(S_WRONG)
        creds = [m.get("value") or m.get("access_token") or m.get("token") for m in minted]
        with open(self.audit_path) as f:
            audit = f.read()
        for text in (self.srv.log_text(), audit):
            self.assertNoSecrets(text, *creds)
            self.assertNotIn("SECRET-PROMPT", text)
        self.assertIn("ai credential minted with openai-realtime", self.srv.log_text())

    def test_stop_during_a_mint(self):
        """SIGTERM while a provider is answering: the mint ends (here by its
        timeout), its client gets an answer, the gateway exits cleanly."""
        env = self.env
        site = self.site(S_OPENAI, {
            "provider": "openai-realtime",
            "api_key": env.encrypt(S_OPENAI, "ai.api_key", OPENAI_KEY),
            "timeout_ms": 2000,
            "options": {"base_url": self.openai.url}})
        srv = env.start_server("ai-stop", {S_OPENAI: site})
        self.openai.control("config", {"faults": [{"delay_s": 6, "count": 1}]})
        out = {}
        th = threading.Thread(target=lambda: out.update(
            r=srv.client.request("POST", "/v1/%s/token" % S_OPENAI, b"", [("Origin", ORIGIN)])))
        th.start()
        time.sleep(0.5)
        rc, secs = srv.stop()
        th.join(10)
        self.assertEqual(rc, 0, srv.log_tail())
        self.assertLess(secs, 5)
        self.assertEqual(out["r"].status, 504, out["r"])
        deadline = time.time() + 10  # the fake's slow answer, before the next test
        while not self.requests(self.openai) and time.time() < deadline:
            time.sleep(0.2)

    def test_metrics(self):
        self.mint(S_VAPI)
        st, body = self.srv.admin_get("/metrics")
        self.assertEqual(st, 200)
        m = re.search(rb'readgate_ai_mints_total\{outcome="minted"\} (\d+)', body)
        self.assertTrue(m and int(m.group(1)) >= 1, body)


class AiCheckTest(unittest.TestCase):
    """`readgate check` on ai blocks: each problem with its file:line."""

    @classmethod
    def setUpClass(cls):
        cls.env = harness.env()

    def check(self, sites):
        srv = harness.Server(self.env, "aicheck%d" % int(time.time() * 1000), sites)
        p = subprocess.run([self.env.readgate, "check", "-c", srv.config_path],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           env=self.env.proc_env, timeout=60)
        return p.returncode, p.stdout.decode(), srv

    def site(self, site_id, ai):
        doc = self.env.lite_site()
        doc["site_id"] = site_id
        doc["ai"] = ai
        return doc

    def line_of(self, srv, site_id, text):
        with open(os.path.join(srv.sites_dir, site_id + ".yaml")) as f:
            for n, line in enumerate(f, 1):
                if text in line:
                    return n
        raise AssertionError("%r not in %s" % (text, site_id))

    def test_cross_site_ciphertext_is_refused(self):
        enc = self.env.encrypt("aisitea001", "ai.api_key", OPENAI_KEY)
        rc, out, srv = self.check({
            "aisitea001": self.site("aisitea001", {"provider": "openai-realtime", "api_key": enc}),
            "aisiteb001": self.site("aisiteb001", {"provider": "openai-realtime", "api_key": enc}),
        })
        self.assertEqual(rc, 1, out)
        n = self.line_of(srv, "aisiteb001", "api_key:")
        self.assertRegex(out, r"aisiteb001\.yaml:%d: ai\.api_key: cannot decrypt" % n)
        self.assertNotIn("aisitea001.yaml", out)
        self.assertNotIn(OPENAI_KEY, out)

    def test_provider_errors_with_lines(self):
        e = self.env.encrypt
        rc, out, srv = self.check({
            "aichecka01": self.site("aichecka01", {
                "provider": "openai-realtime", "api_key": e("aichecka01", "ai.api_key", "k"),
                "expires_after_s": 9000, "options": {"model": "gpt-realtime"}}),
            "aicheckb01": self.site("aicheckb01", {
                "provider": "retell", "api_key": e("aicheckb01", "ai.api_key", "k"),
                "tools": "functions", "options": {"agent_id": RETELL_AGENT}}),
            "aicheckc01": self.site("aicheckc01", {
                "provider": "retell", "api_key": e("aicheckc01", "ai.api_key", "k"),
                "options": {"agentid": "x"}}),
            "aicheckd01": self.site("aicheckd01", {
                "provider": "nosuchprovider", "api_key": e("aicheckd01", "ai.api_key", "k")}),
            "aichecke01": self.site("aichecke01", {
                "provider": "openai-realtime", "api_key": e("aichecke01", "ai.api_key", "k"),
                "tools": "mcp"}),
        })
        self.assertEqual(rc, 1, out)
        want = [
            ("aichecka01", "expires_after_s", "expires_after_s"),
            ("aicheckb01", "tools", "ai.tools: provider retell can't be given tools"),
            ("aicheckc01", "agentid", "agentid"),
            ("aicheckd01", "provider", "ai.provider:"),
            ("aichecke01", "tools", "ai.tools: mcp needs public_url in readgate.yaml"),
        ]
        for site_id, key, text in want:
            n = self.line_of(srv, site_id, key + ":")
            prefix = "%s/%s.yaml:%d: " % (srv.sites_dir, site_id, n)
            lines = [x for x in out.splitlines() if x.startswith(prefix)]
            self.assertTrue(any(text in x for x in lines), "%s%s ... not in:\n%s"
                            % (prefix, text, out))

    def test_good_ai_blocks_pass(self):
        e = self.env.encrypt
        rc, out, _ = self.check({
            "aigood0001": self.site("aigood0001", {
                "provider": "openai-realtime", "api_key": e("aigood0001", "ai.api_key", "k"),
                "tools": "none", "options": {"voice": "marin"}}),
            "aigood0002": self.site("aigood0002", {
                "provider": "vapi", "api_key": e("aigood0002", "ai.api_key", "k"),
                "options": {"org_id": VAPI_ORG}}),
        })
        self.assertEqual(rc, 0, out)


if __name__ == "__main__":
    unittest.main()
