"""POST /v1/{site}/mcp (docs/mcp.md): the Model Context Protocol endpoint.

The official TypeScript SDK client (tests/mcp, under Node's test runner)
lists and calls the tools of a site on PostgreSQL and one on SQLite, and
must get exactly what /query answers; this module sends the hostile and
edge-case messages itself, checks the credentials (API keys, MCP tokens
minted with a session for the AI provider, ended with it), Origin, versions,
rate limits and the protected-resource metadata.
"""

import json
import os
import re
import subprocess
import sys
import tempfile
import time
import unittest

import harness
import rgclient
from harness import LITE, OTHER, SITE

sys.path.insert(0, os.path.join(harness.REPO, "tests", "fakes"))
from launch import FakeProcess  # noqa: E402

MCP_DIR = os.path.join(harness.REPO, "tests", "mcp")
VERSIONS = ["2025-11-25", "2025-06-18", "2025-03-26"]
OPENAI_KEY = "sk-test-readgate-openai-mcp-0123456789"
AI_SITE = "mcpaisite01"


def rpc(method, params=None, id=1):
    m = {"jsonrpc": "2.0", "id": id, "method": method}
    if params is not None:
        m["params"] = params
    return m


class McpBase(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.env = harness.env()
        cls.c = cls.env.client

    def post(self, site, msg, bearer=None, headers=None, raw=None, client=None):
        h = [("Content-Type", "application/json"), ("Accept", "application/json, text/event-stream")]
        if bearer is not None:
            h.append(("Authorization", "Bearer " + bearer))
        names = {k.lower() for k, _ in headers or []}
        h = [(k, v) for k, v in h if k.lower() not in names] + list(headers or [])
        body = raw if raw is not None else json.dumps(msg).encode()
        return (client or self.c).request("POST", "/v1/%s/mcp" % site, body, h)

    def call(self, site, bearer, tool, arguments=None, id=7, **kw):
        params = {"name": tool}
        if arguments is not None:
            params["arguments"] = arguments
        r = self.post(site, rpc("tools/call", params, id), bearer, **kw)
        self.assertEqual(r.status, 200, r)
        return r.json

    def assertRpcError(self, r, http, code, id=None):
        self.assertEqual(r.status, http, r)
        j = r.json
        self.assertEqual(j["jsonrpc"], "2.0")
        self.assertEqual(j["id"], id, j)
        self.assertEqual(j["error"]["code"], code, j)
        self.assertNotIn("result", j)
        return j["error"]["message"]


class McpHttpTest(McpBase):
    """The transport: credentials, Origin, versions, shapes of messages."""

    def test_no_bearer_is_401_with_resource_metadata(self):
        r = self.post(SITE, rpc("initialize", {"protocolVersion": VERSIONS[0]}))
        self.assertEqual((r.status, r.code), (401, "mcp_unauthorized"), r)
        www = r.header("WWW-Authenticate")
        m = re.fullmatch(r'Bearer resource_metadata="([^"]+)"', www or "")
        self.assertTrue(m, www)
        url = m.group(1)
        path = "/.well-known/oauth-protected-resource/v1/%s/mcp" % SITE
        self.assertEqual(url, "http://127.0.0.1:%d%s" % (self.env.main.port, path))
        meta = self.c.request("GET", path)
        self.assertEqual(meta.status, 200, meta)
        self.assertEqual(meta.json["resource"],
                         "http://127.0.0.1:%d/v1/%s/mcp" % (self.env.main.port, SITE))
        self.assertEqual(meta.json["bearer_methods_supported"], ["header"])
        self.assertEqual(meta.header("Access-Control-Allow-Origin"), "*")
        self.assertEqual(self.c.request("GET", "/.well-known/oauth-protected-resource/v1/"
                                        "nosuchsite9/mcp").status, 404)

    def test_bad_bearers(self):
        for bearer in ("rgk_" + "x" * 40, self.env.other_api_key, "rgm_AAAA", "sst_x", "",
                       "rgk_" + "y" * 300):
            with self.subTest(bearer=bearer[:20]):
                r = self.post(SITE, rpc("ping"), bearer)
                self.assertEqual((r.status, r.code), (401, "mcp_unauthorized"), r)
                self.assertIn('error="invalid_token"', r.header("WWW-Authenticate"))
        r = self.post(SITE, rpc("ping"), headers=[("Authorization", "Basic dXNlcjpwYXNz")])
        self.assertEqual(r.status, 401, r)

    def test_api_key_ping_and_initialize(self):
        r = self.post(SITE, rpc("ping", id="p-1"), self.env.api_key)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json, {"jsonrpc": "2.0", "id": "p-1", "result": {}})
        self.assertIsNone(r.header("Mcp-Session-Id"))  # stateless
        for v in VERSIONS:
            with self.subTest(version=v):
                r = self.post(SITE, rpc("initialize", {"protocolVersion": v, "capabilities": {},
                                                        "clientInfo": {"name": "t", "version": "1"}}),
                              self.env.api_key)
                res = r.json["result"]
                self.assertEqual(res["protocolVersion"], v)
                self.assertEqual(res["serverInfo"]["name"], "readgate")
                self.assertEqual(res["capabilities"], {"tools": {"listChanged": False}})
        # A version it doesn't speak: the newest it does.
        r = self.post(SITE, rpc("initialize", {"protocolVersion": "2024-11-05"}), self.env.api_key)
        self.assertEqual(r.json["result"]["protocolVersion"], VERSIONS[0])

    def test_protocol_version_header(self):
        for v in VERSIONS:
            r = self.post(SITE, rpc("ping"), self.env.api_key, [("MCP-Protocol-Version", v)])
            self.assertEqual(r.status, 200, (v, r))
        r = self.post(SITE, rpc("ping"), self.env.api_key, [("MCP-Protocol-Version", "1999-01-01")])
        self.assertEqual((r.status, r.code), (400, "unsupported_protocol_version"), r)
        self.assertIn("2025-11-25", r.json["error"]["message"])

    def test_methods_and_content(self):
        for m in ("GET", "DELETE", "PUT"):
            r = self.c.request(m, "/v1/%s/mcp" % SITE, b"",
                               [("Authorization", "Bearer " + self.env.api_key)])
            self.assertEqual((r.status, r.code), (405, "method_not_allowed"), (m, r))
            self.assertEqual(r.header("Allow"), "POST")
        r = self.post(SITE, rpc("ping"), self.env.api_key, [("Content-Type", "text/plain")])
        self.assertEqual((r.status, r.code), (415, "unsupported_media_type"), r)
        r = self.post(SITE, rpc("ping"), self.env.api_key, [("Accept", "text/html")])
        self.assertEqual((r.status, r.code), (406, "not_acceptable"), r)
        r = self.post(SITE, None, self.env.api_key, raw=b"{" + b" " * 20000 + b"}")
        self.assertEqual((r.status, r.code), (413, "body_too_large"), r)

    def test_origin(self):
        r = self.post(SITE, rpc("ping"), self.env.api_key, [("Origin", "https://evil.example.net")])
        self.assertEqual((r.status, r.code), (403, "origin_not_allowed"), r)
        self.assertIsNone(r.header("Access-Control-Allow-Origin"))
        o = "https://shop.example.com"
        r = self.post(SITE, rpc("ping"), self.env.api_key, [("Origin", o)])
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.header("Access-Control-Allow-Origin"), o)
        pre = self.c.request("OPTIONS", "/v1/%s/mcp" % SITE, b"",
                             [("Origin", o), ("Access-Control-Request-Method", "POST")])
        self.assertIn("MCP-Protocol-Version", pre.header("Access-Control-Allow-Headers"))

    def test_hostile_messages(self):
        k = self.env.api_key
        self.assertRpcError(self.post(SITE, None, k, raw=b"{not json"), 400, -32700)
        self.assertRpcError(self.post(SITE, None, k, raw=b""), 400, -32700)
        self.assertRpcError(self.post(SITE, [rpc("ping"), rpc("ping", id=2)], k), 400, -32600)
        self.assertRpcError(self.post(SITE, [], k), 400, -32600)
        self.assertRpcError(self.post(SITE, "ping", k), 400, -32600)
        self.assertRpcError(self.post(SITE, {"id": 1, "method": "ping"}, k), 400, -32600)
        self.assertRpcError(self.post(SITE, {"jsonrpc": "1.0", "id": 1, "method": "ping"}, k),
                            400, -32600)
        for bad_id in (None, 1.5, [1], {"a": 1}, True, "i" * 257):
            with self.subTest(id=str(bad_id)[:20]):
                self.assertRpcError(self.post(SITE, {"jsonrpc": "2.0", "id": bad_id,
                                                     "method": "ping"}, k), 400, -32600)
        # An id beyond 64 bits is not JSON this server can hold: a parse error.
        self.assertRpcError(self.post(SITE, None, k, raw=b'{"jsonrpc":"2.0","id":'
                                      + b"9" * 40 + b',"method":"ping"}'), 400, -32700)
        # The largest ids are echoed exactly.
        for good in (9223372036854775807, -9223372036854775808, "i" * 256, "", 0):
            r = self.post(SITE, rpc("ping", id=good), k)
            self.assertEqual(r.json["id"], good)
        self.assertRpcError(self.post(SITE, {"jsonrpc": "2.0", "id": 3, "method": 5}, k),
                            400, -32600, id=3)
        self.assertRpcError(self.post(SITE, rpc("tools/list", [1], id=4), k), 200, -32602, id=4)
        msg = self.assertRpcError(self.post(SITE, rpc("resources/list", id=5), k), 200, -32601, 5)
        self.assertIn("resources/list", msg)
        self.assertRpcError(self.post(SITE, rpc("tools/list", {"cursor": "x"}, 6), k), 200,
                            -32602, id=6)
        # Duplicate keys are refused, not resolved one way or the other.
        self.assertRpcError(self.post(SITE, None, k, raw=b'{"jsonrpc":"2.0","id":1,"id":2,'
                                      b'"method":"ping"}'), 400, -32700)

    def test_notifications_and_responses_are_accepted(self):
        k = self.env.api_key
        for msg in ({"jsonrpc": "2.0", "method": "notifications/initialized"},
                    {"jsonrpc": "2.0", "method": "notifications/cancelled",
                     "params": {"requestId": 1}},
                    {"jsonrpc": "2.0", "id": 99, "result": {}}):
            r = self.post(SITE, msg, k)
            self.assertEqual(r.status, 202, (msg, r))
            self.assertEqual(r.body, b"")
        self.assertRpcError(self.post(SITE, {"jsonrpc": "2.0"}, k), 400, -32600)

    def test_tools_list(self):
        r = self.post(SITE, rpc("tools/list"), self.env.api_key)
        tools = {t["name"]: t for t in r.json["result"]["tools"]}
        self.assertEqual(set(tools), {"query_products", "query_slow", "describe_collections"})
        for t in tools.values():
            self.assertEqual(t["annotations"], {"readOnlyHint": True, "destructiveHint": False,
                                                "idempotentHint": True, "openWorldHint": False})
        schema = tools["query_products"]["inputSchema"]
        self.assertNotIn("collection", schema["properties"])
        self.assertNotIn("required", schema)
        self.assertFalse(schema["additionalProperties"])
        # The same schema as /collections' tool, but for the collection.
        s = self.c.session(SITE, api_key=self.env.api_key)
        params = next(x for x in self.c.collections(s).json["collections"]
                      if x["name"] == "products")["tool"]["function"]["parameters"]
        del params["properties"]["collection"]
        del params["required"]
        self.assertEqual(schema, params)

    def test_tools_call_matches_query(self):
        s = self.c.session(SITE, api_key=self.env.api_key)
        body = {"filters": [{"field": "price", "op": "lte", "value": 80}], "sort":
                [{"field": "price", "dir": "desc"}], "limit": 4, "fields": ["id", "name", "price"]}
        want = self.c.query(s, dict(body, collection="products")).json
        got = self.call(SITE, self.env.api_key, "query_products", body)
        res = got["result"]
        self.assertFalse(res["isError"])
        self.assertEqual(res["structuredContent"]["rows"], want["rows"])
        self.assertEqual(json.loads(res["content"][0]["text"]), res["structuredContent"])
        # The cursor pages on exactly as /query's does.
        nxt = self.call(SITE, self.env.api_key, "query_products",
                        dict(body, cursor=res["structuredContent"]["next_cursor"]))
        want2 = self.c.query(s, dict(body, collection="products", cursor=want["next_cursor"])).json
        self.assertEqual(nxt["result"]["structuredContent"]["rows"], want2["rows"])

    def test_tool_errors_are_results_with_the_query_messages(self):
        s = self.c.session(SITE, api_key=self.env.api_key)
        for args in ({"filters": [{"field": "price", "op": "lt", "value": "cheap"}]},
                     {"filters": [{"field": "description", "op": "eq", "value": "x"}]},
                     {"sort": [{"field": "nope"}]}, {"limit": 0}, {"cursor": "garbage"},
                     {"page": 2}, {"search": "x" * 300}):
            with self.subTest(args=args):
                q = self.c.query(s, dict(args, collection="products"))
                self.assertEqual(q.status, 400, q)
                res = self.call(SITE, self.env.api_key, "query_products", args)["result"]
                self.assertTrue(res["isError"], res)
                self.assertNotIn("structuredContent", res)
                text = res["content"][0]["text"]
                self.assertTrue(text.startswith(q.code + ": " + q.json["error"]["message"]), text)
        res = self.call(SITE, self.env.api_key, "query_products", {"collection": "products"})
        self.assertTrue(res["result"]["isError"])
        self.assertIn("leave 'collection' out", res["result"]["content"][0]["text"])
        res = self.call(SITE, self.env.api_key, "describe_collections", {"x": 1})
        self.assertTrue(res["result"]["isError"])

    def test_tool_call_params(self):
        k = self.env.api_key
        for params in ({}, {"name": 5}, {"name": "query_products", "arguments": [1]},
                       {"name": "query_products", "arguments": "x"}):
            with self.subTest(params=params):
                self.assertRpcError(self.post(SITE, rpc("tools/call", params, 11), k), 200,
                                    -32602, id=11)
        msg = self.assertRpcError(self.post(SITE, rpc("tools/call", {"name": "drop_table"}, 12),
                                            k), 200, -32602, id=12)
        self.assertIn("drop_table", msg)
        # Another site's collection is no tool here.
        self.assertRpcError(self.post(SITE, rpc("tools/call", {"name": "query_items"}, 13), k),
                            200, -32602, id=13)

    def test_describe_collections(self):
        res = self.call(SITE, self.env.api_key, "describe_collections")["result"]
        self.assertFalse(res["isError"])
        s = self.c.session(SITE, api_key=self.env.api_key)
        self.assertEqual(res["structuredContent"], self.c.collections(s).json)

    def test_backend_failure_is_a_tool_error(self):
        # public.slow_products takes longer than the slowdb source's 1 s budget.
        res = self.call(SITE, self.env.api_key, "query_slow", {"limit": 1})["result"]
        self.assertTrue(res["isError"], res)
        self.assertTrue(res["content"][0]["text"].startswith("upstream_timeout: "), res)

    def test_metrics(self):
        self.post(SITE, rpc("ping"), self.env.api_key)
        st, body = self.env.main.admin_get("/metrics")
        self.assertRegex(body.decode(), r'readgate_requests_total\{route="mcp",status="200"\} \d+')


class McpSdkTest(McpBase):
    """The official TypeScript SDK client against readgate (tests/mcp)."""

    def run_sdk(self, site, bearer):
        s = self.c.session(site, api_key=bearer)
        tools = self.post(site, rpc("tools/list"), bearer).json["result"]["tools"]
        names = [t["name"] for t in tools]
        coll = [n for n in names if n.startswith("query_") and n != "query_slow"][0]
        cname = coll[len("query_"):]
        desc = next(x for x in self.c.collections(s).json["collections"] if x["name"] == cname)
        shown = [f["name"] for f in desc["fields"] if f["display"]]
        key = desc["key"]
        calls, pages, errors = [], [], []
        for args in ({"limit": 5}, {"limit": 3, "sort": [{"field": key, "dir": "desc"}]},
                     {"limit": 2, "fields": shown[:2]}):
            calls.append({"tool": coll, "arguments": args,
                          "rows": self.c.query(s, dict(args, collection=cname)).json["rows"]})
        rows, _ = self.c.query_all(s, {"collection": cname, "limit": 3})
        pages.append({"tool": coll, "arguments": {"limit": 3}, "rows": rows})
        errors.append({"tool": coll, "arguments": {"limit": 0}, "contains": "invalid_limit"})
        errors.append({"tool": coll, "arguments": {"filters": [{"field": "zz", "op": "eq",
                                                                 "value": 1}]},
                       "contains": "unknown_field"})
        cases = {"tools": names, "calls": calls, "pages": pages, "errors": errors,
                 "protocol_versions": VERSIONS}
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            json.dump(cases, f)
            path = f.name
        try:
            env = dict(os.environ, RG_MCP_URL="http://127.0.0.1:%d/v1/%s/mcp"
                       % (self.env.main.port, site), RG_MCP_BEARER=bearer, RG_MCP_CASES=path)
            p = subprocess.run(["bash", os.path.join(MCP_DIR, "run.sh")], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=600)
        finally:
            os.unlink(path)
        out = p.stdout.decode(errors="replace")
        self.assertEqual(p.returncode, 0, out[-6000:])
        m = re.search(r"^# pass (\d+)$", out, re.M)
        f = re.search(r"^# fail (\d+)$", out, re.M)
        self.assertTrue(m and int(m.group(1)) >= 8, out[-3000:])
        self.assertEqual(f and int(f.group(1)), 0, out[-3000:])
        self.assertNotRegex(out, r"^# (skipped|todo) [1-9]", "a skipped test is no pass")

    def test_conformance_scenarios(self):
        """@modelcontextprotocol/conformance's server scenarios that apply to a
        read-only tool server (tests/mcp/conformance.mjs says which and why)."""
        env = dict(os.environ, RG_MCP_URL="http://127.0.0.1:%d/v1/%s/mcp"
                   % (self.env.main.port, LITE), RG_MCP_BEARER=self.env.lite_api_key)
        p = subprocess.run(["bash", os.path.join(MCP_DIR, "run.sh"), "conformance"], env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=900)
        out = p.stdout.decode(errors="replace")
        self.assertEqual(p.returncode, 0, out[-6000:])
        m = re.search(r"conformance: (\d+) passed, (\d+) failed", out)
        self.assertTrue(m, out[-3000:])
        self.assertGreaterEqual(int(m.group(1)), 4, out[-3000:])
        self.assertEqual(int(m.group(2)), 0, out[-3000:])

    def test_sdk_client_on_postgres(self):
        self.run_sdk(SITE, self.env.api_key)

    def test_sdk_client_on_sqlite(self):
        self.run_sdk(LITE, self.env.lite_api_key)


class McpTokenTest(McpBase):
    """MCP tokens: minted with a session for the AI provider (ai.tools: mcp),
    scoped to the site, ended with the session."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        env = cls.env
        cls.fake = FakeProcess("openai", "--api-key", OPENAI_KEY)
        site = env.lite_site()
        site["site_id"] = AI_SITE
        site["allowed_origins"] = ["ai.example.com"]
        site["api_keys"] = [harness.api_key_hash(env.api_key)]
        site["ai"] = {"provider": "openai-realtime", "tools": "mcp",
                      "api_key": env.encrypt(AI_SITE, "ai.api_key", OPENAI_KEY),
                      "options": {"base_url": cls.fake.url}}
        port = harness.free_port()
        base = "http://127.0.0.1:%d" % port
        srv = harness.Server(env, "mcp-ai", {AI_SITE: site, LITE: env.lite_site()},
                             extra={"listen": "127.0.0.1:%d" % port, "public_url": base + "/"})
        srv.port = port
        srv.client = rgclient.Client("127.0.0.1", port)
        env.servers.append(srv)
        cls.srv = srv.start()
        cls.base = base
        cls.sc = srv.client

    @classmethod
    def tearDownClass(cls):
        cls.fake.stop()

    def mint(self):
        """A session for the page, and the MCP bearer the provider got with it."""
        self.fake.control("reset", {})
        r = self.sc.token(AI_SITE, origin="https://ai.example.com")
        self.assertEqual(r.status, 200, r)
        self.assertNotIn("rgm_", r.body.decode(), "the browser never sees the MCP bearer")
        req = self.fake.control("requests")["requests"][0]["json"]
        tools = req["session"]["tools"]
        self.assertEqual(len(tools), 1, tools)
        t = tools[0]
        self.assertEqual((t["type"], t["server_label"], t["server_url"]),
                         ("mcp", "readgate", self.base + "/v1/%s/mcp" % AI_SITE))
        auth = t["headers"]["Authorization"]
        self.assertTrue(auth.startswith("Bearer rgm_"), auth)
        s = rgclient.Session(AI_SITE, r.json["session_token"], r.json["signing_secret"], r.json)
        return s, auth[len("Bearer "):]

    def test_token_works_and_ends_with_its_session(self):
        s, tok = self.mint()
        r = self.post(AI_SITE, rpc("tools/list"), tok, client=self.sc)
        self.assertEqual(r.status, 200, r)
        self.assertIn("query_items", [t["name"] for t in r.json["result"]["tools"]])
        res = self.call(AI_SITE, tok, "query_items", {"limit": 2}, client=self.sc)["result"]
        self.assertFalse(res["isError"], res)
        self.assertEqual(len(res["structuredContent"]["rows"]), 2)
        # Neither a session token nor a key of another site.
        r = self.post(LITE, rpc("ping"), tok, client=self.sc)
        self.assertEqual((r.status, r.code), (401, "mcp_unauthorized"), r)
        self.assertIn("another site", r.json["error"]["message"])
        r = self.post(AI_SITE, rpc("ping"), s.token, client=self.sc)
        self.assertEqual(r.status, 401, r)
        # The token is no session either.
        q = self.sc.query(rgclient.Session(AI_SITE, tok, s.secret, {}), {"collection": "items"})
        self.assertEqual((q.status, q.code), (401, "invalid_session"), q)
        self.assertEqual(self.sc.end_session(s).status, 200)
        r = self.post(AI_SITE, rpc("ping"), tok, client=self.sc)
        self.assertEqual((r.status, r.code), (401, "mcp_unauthorized"), r)
        self.assertIn("ended", r.json["error"]["message"])
        self.assertIn('error="invalid_token"', r.header("WWW-Authenticate"))
        self.assertIn(self.base + "/.well-known/oauth-protected-resource/v1/%s/mcp" % AI_SITE,
                      r.header("WWW-Authenticate"))

    def test_expired_token(self):
        # Sessions live at least 60 s: this site's live exactly that long.
        site = self.env.lite_site()
        site["site_id"] = "mcpshort001"
        site["allowed_origins"] = ["ai.example.com"]
        site["session_ttl_s"] = 60
        site["ai"] = {"provider": "openai-realtime", "tools": "mcp",
                      "api_key": self.env.encrypt("mcpshort001", "ai.api_key", OPENAI_KEY),
                      "options": {"base_url": self.fake.url}}
        port = harness.free_port()
        srv = harness.Server(self.env, "mcp-short", {"mcpshort001": site},
                             extra={"listen": "127.0.0.1:%d" % port,
                                    "public_url": "http://127.0.0.1:%d" % port})
        srv.port = port
        srv.client = rgclient.Client("127.0.0.1", port)
        self.env.servers.append(srv)
        srv.start()
        self.fake.control("reset", {})
        r = srv.client.token("mcpshort001", origin="https://ai.example.com")
        self.assertEqual(r.status, 200, r)
        req = self.fake.control("requests")["requests"][0]["json"]
        tok = req["session"]["tools"][0]["headers"]["Authorization"][len("Bearer "):]
        self.assertEqual(self.post("mcpshort001", rpc("ping"), tok, client=srv.client).status, 200)
        time.sleep(max(0.0, r.json["expires_at"] - time.time()) + 1.5)
        r = self.post("mcpshort001", rpc("ping"), tok, client=srv.client)
        self.assertEqual((r.status, r.code), (401, "mcp_unauthorized"), r)
        self.assertIn("expired", r.json["error"]["message"])

    def test_tampered_token(self):
        _, tok = self.mint()
        bad = tok[:-6] + ("AAAAAA" if not tok.endswith("AAAAAA") else "BBBBBB")
        r = self.post(AI_SITE, rpc("ping"), bad, client=self.sc)
        self.assertEqual(r.status, 401, r)


class McpRateLimitTest(McpBase):
    def test_limited_per_site(self):
        env = self.env
        site = env.lite_site()
        limits = dict(harness.HIGH_RATE_LIMITS)
        limits["query"] = {"per_ip_per_min": 1000, "per_site_per_min": 3, "burst_per_s": 100,
                           "per_session_per_min": 1000}
        srv = env.start_server("mcp-rl", {LITE: site}, extra={"rate_limits": limits})
        statuses = [self.post(LITE, rpc("ping"), env.lite_api_key, client=srv.client).status
                    for _ in range(5)]
        self.assertEqual(statuses[:3], [200, 200, 200], statuses)
        r = self.post(LITE, rpc("ping"), env.lite_api_key, client=srv.client)
        self.assertEqual((r.status, r.code), (429, "rate_limited"), r)
        self.assertTrue(int(r.header("Retry-After")) >= 1)


if __name__ == "__main__":
    unittest.main()
