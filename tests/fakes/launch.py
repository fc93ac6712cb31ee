"""Starts a fake provider as a process and talks to it, for tests in Python.

    from launch import FakeProcess
    fake = FakeProcess("airtable", "--rate", "100")   # shopify | airtable | google
    status, headers, body = fake.call("POST", "/v0/appRGFakeBase0001/products/listRecords", {...},
                                      {"Authorization": "Bearer " + fake.mint()["access_token"]})
    fake.control("config", {"faults": [{"status": 429}]})
    fake.stop()

The AI providers (openai | retell | elevenlabs | vapi; "openai" is the module
openai_realtime.py) take their keys and agents as options:

    fake = FakeProcess("openai", "--api-key", "sk-test-1")
    fake = FakeProcess("vapi", "--org-id", ORG, "--private-key", KEY, "--assistant", ASSISTANT)

The process listens on a free port of 127.0.0.1 and keeps its state in a
temporary directory that stop() removes.

From a shell, `python3 tests/fakes/launch.py NAME ARGS...` runs the fake NAME
(an alias or a module name) in the foreground with ARGS, e.g.

    python3 tests/fakes/launch.py openai --port 18010 --state /tmp/fake-openai --api-key sk-test-1
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import urllib.error
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
# Short names of fakes whose module is named otherwise.
ALIASES = {"openai": "openai_realtime"}


class FakeProcess:
    """One fake provider process on a free port with its own state directory."""

    def __init__(self, provider, *extra):
        provider = ALIASES.get(provider, provider)
        self.state = tempfile.mkdtemp(prefix="rg-fake-%s-" % provider)
        # stderr goes to a file: a pipe nobody reads could fill up and block the fake.
        self.stderr_path = os.path.join(self.state, "stderr.log")
        with open(self.stderr_path, "w") as err:
            self.proc = subprocess.Popen(
                [sys.executable, os.path.join(HERE, provider + ".py"), "--port", "0", "--state",
                 self.state, *extra], stdout=subprocess.PIPE, stderr=err, text=True)
        line = self.proc.stdout.readline().strip()
        if not line.startswith("ready port="):
            with open(self.stderr_path) as f:
                why = f.read()
            self.stop()
            raise RuntimeError("%s fake did not start: %r %s" % (provider, line, why))
        self.url = "http://127.0.0.1:%s" % line.split("=", 1)[1]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc.stdout.close()
        shutil.rmtree(self.state, ignore_errors=True)

    def call(self, method, path, body=None, headers=None, form=None, raw=None):
        """(status, headers, parsed JSON or text)."""
        headers = dict(headers or {})
        data = None
        if form is not None:
            data = urllib.parse.urlencode(form).encode()
            headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
        elif raw is not None:
            data = raw if isinstance(raw, bytes) else raw.encode()
        elif body is not None:
            data = json.dumps(body).encode()
            headers.setdefault("Content-Type", "application/json")
        req = urllib.request.Request(self.url + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=20) as resp:
                status, hdrs, payload = resp.status, dict(resp.headers), resp.read()
        except urllib.error.HTTPError as e:
            status, hdrs, payload = e.code, dict(e.headers), e.read()
        text = payload.decode("utf-8")
        try:
            return status, hdrs, json.loads(text)
        except ValueError:
            return status, hdrs, text

    def control(self, path, body=None):
        status, _, out = self.call("POST" if body is not None else "GET", "/_fake/" + path, body)
        if status != 200:
            raise AssertionError("control %s: %s %s" % (path, status, out))
        return out

    def mint(self, **kw):
        return self.control("tokens", kw)


if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1].startswith("-"):
        sys.exit("usage: launch.py NAME [--port P --state DIR ...]; NAME: %s or a module of %s"
                 % (", ".join(sorted(ALIASES)), HERE))
    module = os.path.join(HERE, ALIASES.get(sys.argv[1], sys.argv[1]) + ".py")
    if not os.path.isfile(module):
        sys.exit("launch.py: no fake named %r" % sys.argv[1])
    os.execv(sys.executable, [sys.executable, module] + sys.argv[2:])
