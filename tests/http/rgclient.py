"""A small readgate HTTP client for the black-box tests.

Implements the request signature of docs/http-api.md on its own (it shares no
code with the server):

    string_to_sign = "v1\\n" ts "\\n" nonce "\\n" METHOD "\\n" path "\\n" hex(sha256(body))
    X-Readgate-Signature: sha256=<hex HMAC-SHA256(signing_secret bytes, string_to_sign)>

Every knob a negative test needs (timestamp, nonce, signature, dropped or
extra headers, signing a different path, body or method than the one sent)
is a keyword argument of Client.signed().
"""

import hashlib
import hmac
import http.client
import json
import secrets
import time


def string_to_sign(ts, nonce, method, path, body):
    return "v1\n%s\n%s\n%s\n%s\n%s" % (ts, nonce, method, path, hashlib.sha256(body).hexdigest())


def sign(signing_secret, ts, nonce, method, path, body):
    mac = hmac.new(signing_secret.encode(), string_to_sign(ts, nonce, method, path, body).encode(),
                   hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def new_nonce():
    return secrets.token_urlsafe(24)  # 32 characters of [A-Za-z0-9_-]


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers  # list of (name, value)
        self.body = body
        self.elapsed = 0.0
        try:
            self.json = json.loads(body.decode("utf-8")) if body else None
        except (ValueError, UnicodeDecodeError):
            self.json = None

    def header(self, name):
        """The value of a header (the first one), or None."""
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None

    def header_all(self, name):
        return [v for k, v in self.headers if k.lower() == name.lower()]

    @property
    def code(self):
        """error.code of an error body, or None."""
        try:
            return self.json["error"]["code"]
        except (TypeError, KeyError):
            return None

    def __repr__(self):
        return "<Response %d %s>" % (self.status, self.body[:400])


class Session:
    def __init__(self, site, token, secret, raw):
        self.site = site
        self.token = token
        self.secret = secret
        self.raw = raw


class Client:
    def __init__(self, host, port, timeout=30.0):
        self.host = host
        self.port = port
        self.timeout = timeout
        self.retries_429 = 8

    # -- raw HTTP -----------------------------------------------------------

    def request(self, method, path, body=b"", headers=None):
        """One request on a fresh connection; headers is a list of (name, value)."""
        conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        try:
            conn.putrequest(method, path, skip_host=False, skip_accept_encoding=True)
            names = set()
            for k, v in headers or []:
                conn.putheader(k, v)
                names.add(k.lower())
            if body or method in ("POST", "PUT", "PATCH"):
                if "content-length" not in names:
                    conn.putheader("Content-Length", str(len(body)))
            t0 = time.monotonic()
            conn.endheaders(body if body else None)
            resp = conn.getresponse()
            data = resp.read()
            r = Response(resp.status, resp.getheaders(), data)
            # the time of this exchange alone, without waits for rate limits
            r.elapsed = time.monotonic() - t0
            return r
        finally:
            conn.close()

    # -- sessions -------------------------------------------------------------

    def token(self, site, origin=None, api_key=None, body=b"", headers=None):
        h = list(headers or [])
        if origin is not None:
            h.append(("Origin", origin))
        if api_key is not None:
            h.append(("Authorization", "Bearer " + api_key))
        for _ in range(self.retries_429):
            r = self.request("POST", "/v1/%s/token" % site, body, h)
            if not self._wait_if_limited(r):
                return r
        return r

    def session(self, site, origin=None, api_key=None):
        r = self.token(site, origin=origin, api_key=api_key)
        if r.status != 200:
            raise AssertionError("token for %s failed: %r" % (site, r))
        return Session(site, r.json["session_token"], r.json["signing_secret"], r.json)

    # -- signed requests ------------------------------------------------------

    def signed(self, session, method, path, body=b"", *, ts=None, nonce=None, signature=None,
               drop=(), content_type="application/json", origin=None, extra_headers=None,
               sign_method=None, sign_path=None, sign_body=None, token=None, secret=None,
               retry_429=True):
        """Send a signed request. By default everything is correct; each
        keyword replaces one piece for negative tests. `drop` names headers
        (case-insensitive, e.g. "X-Readgate-Nonce") to leave out."""
        if isinstance(body, str):
            body = body.encode("utf-8")
        attempts = self.retries_429 if retry_429 else 1
        for _ in range(attempts):
            t = str(int(time.time())) if ts is None else str(ts)
            n = new_nonce() if nonce is None else nonce
            key = session.secret if secret is None else secret
            sig = signature if signature is not None else sign(
                key, t, n, sign_method or method, sign_path or path,
                body if sign_body is None else sign_body)
            h = [("X-Readgate-Session", session.token if token is None else token),
                 ("X-Readgate-Timestamp", t),
                 ("X-Readgate-Nonce", n),
                 ("X-Readgate-Signature", sig)]
            if content_type is not None and method != "GET" and method != "DELETE":
                h.append(("Content-Type", content_type))
            if origin is not None:
                h.append(("Origin", origin))
            h.extend(extra_headers or [])
            dropped = {d.lower() for d in drop}
            h = [(k, v) for k, v in h if k.lower() not in dropped]
            r = self.request(method, path, body, h)
            # A fixed nonce can't be resent: the retry would be a replay.
            if nonce is not None or not self._wait_if_limited(r):
                return r
        return r

    def query(self, session, body, **kw):
        raw = body if isinstance(body, (bytes, str)) else json.dumps(body).encode()
        return self.signed(session, "POST", "/v1/%s/query" % session.site, raw, **kw)

    def collections(self, session, **kw):
        return self.signed(session, "GET", "/v1/%s/collections" % session.site, b"", **kw)

    def end_session(self, session, **kw):
        return self.signed(session, "DELETE", "/v1/%s/session" % session.site, b"", **kw)

    def query_all(self, session, body, max_pages=1000):
        """Follow next_cursor to the end; returns (rows, pages)."""
        rows, pages = [], []
        body = dict(body)
        for _ in range(max_pages):
            r = self.query(session, body)
            if r.status != 200:
                raise AssertionError("page %d failed: %r" % (len(pages) + 1, r))
            pages.append(r.json["rows"])
            rows.extend(r.json["rows"])
            cur = r.json["next_cursor"]
            if cur is None:
                return rows, pages
            body["cursor"] = cur
        raise AssertionError("paging did not end after %d pages" % max_pages)

    @staticmethod
    def _wait_if_limited(r):
        """Rate limits are not what these tests are about: wait and retry."""
        if r.status != 429:
            return False
        try:
            wait = float(r.header("Retry-After") or "1")
        except ValueError:
            wait = 1.0
        time.sleep(min(max(wait, 0.2), 10.0))
        return True
