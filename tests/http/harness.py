"""Starts readgate for the HTTP tests against the PostgreSQL of tests/pg.sh.

Environment:
  RG_BUILD_DIR         build directory holding `readgate`, adapters/ and test-adapters/
  RG_TEST_PG_PORT      port of the running test cluster (tests/pg.sh start DIR PORT)
  RG_TEST_PG_DIR       its directory (the fault tests stop and restart it)
  RG_TEST_PG_READER_PASSWORD  password of rg_reader (default as in tests/pg.sh)

env() loads the fixture, writes the configuration into a temporary directory,
starts `readgate serve` and returns an Env shared by every test module.
"""

import hashlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

import fixture
import rgclient

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
PG_SH = os.path.join(REPO, "tests", "pg.sh")

SITE = "testsite01"
OTHER = "othersite01"
LITE = "sqlitesite01"
WRONG = "wrongsite01"

ALLOWED_ORIGINS = ["shop.example.com", "*.example.com", "app.example.org:8443"]
OTHER_ORIGINS = ["other.example.net"]
SESSION_TTL = 900

_HIGH = {"per_ip_per_min": 1000000, "per_site_per_min": 1000000, "burst_per_s": 100000}
HIGH_RATE_LIMITS = {
    "token": dict(_HIGH),
    "query": dict(_HIGH, per_session_per_min=1000000),
    "collections": dict(_HIGH, per_session_per_min=1000000),
    "session": dict(_HIGH, per_session_per_min=1000000),
}


class SetupError(Exception):
    pass


# Ports of the servers the test scripts start themselves (PostgreSQL,
# MariaDB, Redis, MongoDB): never handed to a gateway.
RESERVED_PORTS = {23306, 25432, 26379, 27017}


def _port_range():
    """The 4000 ports just below the kernel's ephemeral range."""
    low = 32768
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            low = int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        pass
    return max(1024, low - 4001), low - 1


PORT_BASE, PORT_TOP = _port_range()
# Concurrent runs start at different places.
_next_port = PORT_BASE + (os.getpid() * 37) % 2000


def free_port():
    """A port to listen on, below the kernel's ephemeral range: a port from
    that range may become the local port of any outgoing connection (the
    suite makes thousands) between this pick and the gateway's listen()."""
    global _next_port
    for _ in range(PORT_TOP - PORT_BASE + 1):
        port = _next_port
        _next_port = port + 1 if port < PORT_TOP else PORT_BASE
        if port in RESERVED_PORTS:
            continue
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            s.bind(("127.0.0.1", port))
            return port
        except OSError:
            continue
        finally:
            s.close()
    raise SetupError("no free port between %d and %d" % (PORT_BASE, PORT_TOP))


def new_api_key():
    return "rgk_" + secrets.token_urlsafe(32)


def api_key_hash(key):
    return "sha256:" + hashlib.sha256(key.encode()).hexdigest()


# --- a minimal YAML writer: block mappings, flow lists, JSON-quoted scalars ---

def _scalar(v):
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, (int, float)):
        return json.dumps(v)
    return json.dumps(str(v))  # a JSON string is a valid YAML double-quoted scalar


def to_yaml(obj, indent=0):
    lines = []
    pad = " " * indent
    for k, v in obj.items():
        if isinstance(v, dict):
            if not v:
                lines.append("%s%s: {}" % (pad, k))
            else:
                lines.append("%s%s:" % (pad, k))
                lines.append(to_yaml(v, indent + 2))
        elif isinstance(v, list):
            lines.append("%s%s: [%s]" % (pad, k, ", ".join(_scalar(x) for x in v)))
        else:
            lines.append("%s%s: %s" % (pad, k, _scalar(v)))
    return "\n".join(lines)


class Server:
    """One readgate process with its own config directory and ports."""

    def __init__(self, env, name, sites, adapters_dir=None, extra=None):
        self.env = env
        self.name = name
        self.dir = os.path.join(env.tmp, name)
        self.sites_dir = os.path.join(self.dir, "sites")
        os.makedirs(self.sites_dir)
        self.port = free_port()
        self.admin_port = free_port()
        self.log_path = os.path.join(self.dir, "readgate.log")
        self.config_path = os.path.join(self.dir, "readgate.yaml")
        conf = {
            "listen": "127.0.0.1:%d" % self.port,
            "admin_listen": "127.0.0.1:%d" % self.admin_port,
            "loop_threads": 2,
            "workers": 4,
            "sites_dir": self.sites_dir,
            "adapters_dir": adapters_dir or os.path.join(env.build_dir, "adapters"),
            "keys": {"env": "READGATE_KEYS"},
            "state_store": "sqlite:" + os.path.join(self.dir, "state.db"),
            "log_level": "info",
            "limits": {"max_body_bytes": 16384, "timestamp_window_s": 300},
            # The suite sends many requests quickly from one address; the rate
            # limits themselves are tested against gateways of their own
            # (test_ratelimit*.py) with small limits.
            "rate_limits": HIGH_RATE_LIMITS,
        }
        for k, v in (extra or {}).items():  # keys of readgate.yaml to set or replace
            if isinstance(v, dict) and isinstance(conf.get(k), dict):
                conf[k] = dict(conf[k], **v)
            else:
                conf[k] = v
        with open(self.config_path, "w") as f:
            f.write(to_yaml(conf) + "\n")
        for site_id, site in sites.items():
            with open(os.path.join(self.sites_dir, site_id + ".yaml"), "w") as f:
                f.write(to_yaml(site) + "\n")
        self.proc = None
        self.client = rgclient.Client("127.0.0.1", self.port)

    def start(self):
        self.logf = open(self.log_path, "ab")
        env = dict(self.env.proc_env, **getattr(self, "extra_env", {}))
        self.proc = subprocess.Popen([self.env.readgate, "serve", "-c", self.config_path],
                                     stdin=subprocess.DEVNULL, stdout=self.logf,
                                     stderr=subprocess.STDOUT, env=env)
        deadline = time.time() + 20
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise SetupError("readgate (%s) exited with %d at start-up:\n%s"
                                 % (self.name, self.proc.returncode, self.log_tail()))
            try:
                if self.admin_get("/healthz")[0] == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.1)
        self.proc.kill()
        self.proc.wait()
        raise SetupError("readgate (%s) did not answer /healthz within 20 s:\n%s"
                         % (self.name, self.log_tail()))

    def admin_get(self, path):
        """(status, body bytes) of an admin endpoint."""
        try:
            with urllib.request.urlopen("http://127.0.0.1:%d%s" % (self.admin_port, path),
                                        timeout=10) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    def log_text(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def log_tail(self, n=40):
        return "\n".join(self.log_text().splitlines()[-n:])

    def stop(self, timeout=10):
        """SIGTERM; returns (exit code or None if it had to be killed, seconds)."""
        if not self.proc or self.proc.poll() is not None:
            return (self.proc.returncode if self.proc else None), 0.0
        t0 = time.time()
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            rc = None
        self.logf.close()
        return rc, time.time() - t0


class Env:
    def __init__(self):
        self.build_dir = os.environ.get("RG_BUILD_DIR")
        port = os.environ.get("RG_TEST_PG_PORT")
        if not self.build_dir or not port:
            raise SetupError("set RG_BUILD_DIR (the build directory) and RG_TEST_PG_PORT "
                             "(a cluster started with tests/pg.sh start DIR PORT)")
        self.build_dir = os.path.abspath(self.build_dir)
        self.readgate = os.path.join(self.build_dir, "readgate")
        if not os.access(self.readgate, os.X_OK):
            raise SetupError("%s is not an executable" % self.readgate)
        self.pg_port = int(port)
        self.pg_dir = os.environ.get("RG_TEST_PG_DIR")
        self.reader_password = os.environ.get("RG_TEST_PG_READER_PASSWORD", "rg_reader_pw")
        self.tmp = tempfile.mkdtemp(prefix="readgate-http.")
        self.servers = []

        fixture.load(self.pg_port)
        self.sqlite_path = os.path.join(self.tmp, "lite.db")
        fixture.make_sqlite(self.sqlite_path)

        p = subprocess.run([self.readgate, "keys", "generate"], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=30)
        keys = p.stdout.decode().strip()
        if p.returncode != 0 or ":" not in keys:
            raise SetupError("readgate keys generate failed (%d): %s"
                             % (p.returncode, p.stderr.decode(errors="replace")))
        self.proc_env = dict(os.environ, READGATE_KEYS=keys)

        self.api_key = new_api_key()
        self.other_api_key = new_api_key()
        self.lite_api_key = new_api_key()
        self.wrong_api_key = new_api_key()
        self.dsn = "postgresql://rg_reader:%s@127.0.0.1:%d/catalog" % (
            self.reader_password, self.pg_port)

        self.main = Server(self, "main", {
            SITE: self.test_site(), OTHER: self.other_site(), LITE: self.lite_site()})
        self.servers.append(self.main)
        self.main.start()
        self.client = self.main.client

    # -- configuration ----------------------------------------------------------

    def encrypt(self, site, field, value):
        p = subprocess.run([self.readgate, "secret", "encrypt", "--site", site, "--field", field],
                           input=value.encode(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           env=self.proc_env, timeout=30)
        out = p.stdout.decode().strip()
        if p.returncode != 0 or not out.startswith("enc:v1:"):
            raise SetupError("readgate secret encrypt failed (%d): %s"
                             % (p.returncode, p.stderr.decode(errors="replace")))
        return out

    def pg_source(self, site, source, source_keys=None, **options):
        opts = {"dsn": self.encrypt(site, "sources.%s.options.dsn" % source, self.dsn)}
        opts.update(options)
        src = {"adapter": "postgres", "options": opts}
        src.update(source_keys or {})  # the core's own keys: timeout_ms, workers, ...
        return src

    def test_site(self):
        fields = {}
        for name, c in fixture.PRODUCT_FIELDS.items():
            f = {"type": c["type"]}
            for k in ("values", "column", "display", "searchable", "sortable", "filterable"):
                if k in c:
                    f[k] = c[k]
            fields[name] = f
        return {
            "site_id": SITE,
            "allowed_origins": ALLOWED_ORIGINS,
            "allow_localhost": False,
            "api_keys": [api_key_hash(self.api_key)],
            "session_ttl_s": SESSION_TTL,
            "sources": {
                "catalog": self.pg_source(SITE, "catalog", statement_timeout_ms=4000),
                # the same database with a 1 s budget, for the timeout test
                "slowdb": self.pg_source(SITE, "slowdb", {"timeout_ms": 1000}),
            },
            "collections": {
                "products": {
                    "source": "catalog",
                    "target": "public.products",
                    "key": "id",
                    "limit": {"default": 20, "max": 100},
                    "fields": fields,
                },
                "slow": {
                    "source": "slowdb",
                    "target": "public.slow_products",
                    "key": "id",
                    "fields": {
                        "id": {"type": "integer", "display": True, "sortable": True},
                        "name": {"type": "string", "display": True},
                    },
                },
            },
        }

    def other_site(self):
        return {
            "site_id": OTHER,
            "allowed_origins": OTHER_ORIGINS,
            "api_keys": [api_key_hash(self.other_api_key)],
            "sources": {"catalog": self.pg_source(OTHER, "catalog")},
            "collections": {
                "items": {
                    "source": "catalog",
                    "target": "public.other_items",
                    "key": "id",
                    "fields": {
                        "id": {"type": "integer", "display": True, "sortable": True,
                               "filterable": ["eq"]},
                        "title": {"type": "string", "display": True, "searchable": True},
                    },
                },
            },
        }

    def lite_site(self):
        return {
            "site_id": LITE,
            "allowed_origins": ["lite.example.com"],
            "api_keys": [api_key_hash(self.lite_api_key)],
            "sources": {"lite": {"adapter": "sqlite", "options": {"path": self.sqlite_path}}},
            "collections": {
                "items": {
                    "source": "lite",
                    "target": "items",
                    "key": "id",
                    "fields": {
                        "id": {"type": "integer", "display": True, "sortable": True,
                               "filterable": ["eq", "lte"]},
                        "name": {"type": "string", "display": True, "searchable": True},
                        "price": {"type": "number", "display": True, "sortable": True},
                    },
                },
            },
        }

    def wrong_site(self):
        return {
            "site_id": WRONG,
            "allowed_origins": ["wrong.example.com"],
            "api_keys": [api_key_hash(self.wrong_api_key)],
            "sources": {"w": {"adapter": "wrongmajor", "options": {}}},
            "collections": {
                "items": {
                    "source": "w",
                    "target": "items",
                    "key": "id",
                    "fields": {"id": {"type": "integer", "display": True, "sortable": True}},
                },
            },
        }

    # -- helpers for tests ------------------------------------------------------

    def start_server(self, name, sites, adapters_dir=None, extra=None):
        s = Server(self, name, sites, adapters_dir, extra)
        self.servers.append(s)
        return s.start()

    def pg_sh(self, *args):
        p = subprocess.run([PG_SH] + list(args), stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=90)
        if p.returncode != 0:
            raise AssertionError("tests/pg.sh %s failed: %s"
                                 % (" ".join(args), p.stdout.decode(errors="replace")))

    def shutdown(self):
        """Stop every server; returns a list of problems (empty when all exited 0)."""
        problems = []
        for s in self.servers:
            rc, secs = s.stop()
            if rc != 0:
                problems.append("readgate (%s) exit status %s after SIGTERM (%.1f s):\n%s"
                                % (s.name, rc, secs, s.log_tail()))
            elif secs > 5:
                problems.append("readgate (%s) took %.1f s to stop" % (s.name, secs))
        return problems

    def cleanup(self):
        if not os.environ.get("RG_TEST_KEEP_TMP"):
            shutil.rmtree(self.tmp, ignore_errors=True)


_ENV = None


def env():
    global _ENV
    if _ENV is None:
        _ENV = Env()
    return _ENV


def started():
    return _ENV
