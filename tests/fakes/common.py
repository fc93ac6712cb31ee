"""Machinery shared by the fake SaaS providers (Shopify, Airtable, Google, and
the AI providers readgate mints browser credentials from: OpenAI Realtime,
Retell, ElevenLabs, Vapi).

Each fake is one process on 127.0.0.1 serving a provider's documented API
shapes (the data fakes from the conformance catalog), plus a control API
under /_fake/ that belongs to no provider:

  GET  /_fake/requests[?since=N]  every provider request, secrets hashed
  POST /_fake/reset               forget requests, logs, faults, tokens, throttles
  GET  /_fake/config              the current knobs
  POST /_fake/config              script faults, token expiry, throttle limits
  POST /_fake/tokens              mint a token pair (for `readgate oauth import`)
  GET  /_fake/refresh-log         each refresh token presented, in order
  GET  /_fake/grants              each grant and whether it was revoked (and why)

Python standard library only. One lock guards all state; handlers run on the
threads of a ThreadingHTTPServer. Scripted delays sleep outside the lock, so
the control API answers while a slowed call sleeps.

The AI fakes build on KeyedProvider: static API keys instead of OAuth, known
agent ids, an optional per-key rate limit, and each answer in the request log.
"""

import argparse
import base64
import copy
import hashlib
import hmac
import json
import math
import os
import re
import signal
import sys
import threading
import time
import traceback
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
DEFAULT_DATA = os.path.join(REPO, "conformance", "fixtures", "products.json")

# The fixture columns in collection order; `brand` lives in column "Brand Name"
# (conformance/collection.json).
COLUMNS = ["id", "name", "Brand Name", "description", "category", "price", "stock",
           "in_stock", "released", "updated_at"]
FIXTURE_KEY = {"Brand Name": "brand"}

# Never written to the request log in clear.
SECRET_HEADERS = {"authorization", "proxy-authorization", "cookie", "x-shopify-access-token",
                  "x-shopify-storefront-access-token", "shopify-storefront-private-token",
                  "x-goog-api-key", "x-api-key", "xi-api-key"}
SECRET_FIELDS = {"client_secret", "refresh_token", "access_token", "code", "assertion", "token",
                 "password", "client_assertion"}
# Credentials in a logged answer (KeyedProvider.log_responses): OpenAI's
# client secret `value`, Retell's `access_token`, ElevenLabs' `token` and
# `signed_url`. Top-level fields only.
RESPONSE_SECRET_FIELDS = {"value", "token", "access_token", "refresh_token", "signed_url",
                          "client_secret"}


def secret_digest(value):
    """How a secret appears in the logs: a sha256 prefix, stable across runs."""
    if isinstance(value, str):
        value = value.encode("utf-8", "surrogatepass")
    return "sha256:" + hashlib.sha256(value).hexdigest()[:16]


def b64url(data):
    """Base64url without padding (JWT segments)."""
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def b64url_decode(text):
    """Raises ValueError on anything that is not base64url."""
    if not isinstance(text, str) or not re.fullmatch(r"[A-Za-z0-9_-]*", text) or len(text) % 4 == 1:
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def jwt_hs256(payload, key):
    """A compact JWS with HS256 over the JSON payload."""
    signing = b64url(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode()) + "." + \
        b64url(json.dumps(payload, separators=(",", ":")).encode())
    mac = hmac.new(key.encode("utf-8") if isinstance(key, str) else key, signing.encode("ascii"),
                   hashlib.sha256).digest()
    return signing + "." + b64url(mac)


def load_rows(path):
    """The catalog as {column: value}; a key absent from the fixture object and
    null both become None (conformance/README.md: both behave as NULL)."""
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    rows = []
    for obj in data:
        rows.append({col: obj.get(FIXTURE_KEY.get(col, col)) for col in COLUMNS})
    return rows


# --------------------------------------------------------------------------
# Requests and responses

class BadRequest(Exception):
    """A body the fake cannot read; each provider maps it to its own 400."""


class Request:
    def __init__(self, method, raw_path, headers, body):
        self.method = method
        self.raw_path = raw_path
        split = urllib.parse.urlsplit(raw_path)
        # Paths are matched decoded: clients may send ':' or '!' as %3A / %21.
        self.path = urllib.parse.unquote(split.path)
        self.query = urllib.parse.parse_qs(split.query, keep_blank_values=True)
        self.headers = headers
        self.body = body
        self._json = None

    def header(self, name, default=None):
        return self.headers.get(name, default)

    def arg(self, name, default=None):
        v = self.query.get(name)
        return v[-1] if v else default

    def json(self):
        if self._json is None:
            try:
                self._json = json.loads(self.body.decode("utf-8")) if self.body else None
            except (UnicodeDecodeError, ValueError) as e:
                raise BadRequest("request body is not valid JSON: %s" % e)
        return self._json

    def form(self):
        """A form-encoded body (or a JSON object, which some clients send to
        token endpoints) as {name: last value}."""
        ctype = (self.header("Content-Type") or "").split(";")[0].strip().lower()
        if ctype == "application/json":
            obj = self.json()
            if not isinstance(obj, dict):
                raise BadRequest("JSON body must be an object")
            return {k: v if isinstance(v, str) else json.dumps(v) for k, v in obj.items()}
        try:
            text = self.body.decode("utf-8")
        except UnicodeDecodeError:
            raise BadRequest("form body is not UTF-8")
        return {k: v[-1] for k, v in urllib.parse.parse_qs(text, keep_blank_values=True).items()}

    def bearer(self):
        auth = self.header("Authorization") or ""
        if auth[:7].lower() == "bearer ":
            return auth[7:].strip()
        return None

    def basic(self):
        """(user, password) from HTTP Basic, or None."""
        auth = self.header("Authorization") or ""
        if auth[:6].lower() != "basic ":
            return None
        try:
            raw = base64.b64decode(auth[6:].strip(), validate=True).decode("utf-8")
        except (ValueError, UnicodeDecodeError):
            return None
        user, sep, pw = raw.partition(":")
        if not sep:
            return None
        return urllib.parse.unquote(user), urllib.parse.unquote(pw)


class Response:
    def __init__(self, status, body=b"", headers=None, content_type="application/json; charset=utf-8"):
        self.status = status
        self.body = body if isinstance(body, bytes) else body.encode("utf-8")
        self.headers = dict(headers or {})
        if content_type and "Content-Type" not in self.headers:
            self.headers["Content-Type"] = content_type


def json_response(status, obj, headers=None):
    return Response(status, json.dumps(obj, ensure_ascii=False).encode("utf-8"), headers)


def redact_headers(headers):
    out = {}
    for name, value in headers.items():
        if name.lower() in SECRET_HEADERS:
            scheme, sep, rest = value.partition(" ")
            if sep and scheme.lower() in ("bearer", "basic"):
                value = scheme + " " + secret_digest(rest.strip())
            else:
                value = secret_digest(value)
        out[name] = value
    return out


def redact_body(req):
    """The body as text with secret form/JSON fields hashed. Other bodies (a
    formula, a GraphQL query) are kept byte for byte so tests can assert the
    exact string sent."""
    text = req.body.decode("utf-8", "replace")
    ctype = (req.header("Content-Type") or "").split(";")[0].strip().lower()
    if ctype == "application/x-www-form-urlencoded":
        pairs = urllib.parse.parse_qsl(text, keep_blank_values=True)
        if any(k in SECRET_FIELDS for k, _ in pairs):
            return urllib.parse.urlencode(
                [(k, secret_digest(v) if k in SECRET_FIELDS else v) for k, v in pairs])
    elif ctype == "application/json":
        try:
            obj = json.loads(text)
        except ValueError:
            return text
        if isinstance(obj, dict) and any(k in SECRET_FIELDS for k in obj):
            return json.dumps({k: secret_digest(str(v)) if k in SECRET_FIELDS else v
                               for k, v in obj.items()}, ensure_ascii=False)
    return text


def redact_response(resp):
    """A JSON answer as an object with its top-level credentials hashed, or None."""
    if not (resp.headers.get("Content-Type") or "").startswith("application/json"):
        return None
    try:
        obj = json.loads(resp.body.decode("utf-8"))
    except ValueError:
        return None
    if isinstance(obj, dict):
        obj = {k: secret_digest(v) if k in RESPONSE_SECRET_FIELDS and isinstance(v, str) else v
               for k, v in obj.items()}
    return obj


def parsed_json(text):
    """A logged body parsed as JSON, or None when it is empty or not JSON."""
    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None


def redact_query(query):
    return {k: [secret_digest(v) for v in vs] if k in SECRET_FIELDS else vs
            for k, vs in query.items()}


# --------------------------------------------------------------------------
# Scripted faults

class FaultQueue:
    """Rules from POST /_fake/config {"faults": [...]}, consumed in order.

    A rule: {"status": 401|429|500|503|..., "delay_s": S, "count": N (default 1),
    "scope": "api" (default) | "oauth" | "any", "path_prefix": "/v0/...",
    "kind": provider-specific variant (e.g. Shopify "throttled"),
    "body": exact body to send instead of the provider's documented one,
    "headers": {name: value} added to (or replacing those of) the answer,
    "delay_after_s": S}. A rule with only delay_s delays the next N calls, which
    then run normally; delay_after_s runs the call (a token endpoint rotates)
    and holds the answer S seconds, so a client can die before reading it."""

    def __init__(self):
        self.rules = []

    @staticmethod
    def validate(rule):
        if not isinstance(rule, dict):
            raise ValueError("a fault must be an object")
        known = {"status", "delay_s", "delay_after_s", "count", "scope", "path_prefix", "kind", "body",
                 "headers"}
        unknown = set(rule) - known
        if unknown:
            raise ValueError("unknown fault key(s) %s; known: %s" % (sorted(unknown), sorted(known)))
        if not {"status", "kind", "delay_s", "delay_after_s"} & set(rule):
            raise ValueError("a fault needs status, kind, delay_s or delay_after_s")
        for k in ("delay_s", "delay_after_s"):
            if k in rule and (not isinstance(rule[k], (int, float)) or rule[k] < 0):
                raise ValueError("%s must be a non-negative number of seconds" % k)
        if rule.get("scope", "api") not in ("api", "oauth", "any"):
            raise ValueError("fault scope must be api, oauth or any")
        headers = rule.get("headers", {})
        if not isinstance(headers, dict) or not all(isinstance(v, str) for v in headers.values()):
            raise ValueError("fault headers must be an object of strings")
        if "status" in rule and (not isinstance(rule["status"], int) or isinstance(rule["status"], bool)
                                 or not 100 <= rule["status"] <= 599):
            raise ValueError("fault status must be an HTTP status code")
        count = rule.get("count", 1)
        if not isinstance(count, int) or count < 1:
            raise ValueError("fault count must be a positive integer")
        return dict(rule, count=count)

    def add(self, rules):
        self.rules.extend(self.validate(r) for r in rules)

    def take(self, scope, path):
        for rule in self.rules:
            if rule.get("scope", "api") not in (scope, "any"):
                continue
            if not path.startswith(rule.get("path_prefix", "")):
                continue
            rule["count"] -= 1
            if rule["count"] <= 0:
                self.rules.remove(rule)
            return rule
        return None


# --------------------------------------------------------------------------
# OAuth tokens

class OAuthError(Exception):
    def __init__(self, error, description, status=400):
        super().__init__(description)
        self.error = error
        self.description = description
        self.status = status


class TokenStore:
    """Grants, access tokens and refresh tokens, with the three rotation
    policies the providers document:

      "always" (Airtable): every refresh returns a new refresh token; the old
               one is spent, and presenting a spent one revokes the whole grant.
      "grace"  (Shopify expiring offline tokens): every refresh returns a new
               refresh token; the previous one may be retried (the same
               replacement comes back with a fresh access token) until the
               replacement itself is used, then it is retired.
      "none"   (Google): the refresh token is never rotated.

    Token values are deterministic (HMAC of a seed and a counter) so runs are
    reproducible. The store is persisted to STATE/tokens.json."""

    def __init__(self, seed, prefixes, path=None):
        self.seed = seed.encode("utf-8")
        self.prefixes = prefixes  # {"access": "...", "refresh": "..."}
        self.path = path
        self.clear()
        self.load()

    def clear(self):
        self.counter = 0
        self.grants = {}
        self.access = {}
        self.refresh = {}
        self.log = []

    # -- persistence
    def load(self):
        if not self.path or not os.path.exists(self.path):
            return
        with open(self.path, encoding="utf-8") as f:
            snap = json.load(f)
        self.counter = snap["counter"]
        self.grants, self.access, self.refresh = snap["grants"], snap["access"], snap["refresh"]
        self.log = snap.get("refresh_log", [])

    def save(self):
        if not self.path:
            return
        tmp = self.path + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump({"counter": self.counter, "grants": self.grants, "access": self.access,
                       "refresh": self.refresh, "refresh_log": self.log}, f)
        os.replace(tmp, self.path)

    # -- issuing
    def _value(self, kind):
        self.counter += 1
        mac = hmac.new(self.seed, ("%s:%d" % (kind, self.counter)).encode(), hashlib.sha256)
        return self.prefixes[kind] + mac.hexdigest()[:40]

    def new_grant(self, client_id, scope, subject=None):
        gid = "grant-%d" % (len(self.grants) + 1)
        self.grants[gid] = {"id": gid, "client_id": client_id, "scope": scope,
                            "subject": subject or gid, "created": time.time(),
                            "revoked": False, "revoked_reason": None}
        return gid

    def issue_access(self, gid, ttl):
        tok = self._value("access")
        self.access[tok] = {"grant": gid, "expires_at": None if ttl is None else time.time() + ttl,
                            "revoked": False}
        return tok

    def issue_refresh(self, gid, ttl):
        tok = self._value("refresh")
        self.refresh[tok] = {"grant": gid, "state": "active", "replaced_by": None,
                             "used_at": None,
                             "expires_at": None if ttl is None else time.time() + ttl}
        return tok

    def mint(self, client_id, scope, access_ttl, refresh_ttl, with_refresh=True, subject=None):
        gid = self.new_grant(client_id, scope, subject)
        out = {"grant": gid, "access_token": self.issue_access(gid, access_ttl)}
        if with_refresh:
            out["refresh_token"] = self.issue_refresh(gid, refresh_ttl)
        self.save()
        return out

    # -- checking
    def check_access(self, token):
        """(grant, None) for a usable access token, else (None, reason)."""
        if not token:
            return None, "missing"
        entry = self.access.get(token)
        if entry is None:
            return None, "unknown"
        grant = self.grants[entry["grant"]]
        if entry["revoked"] or grant["revoked"]:
            return None, "revoked"
        if entry["expires_at"] is not None and time.time() >= entry["expires_at"]:
            return None, "expired"
        return grant, None

    def grant_of(self, token):
        entry = self.access.get(token) or self.refresh.get(token)
        return self.grants[entry["grant"]] if entry else None

    # -- refreshing
    def refresh_grant(self, token, client_id, rotation, access_ttl, refresh_ttl):
        """Exchanges a refresh token. Returns {"access_token", ["refresh_token"], "grant"}
        or raises OAuthError("invalid_grant", ...). Every presentation is logged."""
        entry = self.refresh.get(token)
        rec = {"seq": len(self.log) + 1, "time": time.time(), "refresh_token": secret_digest(token),
               "client_id": client_id, "grant": entry["grant"] if entry else None}
        try:
            out = self._refresh(entry, token, client_id, rotation, access_ttl, refresh_ttl)
            rec["result"] = "ok"
            if "refresh_token" in out and out["refresh_token"] != token:
                rec["new_refresh_token"] = secret_digest(out["refresh_token"])
            return out
        except OAuthError as e:
            rec["result"] = e.error
            rec["reason"] = e.description
            raise
        finally:
            self.log.append(rec)
            self.save()

    def _refresh(self, entry, token, client_id, rotation, access_ttl, refresh_ttl):
        if entry is None:
            raise OAuthError("invalid_grant", "unknown refresh token")
        grant = self.grants[entry["grant"]]
        if grant["revoked"]:
            raise OAuthError("invalid_grant", "the grant was revoked (%s)" % grant["revoked_reason"])
        if grant["client_id"] != client_id:
            raise OAuthError("invalid_grant", "refresh token was issued to another client")
        if entry["expires_at"] is not None and time.time() >= entry["expires_at"]:
            raise OAuthError("invalid_grant", "refresh token expired")
        state = entry["state"]
        if state in ("retired", "revoked"):
            raise OAuthError("invalid_grant", "refresh token is no longer valid (%s)" % state)
        gid = entry["grant"]
        if rotation == "none":
            entry["used_at"] = entry["used_at"] or time.time()
            return {"grant": gid, "access_token": self.issue_access(gid, access_ttl)}
        if state == "active":
            entry["state"] = "used"
            entry["used_at"] = time.time()
            new = self.issue_refresh(gid, refresh_ttl)
            entry["replaced_by"] = new
            if rotation == "grace":
                # Using a replacement retires the token it replaced (Shopify: "When
                # an app uses the replacement refresh token, the preceding refresh
                # token is retired").
                for other in self.refresh.values():
                    if other["replaced_by"] == token and other["state"] == "used":
                        other["state"] = "retired"
            return {"grant": gid, "access_token": self.issue_access(gid, access_ttl),
                    "refresh_token": new}
        # state == "used": presented again before its replacement was used.
        if rotation == "grace":
            return {"grant": gid, "access_token": self.issue_access(gid, access_ttl),
                    "refresh_token": entry["replaced_by"]}
        if rotation == "always-revoke":
            self.revoke_grant(gid, "refresh token reused")
            raise OAuthError("invalid_grant", "refresh token reused; the grant is revoked")
        raise OAuthError("invalid_grant", "refresh token already used")

    # -- revoking
    def revoke_grant(self, gid, reason):
        g = self.grants.get(gid)
        if g and not g["revoked"]:
            g["revoked"] = True
            g["revoked_reason"] = reason
        self.save()

    def revoke_token(self, token, reason="revoked by client"):
        """Revokes the grant behind an access or refresh token; False if unknown
        or already revoked."""
        entry = self.access.get(token) or self.refresh.get(token)
        if entry is None or self.grants[entry["grant"]]["revoked"]:
            return False
        self.revoke_grant(entry["grant"], reason)
        return True

    def expire_access(self, in_s):
        at = time.time() + in_s
        for e in self.access.values():
            if e["expires_at"] is None or e["expires_at"] > at:
                e["expires_at"] = at
        self.save()

    def invalidate_refresh(self, token):
        entry = self.refresh.get(token)
        if entry is None:
            raise ValueError("unknown refresh token %s" % secret_digest(token))
        entry["state"] = "revoked"
        self.save()

    def grants_view(self):
        out = []
        for g in self.grants.values():
            rts = [t for t, e in self.refresh.items() if e["grant"] == g["id"]]
            out.append(dict(g, refresh_tokens=[{"token": secret_digest(t), "state": self.refresh[t]["state"]}
                                               for t in rts],
                            access_tokens=sum(1 for e in self.access.values() if e["grant"] == g["id"])))
        return out


# --------------------------------------------------------------------------
# The server skeleton every provider fills in

class Route:
    """A provider endpoint; scope "api" or "oauth" selects which scripted faults apply."""

    def __init__(self, method, pattern, handler, scope="api"):
        self.method = method
        self.regex = re.compile(pattern + r"\Z")
        self.handler = handler
        self.scope = scope


class FakeProvider:
    """Subclasses set `name` and `token_prefixes`, and implement
    routes(), fault_response(), and optionally default_config(),
    apply_config_key(), reset_provider(), mint_extra()."""

    name = "fake"
    token_prefixes = {"access": "at_", "refresh": "rt_"}

    def __init__(self, args):
        self.args = args
        self.lock = threading.RLock()
        self.state_dir = os.path.abspath(args.state)
        os.makedirs(self.state_dir, exist_ok=True)
        self.rows = load_rows(args.data)
        self.tokens = TokenStore(args.seed, self.token_prefixes,
                                 os.path.join(self.state_dir, "tokens.json"))
        self.faults = FaultQueue()
        self.requests = []
        self.requests_path = os.path.join(self.state_dir, "requests.jsonl")
        # One append handle for the life of the process (reset() truncates the
        # file through another handle; O_APPEND writes land at the new end).
        self.requests_file = None
        self.base_url = None
        self.startup_config = self.default_config()
        self.config = copy.deepcopy(self.startup_config)
        self.route_table = self.routes()

    # -- to override
    def default_config(self):
        return {"access_token_ttl_s": self.args.access_ttl, "refresh_token_ttl_s": None}

    def routes(self):
        return []

    def fault_response(self, status, rule, req):
        return json_response(status, {"error": "fault %d" % status})

    def not_found(self, req):
        return json_response(404, {"error": "not found"})

    def reset_provider(self):
        pass

    def apply_config_key(self, key, value, config, dry_run):
        """Checks (dry_run) or applies a provider-specific config key to the
        config dict; returns False if the key is unknown, raises ValueError if
        the value is wrong."""
        return False

    def mint_extra(self, body, out):
        """Adds provider-specific fields to the body of POST /_fake/tokens."""

    # -- dispatch
    def dispatch(self, req):
        arrived = time.time()
        if req.path.startswith("/_fake/"):
            with self.lock:
                return self.control(req)
        route = None
        for r in self.route_table:
            m = r.regex.match(req.path)
            if m and r.method == req.method:
                route, match = r, m
                break
        with self.lock:
            rule = self.faults.take(route.scope if route else "api", req.path)
        if rule and rule.get("delay_s"):
            time.sleep(float(rule["delay_s"]))
        try:
            with self.lock:
                if rule and ("status" in rule or "kind" in rule):
                    if "body" in rule:
                        body = rule["body"]
                        resp = Response(rule.get("status", 200),
                                        body if isinstance(body, str) else json.dumps(body),
                                        rule.get("headers"))
                    else:
                        resp = self.fault_response(rule.get("status"), rule, req)
                        resp.headers.update(rule.get("headers") or {})
                elif route is None:
                    resp = self.not_found(req)
                else:
                    resp = route.handler(req, **match.groupdict())
        except BadRequest as e:
            resp = self.bad_request(req, str(e))
        with self.lock:
            self.record(req, resp, arrived)
        if rule and rule.get("delay_after_s"):
            time.sleep(float(rule["delay_after_s"]))
        return resp

    def bad_request(self, req, message):
        return json_response(400, {"error": message})

    # Fakes that set this also log each answer (parsed, credentials hashed).
    log_responses = False

    def record(self, req, resp, arrived):
        body = redact_body(req)
        rec = {"seq": len(self.requests) + 1, "time": arrived, "method": req.method,
               "path": req.path, "query": redact_query(req.query),
               "headers": redact_headers(req.headers), "body": body, "json": parsed_json(body),
               "status": resp.status}
        if self.log_responses:
            rec["response"] = redact_response(resp)
        self.requests.append(rec)
        if self.requests_file is None:
            self.requests_file = open(self.requests_path, "a", encoding="utf-8")
        self.requests_file.write(json.dumps(rec, ensure_ascii=False) + "\n")
        self.requests_file.flush()  # a test may read the file while the fake runs

    # -- the control API
    def control(self, req):
        path = req.path
        try:
            body = req.json() if req.method == "POST" and req.body else {}
        except BadRequest as e:
            return json_response(400, {"error": str(e)})
        if body is not None and not isinstance(body, dict):
            return json_response(400, {"error": "control requests take a JSON object"})
        body = body or {}
        if path == "/_fake/requests" and req.method == "GET":
            try:
                since = max(0, int(req.arg("since", "0") or 0))
            except ValueError:
                return json_response(400, {"error": "since must be a request count"})
            return json_response(200, {"requests": self.requests[since:]})
        if path == "/_fake/reset" and req.method == "POST":
            self.reset(keep_tokens=bool(body.get("keep_tokens")))
            return json_response(200, {"reset": True})
        if path == "/_fake/config":
            if req.method == "POST":
                try:
                    self.apply_config(body)
                except ValueError as e:
                    return json_response(400, {"error": str(e)})
            return json_response(200, {"config": self.config, "faults": self.faults.rules})
        if path == "/_fake/tokens" and req.method == "POST":
            try:
                out, grant = self.mint(body)
            except ValueError as e:
                return json_response(400, {"error": str(e)})
            # The body is exactly what the provider's token endpoint returns, so
            # it can be piped to `readgate oauth import`; the grant id is a header.
            return json_response(200, out, {"X-Fake-Grant": grant})
        if path == "/_fake/refresh-log" and req.method == "GET":
            return json_response(200, {"entries": self.tokens.log})
        if path == "/_fake/grants" and req.method == "GET":
            return json_response(200, {"grants": self.tokens.grants_view()})
        return json_response(404, {"error": "unknown control endpoint %s %s" % (req.method, path)})

    def reset(self, keep_tokens=False):
        self.requests = []
        open(self.requests_path, "w").close()
        self.faults = FaultQueue()
        self.config = copy.deepcopy(self.startup_config)
        if keep_tokens:
            self.tokens.log = []
        else:
            self.tokens.clear()
        self.tokens.save()
        self.reset_provider()

    COMMON_KEYS = ("faults", "clear_faults", "access_token_ttl_s", "refresh_token_ttl_s",
                   "expire_access_tokens_in_s", "invalidate_refresh_token",
                   "invalidate_refresh_tokens", "revoke_all_grants")

    def apply_config(self, cfg):
        # Validate every key first so a bad request changes nothing.
        staged = copy.deepcopy(self.config)
        for key, value in cfg.items():
            if key in self.COMMON_KEYS:
                continue
            if not self.apply_config_key(key, value, staged, dry_run=True):
                known = sorted(set(self.COMMON_KEYS) | set(self.provider_config_keys()))
                raise ValueError("unknown config key %r; known: %s" % (key, ", ".join(known)))
        faults = [FaultQueue.validate(r) for r in cfg.get("faults", [])]
        ttl = cfg.get("access_token_ttl_s", 1)
        if not isinstance(ttl, (int, float)) or isinstance(ttl, bool) or ttl <= 0:
            raise ValueError("access_token_ttl_s must be a positive number of seconds")
        rttl = cfg.get("refresh_token_ttl_s")
        if rttl is not None and (not isinstance(rttl, (int, float)) or isinstance(rttl, bool) or rttl <= 0):
            raise ValueError("refresh_token_ttl_s must be a positive number of seconds or null")
        if "expire_access_tokens_in_s" in cfg and not isinstance(cfg["expire_access_tokens_in_s"], (int, float)):
            raise ValueError("expire_access_tokens_in_s must be a number of seconds")
        rts = list(cfg.get("invalidate_refresh_tokens", []))
        if "invalidate_refresh_token" in cfg:
            rts.append(cfg["invalidate_refresh_token"])
        for t in rts:
            if t not in self.tokens.refresh:
                raise ValueError("unknown refresh token %s" % secret_digest(str(t)))
        # Apply.
        for key, value in cfg.items():
            if key not in self.COMMON_KEYS:
                self.apply_config_key(key, value, staged, dry_run=False)
        for key in ("access_token_ttl_s", "refresh_token_ttl_s"):
            if key in cfg:
                staged[key] = cfg[key]
        self.config = staged
        if cfg.get("clear_faults"):
            self.faults = FaultQueue()
        self.faults.rules.extend(faults)
        if "expire_access_tokens_in_s" in cfg:
            self.tokens.expire_access(float(cfg["expire_access_tokens_in_s"]))
        for t in rts:
            self.tokens.invalidate_refresh(t)
        if cfg.get("revoke_all_grants"):
            for gid in list(self.tokens.grants):
                self.tokens.revoke_grant(gid, "revoked by /_fake/config")

    def provider_config_keys(self):
        return []

    def mint(self, body):
        """POST /_fake/tokens: {"expires_in": S|null, "scope": "...", "client_id": ...,
        "refresh": true|false, "subject": ...} -> (the token JSON the provider's
        token endpoint returns, the grant id)."""
        ttl = body.get("expires_in", self.config["access_token_ttl_s"])
        if ttl is not None and not isinstance(ttl, (int, float)):
            raise ValueError("expires_in must be a number of seconds or null")
        client_id = body.get("client_id", self.args.client_id)
        scope = body.get("scope", self.default_scope())
        with_refresh = bool(body.get("refresh", True))
        minted = self.tokens.mint(client_id, scope, ttl, self.config["refresh_token_ttl_s"],
                                  with_refresh, body.get("subject"))
        out = {"access_token": minted["access_token"], "token_type": "Bearer", "scope": scope}
        if ttl is not None:
            out["expires_in"] = int(ttl)
        if with_refresh:
            out["refresh_token"] = minted["refresh_token"]
        self.mint_extra(body, out)
        return out, minted["grant"]

    def default_scope(self):
        return ""

    # -- shared by the token endpoints
    def access_ttl(self):
        return self.config["access_token_ttl_s"]

    def refresh_ttl_field(self, out, name):
        """Adds the refresh token lifetime under the provider's name, unless
        refresh tokens were configured not to expire."""
        if self.config["refresh_token_ttl_s"] is not None:
            out[name] = int(self.config["refresh_token_ttl_s"])
        return out


class KeyedProvider(FakeProvider):
    """A provider that authenticates with static API keys instead of OAuth:
    the AI providers readgate mints short-lived browser credentials from.

    On top of FakeProvider it keeps
      - the accepted keys: config "api_keys", CLI `key_option` (repeatable,
        default `default_keys`);
      - for providers with agents, the known agent ids: config "agents", CLI
        `agent_option` (repeatable, default `default_agents`);
      - an optional sliding-window rate limit per key: config "throttle":
        {"enabled", "limit", "window_s"}, CLI --rate-limit N (0: off) and
        --rate-window S; over it, the provider's 429 with Retry-After;
      - each answer in the request log ("response", credentials hashed).
    There are no OAuth grants: POST /_fake/tokens answers 400.

    Subclasses implement error(status, kind=None, message=None) -> Response
    (the provider's error body for a status; `kind` picks a variant, e.g. a
    scripted fault's "kind"), routes(), and call admit() once a key is known."""

    log_responses = True
    key_option = "--api-key"
    key_help = "an API key the fake accepts (repeatable)"
    default_keys = ()
    agent_option = None
    agent_help = "an agent id the fake knows (repeatable)"
    default_agents = ()

    @classmethod
    def add_arguments(cls, p):
        p.add_argument(cls.key_option, dest="api_key", action="append", default=None,
                       help="%s; default %s" % (cls.key_help, ", ".join(cls.default_keys)))
        if cls.agent_option:
            p.add_argument(cls.agent_option, dest="agent", action="append", default=None,
                           help="%s; default %s" % (cls.agent_help, ", ".join(cls.default_agents)))
        p.add_argument("--rate-limit", type=int, default=0,
                       help="requests per window per key before 429 (0: no limit)")
        p.add_argument("--rate-window", type=float, default=60.0, help="the rate limit's window, s")

    def __init__(self, args):
        super().__init__(args)
        self.window = {}  # key -> monotonic times of the admitted calls in the window

    def default_config(self):
        cfg = super().default_config()
        cfg["api_keys"] = list(self.args.api_key or self.default_keys)
        if self.agent_option:
            cfg["agents"] = list(self.args.agent or self.default_agents)
        cfg["throttle"] = {"enabled": self.args.rate_limit > 0, "limit": self.args.rate_limit or 60,
                           "window_s": self.args.rate_window}
        return cfg

    def provider_config_keys(self):
        return ["api_keys", "throttle"] + (["agents"] if self.agent_option else [])

    def apply_config_key(self, key, value, config, dry_run):
        if key in ("api_keys", "agents"):
            if key == "agents" and not self.agent_option:
                return False
            if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
                raise ValueError("%s must be a list of non-empty strings" % key)
            if not dry_run:
                config[key] = list(value)
                self.window = {}
            return True
        if key == "throttle":
            known = {"enabled", "limit", "window_s"}
            if not isinstance(value, dict) or set(value) - known:
                raise ValueError("throttle takes an object with %s" % ", ".join(sorted(known)))
            if "enabled" in value and not isinstance(value["enabled"], bool):
                raise ValueError("throttle.enabled must be true or false")
            if "limit" in value and (not isinstance(value["limit"], int) or isinstance(value["limit"], bool)
                                     or value["limit"] < 0):
                raise ValueError("throttle.limit must be a non-negative integer")
            if "window_s" in value and (not isinstance(value["window_s"], (int, float))
                                        or isinstance(value["window_s"], bool) or value["window_s"] <= 0):
                raise ValueError("throttle.window_s must be a positive number of seconds")
            if not dry_run:
                config["throttle"] = dict(config["throttle"], **value)
                self.window = {}
            return True
        return False

    def reset_provider(self):
        self.window = {}
        self.counter = 0

    def fresh(self, kind, length=32, alphabet="0123456789abcdef"):
        """A deterministic id or secret: HMAC(seed, kind:counter) spelled in
        `alphabet`, so runs are reproducible (and start over at a reset)."""
        self.counter = getattr(self, "counter", 0) + 1
        out, block = "", 0
        while len(out) < length:
            mac = hmac.new(self.args.seed.encode("utf-8"), ("%s:%d:%d" % (kind, self.counter, block)).encode(),
                           hashlib.sha256).digest()
            out += "".join(alphabet[b % len(alphabet)] for b in mac)
            block += 1
        return out[:length]

    def mint(self, body):
        raise ValueError("the %s fake has no OAuth grants: it takes the keys given with %s"
                         % (self.name, self.key_option))

    def key_ok(self, key):
        return key is not None and key in self.config["api_keys"]

    def agent_ok(self, agent_id):
        return agent_id in self.config["agents"]

    def admit(self, key):
        """None if the call is admitted under the rate limit, else the seconds
        until the oldest call leaves the window (the Retry-After)."""
        th = self.config["throttle"]
        if not th["enabled"]:
            return None
        now = time.monotonic()
        w = [t for t in self.window.get(key, []) if now - t < th["window_s"]]
        self.window[key] = w
        if len(w) >= th["limit"]:
            return max(1, math.ceil(th["window_s"] - (now - w[0]))) if w else max(1, math.ceil(th["window_s"]))
        w.append(now)
        return None

    def throttled(self, retry_after):
        resp = self.error(429)
        resp.headers["Retry-After"] = str(retry_after)
        return resp

    # The status of a scripted fault given by "kind" alone.
    kind_status = {}

    def error(self, status, kind=None, message=None):
        raise NotImplementedError

    def fault_response(self, status, rule, req):
        # A scripted 429 says "retry after 1 s" unless the rule's headers say otherwise.
        kind = rule.get("kind")
        resp = self.error(status or self.kind_status.get(kind, 500), kind)
        if resp.status == 429:
            resp.headers.setdefault("Retry-After", "1")
        return resp


# --------------------------------------------------------------------------
# HTTP plumbing

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as libcurl expects
    server_version = "readgate-fake/1"
    # TCP_NODELAY on every connection. With Nagle's algorithm on, a response
    # written in two pieces (head, then body) on a keep-alive connection holds
    # the second piece until the client ACKs the first, and the client delays
    # that ACK (~40 ms on Linux) because it is waiting for the rest: every
    # request would cost 40 ms of idle time. The response also leaves in one
    # write (_send), so this is a second guard, not the only one.
    disable_nagle_algorithm = True

    def log_message(self, fmt, *args):  # quiet: the request log is the record
        pass

    def _read_body(self):
        if (self.headers.get("Transfer-Encoding") or "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _handle(self):
        fake = self.server.fake
        try:
            body = self._read_body()
            req = Request(self.command, self.path, self.headers, body)
            resp = fake.dispatch(req)
        except Exception:  # a fake must answer, never die: report and go on
            traceback.print_exc(file=sys.stderr)
            resp = json_response(500, {"fake_internal_error": traceback.format_exc(limit=3)})
        self._send(resp)

    def _send(self, resp):
        """The status line, headers and body in a single write (see
        disable_nagle_algorithm); the same bytes end_headers() and a second
        write of the body would send."""
        self.send_response(resp.status)
        for k, v in resp.headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(resp.body)))
        out = []
        if self.request_version != "HTTP/0.9":
            out = self._headers_buffer
            out.append(b"\r\n")
            self._headers_buffer = []
        if self.command != "HEAD":
            out.append(resp.body)
        self.wfile.write(b"".join(out))

    do_GET = do_POST = do_DELETE = do_PUT = do_PATCH = do_HEAD = _handle


def base_arguments(description):
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--port", type=int, required=True, help="TCP port on 127.0.0.1 (0: any free port)")
    p.add_argument("--state", required=True, help="directory for requests.jsonl, tokens.json, port")
    p.add_argument("--data", default=DEFAULT_DATA, help="the catalog (conformance/fixtures/products.json)")
    p.add_argument("--client-id", default="fake-client-id")
    p.add_argument("--client-secret", default="fake-client-secret",
                   help="empty: a public client that authenticates with client_id alone")
    p.add_argument("--access-ttl", type=float, default=3600, help="lifetime of issued access tokens, s")
    p.add_argument("--seed", default="readgate-fakes", help="seed of the deterministic token values")
    return p


def serve(provider_cls, argv=None):
    sys.dont_write_bytecode = True
    parser = base_arguments(provider_cls.__doc__.strip().splitlines()[0])
    provider_cls.add_arguments(parser)
    args = parser.parse_args(argv)
    fake = provider_cls(args)
    httpd = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    httpd.daemon_threads = True
    httpd.fake = fake
    port = httpd.server_address[1]
    fake.base_url = "http://127.0.0.1:%d" % port
    with open(os.path.join(fake.state_dir, "port"), "w") as f:
        f.write("%d\n" % port)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print("ready" if args.port else "ready port=%d" % port, flush=True)
    try:
        httpd.serve_forever(poll_interval=0.2)
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        httpd.server_close()
