"""Gateways, sites and helpers shared by the rate-limit tests.

Each test uses windows nobody else touches (a site of its own, or a client
address of its own given through X-Forwarded-For from the trusted proxy
127.0.0.1), so tests don't depend on each other or on their order. Limits
are small (a handful per minute) so a test stays fast; windows are whole
seconds and nothing here asserts a speed.
"""

import http.client
import itertools
import json
import os
import re
import subprocess
import time
import urllib.error
import urllib.request

import harness
import rgclient

REDIS_SH = os.path.join(harness.REPO, "tests", "redis.sh")

# Per-minute windows small enough to reach in a test.
PER_MIN = 5
SMALL = {
    "token": {"per_ip_per_min": PER_MIN, "per_site_per_min": 100000, "burst_per_s": 100000},
    "query": {"per_ip_per_min": 0, "per_site_per_min": 100000, "per_session_per_min": 4,
              "burst_per_s": 100000},
    "collections": {"per_ip_per_min": 0, "per_site_per_min": PER_MIN, "per_session_per_min": 0,
                    "burst_per_s": 100000},
    "session": {"per_ip_per_min": 0, "per_site_per_min": 100000, "per_session_per_min": 0,
                "burst_per_s": 100000},
}
BURST = 3  # collections burst_per_s of the "burst" sites (a site-file override)

_ip_counter = itertools.count(1)


def fresh_ip():
    """A client address no other test has used (TEST-NET-3 and friends)."""
    n = next(_ip_counter) + (os.getpid() % 200) * 1000
    return "203.0.%d.%d" % ((n // 250) % 250, n % 250 + 1)


def lite_site(env, site_id, api_key, rate_limits=None):
    site = {
        "site_id": site_id,
        "allowed_origins": ["rl.example.com"],
        "allow_localhost": False,
        "api_keys": [harness.api_key_hash(api_key)],
        "sources": {"lite": {"adapter": "sqlite", "options": {"path": env.sqlite_path}}},
        "collections": {
            "items": {
                "source": "lite",
                "target": "items",
                "key": "id",
                "fields": {"id": {"type": "integer", "display": True, "sortable": True},
                           "name": {"type": "string", "display": True}},
            },
        },
    }
    if rate_limits:
        site["rate_limits"] = rate_limits
    return site


class SourceClient(rgclient.Client):
    """A client whose connections come from a chosen loopback address."""

    def __init__(self, host, port, source=None):
        super().__init__(host, port)
        self.source = source

    @staticmethod
    def _wait_if_limited(r):
        return False  # these tests look at every 429 themselves

    def request(self, method, path, body=b"", headers=None):
        conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout,
                                          source_address=(self.source, 0) if self.source else None)
        try:
            conn.putrequest(method, path, skip_host=False, skip_accept_encoding=True)
            for k, v in headers or []:
                conn.putheader(k, v)
            if body or method in ("POST", "PUT", "PATCH"):
                conn.putheader("Content-Length", str(len(body)))
            conn.endheaders(body if body else None)
            resp = conn.getresponse()
            return rgclient.Response(resp.status, resp.getheaders(), resp.read())
        finally:
            conn.close()


class Gateways:
    """Sites, keys and clients of one family of rate-limit gateways."""

    SITES = ["rlsite%02d" % i for i in range(1, 13)]
    BURST_SITES = ["rlburst%02d" % i for i in range(1, 4)]

    def __init__(self, env):
        self.env = env
        self.key = harness.new_api_key()

    def sites(self):
        out = {s: lite_site(self.env, s, self.key) for s in self.SITES}
        for s in self.BURST_SITES:
            out[s] = lite_site(self.env, s, self.key,
                               {"collections": {"burst_per_s": BURST, "per_site_per_min": 100000}})
        return out

    @staticmethod
    def client(server, source=None):
        return SourceClient("127.0.0.1", server.port, source)

    def token(self, client, site, ip=None):
        h = [("X-Forwarded-For", ip)] if ip else []
        return client.token(site, api_key=self.key, headers=h)

    def session(self, client, site):
        """A session opened from an address of its own, outside any test's window."""
        r = self.token(client, site, fresh_ip())
        if r.status != 200:
            raise AssertionError("token for %s failed: %r" % (site, r))
        return rgclient.Session(site, r.json["session_token"], r.json["signing_secret"], r.json)


def memory_gateway(env):
    """One gateway with the in-memory backend, started once per run."""
    gw = getattr(env, "rl_memory_gateway", None)
    if gw:
        return gw
    fam = Gateways(env)
    server = env.start_server("rlmem", fam.sites(), extra={
        "rate_limit": "memory",
        "rate_limits": SMALL,
        "trusted_proxies": ["127.0.0.1", "10.0.0.0/8"],
    })
    env.rl_memory_gateway = (fam, server)
    return env.rl_memory_gateway


def rate_headers(r):
    """(limit, remaining, reset) as integers, or None when absent."""
    vals = [r.header(h) for h in ("RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset")]
    if any(v is None for v in vals):
        return None
    return tuple(int(v) for v in vals)


def metric(server, name):
    """The value of an unlabelled metric on the admin listener, or None."""
    status, body = server.admin_get("/metrics")
    if status != 200:
        return None
    m = re.search(r"^%s (\S+)$" % re.escape(name), body.decode(), re.M)
    return float(m.group(1)) if m else None


def wait_for(pred, timeout=15.0, step=0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(step)
    return pred()


def redis_sh(*args):
    p = subprocess.run([REDIS_SH] + list(args), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=60)
    if p.returncode != 0:
        raise AssertionError("tests/redis.sh %s failed: %s"
                             % (" ".join(args), p.stdout.decode(errors="replace")))


def redis_cli(port, *args):
    p = subprocess.run(["redis-cli", "-h", "127.0.0.1", "-p", str(port)] + list(args),
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30)
    return p.returncode, p.stdout.decode(errors="replace").strip()


def error_json(r):
    try:
        return json.loads(r.body.decode())
    except ValueError:
        return None


def admin_json(server, path):
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d%s" % (server.admin_port, path),
                                    timeout=10) as resp:
            return json.loads(resp.read().decode())
    except (urllib.error.URLError, ValueError):
        return None
