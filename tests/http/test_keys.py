"""Master keys and stored secrets (docs/configuration.md, "Secrets and master keys"): rotation while serving, the audit
log of every decrypt, no secret or query value in any log, and a refusal to
start (or to reload) with a key file or ciphertext that is wrong."""

import os
import re
import signal
import subprocess
import threading
import time
import unittest

import harness

SITE = "rotsite0001"
ORIGIN = "rot.example.com"
# A value sent in queries: it must never appear in a log.
PROBE = "Zqx7-probe-value"


def key_line(env, kid):
    p = subprocess.run([env.readgate, "keys", "generate", "--kid", kid], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=30, check=True)
    line = p.stdout.decode().strip()
    assert line.startswith(kid + ":"), line
    return line


def write_keys(path, *lines):
    fd = os.open(path + ".new", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write("\n".join(lines) + "\n")
    os.replace(path + ".new", path)


def encrypt(env, keys, site, field, value):
    p = subprocess.run([env.readgate, "secret", "encrypt", "--site", site, "--field", field],
                       input=value.encode(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       env=dict(env.proc_env, READGATE_KEYS=keys), timeout=30)
    out = p.stdout.decode().strip()
    assert p.returncode == 0 and out.startswith("enc:v1:"), p.stderr
    return out


def site_config(dsn_value, extra_options=None):
    opts = {"dsn": dsn_value}
    opts.update(extra_options or {})
    return {
        "site_id": SITE,
        "allowed_origins": [ORIGIN],
        "sources": {"catalog": {"adapter": "postgres", "options": opts}},
        "collections": {
            "products": {
                "source": "catalog",
                "target": "public.products",
                "key": "id",
                "fields": {
                    "id": {"type": "integer", "display": True, "sortable": True,
                           "filterable": ["eq", "lte"]},
                    "name": {"type": "string", "display": True, "searchable": True},
                },
            },
        },
    }


class KeyServer(harness.Server):
    """A server whose master keys come from a 0600 key file and whose audit
    lines go to their own file."""

    def __init__(self, env, name, sites, keyfile_lines):
        super().__init__(env, name, sites)
        self.keyfile = os.path.join(self.dir, "master.keys")
        self.audit_path = os.path.join(self.dir, "audit.log")
        write_keys(self.keyfile, *keyfile_lines)
        with open(self.config_path) as f:
            conf = f.read()
        conf = conf.replace('  env: "READGATE_KEYS"', '  file: "%s"' % self.keyfile)
        assert self.keyfile in conf, conf
        conf += 'audit_log: "%s"\n' % self.audit_path
        with open(self.config_path, "w") as f:
            f.write(conf)
        self.site_path = os.path.join(self.sites_dir, SITE + ".yaml")

    def reload(self):
        """SIGHUP, then wait for the log to say how it went; returns True when
        the new configuration was taken."""
        before = self.log_text().count("SIGHUP: reloading")
        self.proc.send_signal(signal.SIGHUP)
        deadline = time.time() + 20
        while time.time() < deadline:
            text = self.log_text()
            tail = text.split("SIGHUP: reloading")
            if len(tail) - 1 > before:
                last = tail[-1]
                if "configuration reloaded" in last:
                    return True
                if "reload failed" in last:
                    return False
            time.sleep(0.05)
        raise AssertionError("no reload outcome in the log:\n" + self.log_tail())

    def audit(self):
        try:
            with open(self.audit_path) as f:
                return [line for line in f.read().splitlines() if line]
        except OSError:
            return []


class RotationTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.env = harness.env()
        cls.k1 = key_line(cls.env, "k1")
        cls.k2 = key_line(cls.env, "k2")

    def start(self, name):
        enc = encrypt(self.env, self.k1, SITE, "sources.catalog.options.dsn", self.env.dsn)
        srv = KeyServer(self.env, name, {SITE: site_config(enc)}, [self.k1])
        with open(srv.site_path, "a") as f:
            f.write("# the shop's catalog; this comment must survive rotation\n")
        self.env.servers.append(srv)
        return srv.start()

    def rotate(self, srv, kid):
        return subprocess.run([self.env.readgate, "keys", "rotate", "--to", kid, "-c",
                               srv.config_path], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              timeout=60, env=self.env.proc_env)

    def q(self, srv, session, value=3):
        return srv.client.query(session, {"collection": "products", "limit": 2, "filters": [
            {"field": "id", "op": "lte", "value": value}]})

    def test_rotate_while_serving(self):
        srv = self.start("rotate")
        c = srv.client
        s1 = c.session(SITE, origin="https://" + ORIGIN)
        self.assertEqual(self.q(srv, s1).status, 200)

        # Load while everything below happens: no request may fail.
        stop = threading.Event()
        failures, served = [], [0]

        def load():
            s = c.session(SITE, origin="https://" + ORIGIN)
            while not stop.is_set():
                r = self.q(srv, s)
                served[0] += 1
                if r.status != 200:
                    failures.append(r)

        t = threading.Thread(target=load)
        t.start()
        try:
            # 1. k2 becomes the primary key; k1 stays to open what it made.
            write_keys(srv.keyfile, self.k2, self.k1)
            self.assertTrue(srv.reload(), srv.log_tail())
            s2 = c.session(SITE, origin="https://" + ORIGIN)
            self.assertEqual(self.q(srv, s1).status, 200, "a k1 session must outlive the switch")
            self.assertEqual(self.q(srv, s2).status, 200)

            # 2. Re-encrypt the stored secrets under k2, while serving.
            p = self.rotate(srv, "k2")
            self.assertEqual(p.returncode, 0, p.stderr.decode())
            self.assertIn("1 value re-encrypted under k2", p.stdout.decode())
            with open(srv.site_path) as f:
                text = f.read()
            self.assertIn("enc:v1:k2:", text)
            self.assertNotIn("enc:v1:k1:", text)
            self.assertIn("# the shop's catalog; this comment must survive rotation", text)
            self.assertEqual(os.stat(srv.site_path).st_mode & 0o777, 0o644)
            leftovers = [n for n in os.listdir(srv.sites_dir) if n.startswith(".")]
            self.assertEqual(leftovers, [], "temporary files left behind")
            self.assertTrue(srv.reload(), srv.log_tail())
            self.assertEqual(self.q(srv, s1).status, 200)
            self.assertEqual(self.q(srv, s2).status, 200)

            # Running it again changes nothing.
            p = self.rotate(srv, "k2")
            self.assertEqual(p.returncode, 0, p.stderr.decode())
            self.assertIn("0 values re-encrypted", p.stdout.decode())
        finally:
            stop.set()
            t.join(30)
        self.assertGreater(served[0], 0)
        self.assertEqual(failures, [], "requests failed during rotation")

        # 3. Retire k1: its sessions end, everything else goes on, also where
        #    the k1 session was just verified (each loop remembers the
        #    sessions it verified, until the next reload).
        for _ in range(6):
            self.assertEqual(self.q(srv, s1).status, 200)
        write_keys(srv.keyfile, self.k2)
        self.assertTrue(srv.reload(), srv.log_tail())
        r = self.q(srv, s1)
        self.assertEqual(r.status, 401, r)
        self.assertEqual(self.q(srv, s2).status, 200)
        s3 = c.session(SITE, origin="https://" + ORIGIN)
        self.assertEqual(self.q(srv, s3).status, 200)

        # Every decrypt was audited: site, field, key id, purpose — no value.
        audit = srv.audit()
        self.assertTrue(audit)
        import json
        events = [json.loads(line) for line in audit]
        for e in events:
            self.assertEqual(set(e), {"time", "event", "site", "field", "kid", "purpose", "ok"}, e)
            self.assertEqual(e["site"], SITE)
            self.assertEqual(e["field"], "sources.catalog.options.dsn")
            self.assertRegex(e["time"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
        seen = {(e["purpose"], e["kid"], e["ok"]) for e in events}
        for want in [("verify", "k1", True), ("connect", "k1", True), ("rotate", "k1", True),
                     ("verify", "k2", True), ("connect", "k2", True)]:
            self.assertIn(want, seen)

    def test_no_secret_or_value_in_logs(self):
        srv = self.start("nolog")
        c = srv.client
        s = c.session(SITE, origin="https://" + ORIGIN)
        for body in ({"collection": "products", "search": PROBE},
                     {"collection": "products", "filters": [
                         {"field": "id", "op": "eq", "value": 987654321}]},
                     {"collection": "products", "filters": [
                         {"field": "name", "op": "eq", "value": PROBE}]}):
            r = c.query(s, body)
            self.assertIn(r.status, (200, 400), r)
        self.assertEqual(srv.reload(), True)
        self.assertEqual(self.q(srv, s).status, 200)
        logs = srv.log_text() + "\n".join(srv.audit())
        self.assertIn("catalog", logs)  # the logs are not empty: they carry structure
        for secret in (self.env.reader_password, self.env.dsn, PROBE, "987654321",
                       self.k1.split(":", 1)[1]):
            self.assertNotIn(secret, logs)


class RefusalTest(unittest.TestCase):
    """A broken key file or ciphertext stops the server at start-up, naming
    the field, and a reload with one keeps the running configuration."""

    @classmethod
    def setUpClass(cls):
        cls.env = harness.env()
        cls.k1 = key_line(cls.env, "k1")
        cls.k9 = key_line(cls.env, "k9")

    def refused(self, name, dsn_value, keyfile_mode=0o600, extra_options=None):
        srv = KeyServer(self.env, name, {SITE: site_config(dsn_value, extra_options)}, [self.k1])
        os.chmod(srv.keyfile, keyfile_mode)
        p = subprocess.run([self.env.readgate, "serve", "-c", srv.config_path],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60,
                           env=self.env.proc_env)
        out = p.stdout.decode(errors="replace")
        self.assertNotEqual(p.returncode, 0, out)
        self.assertNotIn("listening on", out)
        chk = subprocess.run([self.env.readgate, "check", "-c", srv.config_path],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60,
                             env=self.env.proc_env)
        self.assertEqual(chk.returncode, 1, chk.stdout.decode())
        return out, chk.stdout.decode(), srv

    def good(self):
        return encrypt(self.env, self.k1, SITE, "sources.catalog.options.dsn", self.env.dsn)

    def test_key_file_mode(self):
        out, chk, srv = self.refused("mode", self.good(), keyfile_mode=0o644)
        for text in (out, chk):
            self.assertIn("has mode 0644; it must be 0600", text)
            self.assertIn(srv.keyfile, text)

    def test_unknown_key_id(self):
        enc = encrypt(self.env, self.k9, SITE, "sources.catalog.options.dsn", self.env.dsn)
        out, chk, srv = self.refused("kid", enc)
        want = re.compile(re.escape(srv.site_path) + r":\d+: sources\.catalog\.options\.dsn: "
                          r"cannot decrypt: unknown key id 'k9'")
        self.assertRegex(out, want)
        self.assertRegex(chk, want)

    def test_truncated_ciphertext(self):
        out, chk, srv = self.refused("trunc", self.good()[:-10])
        want = re.compile(re.escape(srv.site_path) + r":\d+: sources\.catalog\.options\.dsn: "
                          r"cannot decrypt: malformed")
        self.assertRegex(out, want)
        self.assertRegex(chk, want)

    def test_value_moved_from_another_field(self):
        moved = encrypt(self.env, self.k1, SITE, "sources.catalog.options.application_name",
                        self.env.dsn)
        out, chk, srv = self.refused("aad", moved)
        want = re.compile(re.escape(srv.site_path) + r":\d+: sources\.catalog\.options\.dsn: "
                          r"cannot decrypt: authentication failed")
        self.assertRegex(out, want)
        self.assertRegex(chk, want)
        self.assertNotIn(self.env.reader_password, out + chk)

    def test_value_moved_from_another_site(self):
        moved = encrypt(self.env, self.k1, "othersite0001", "sources.catalog.options.dsn",
                        self.env.dsn)
        out, chk, _ = self.refused("aadsite", moved)
        self.assertIn("authentication failed", out)

    def test_reload_keeps_the_running_configuration(self):
        srv = KeyServer(self.env, "reloadbad", {SITE: site_config(self.good())}, [self.k1])
        self.env.servers.append(srv)
        srv.start()
        s = srv.client.session(SITE, origin="https://" + ORIGIN)
        q = {"collection": "products", "limit": 1}
        self.assertEqual(srv.client.query(s, q).status, 200)
        with open(srv.site_path) as f:
            text = f.read()
        enc = re.search(r'enc:v1:[^"]+', text).group(0)
        with open(srv.site_path, "w") as f:
            f.write(text.replace(enc, enc[:-8]))
        self.assertFalse(srv.reload())
        self.assertIn("cannot decrypt: malformed", srv.log_text())
        self.assertEqual(srv.client.query(s, q).status, 200)
        # Fixed again: the next reload is taken.
        with open(srv.site_path, "w") as f:
            f.write(text)
        self.assertTrue(srv.reload())
        self.assertEqual(srv.client.query(s, q).status, 200)
