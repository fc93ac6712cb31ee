#!/usr/bin/env python3
"""Fake Airtable Web API: listRecords with filterByFormula, OAuth with rotation, 5 req/s per base.

    python3 tests/fakes/airtable.py --port P --state DIR [--data products.json]

Endpoints (documented shapes; see README.md for what each follows):
  POST /v0/{baseId}/{tableIdOrName}/listRecords   JSON body, Authorization: Bearer
  GET  /v0/{baseId}/{tableIdOrName}               the same as query parameters
  POST /oauth2/v1/token                           grant_type=refresh_token (always rotates)
  POST /oauth2/v1/revoke                          RFC 7009 revocation
plus the control API of common.py under /_fake/.
"""

import datetime
import hashlib
import json
import os
import re
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import airtable_formula as formula  # noqa: E402
import common  # noqa: E402
from common import OAuthError, json_response  # noqa: E402

# The table: the fixture columns with Airtable field types.
FIELD_TYPES = {"id": "number", "name": "singleLineText", "Brand Name": "singleLineText",
               "description": "multilineText", "category": "singleSelect", "price": "number",
               "stock": "number", "in_stock": "checkbox", "released": "date", "updated_at": "dateTime"}
FIELD_IDS = {name: "fld" + hashlib.sha256(name.encode()).hexdigest()[:14] for name in FIELD_TYPES}
VIEWS = {"Grid view": "viwRGGridView0001"}
LIST_PARAMS = {"fields", "filterByFormula", "maxRecords", "pageSize", "sort", "view", "cellFormat",
               "timeZone", "userLocale", "offset", "returnFieldsByFieldId", "recordMetadata"}
READ_SCOPE = "data.records:read"

# Error bodies from Airtable's API reference and support articles
# ("Airtable API: Common troubleshooting").
AUTH_REQUIRED = ("AUTHENTICATION_REQUIRED", "Authentication required")
NOT_FOUND_MODEL = ("INVALID_PERMISSIONS_OR_MODEL_NOT_FOUND",
                   "Invalid permissions, or the requested model was not found. Check that both your "
                   "user and your token have the required permissions, and that the model names "
                   "and/or ids are correct.")
INVALID_REQUEST = ("INVALID_REQUEST_UNKNOWN", "Invalid request: parameter validation failed. "
                                              "Check your request data.")
# The 429 body differs in shape from the others (seen in PipedreamHQ/pipedream#10130).
RATE_LIMITED = {"errors": [{"error": "RATE_LIMIT_REACHED",
                            "message": "Rate limit exceeded. Please try again later"}]}


def error(status, kind, message):
    return json_response(status, {"error": {"type": kind, "message": message}})


class ListError(Exception):
    def __init__(self, status, kind, message):
        super().__init__(message)
        self.response = error(status, kind, message)


def number_cell(v):
    # Number fields hold IEEE doubles: 9007199254740993 comes back as 9007199254740992.
    f = float(v)
    return int(f) if f.is_integer() else f


def datetime_cell(text):
    dt = formula.parse_dt(text)
    return None if dt is None else formula.iso(dt)


class AirtableFake(common.FakeProvider):
    """Fake Airtable Web API (listRecords, OAuth refresh with rotation, per-base rate limit)."""

    name = "airtable"
    token_prefixes = {"access": "oaa", "refresh": "oar"}

    @staticmethod
    def add_arguments(p):
        p.add_argument("--base-id", default="appRGFakeBase0001")
        p.add_argument("--table-name", default="products")
        p.add_argument("--table-id", default="tblRGProducts0001")
        p.add_argument("--pat", action="append", default=[],
                       help="a personal access token accepted without OAuth (repeatable)")
        p.add_argument("--rate", type=float, default=5, help="requests per second per base")
        p.add_argument("--penalty", type=float, default=30, help="seconds of 429 after the limit")

    def __init__(self, args):
        super().__init__(args)
        self.records = []
        for r in self.rows:
            self.records.append({"id": "recRG%012d" % r["id"],
                                 # A fixed, deterministic creation time per record.
                                 "createdTime": formula.iso(datetime.datetime.fromtimestamp(
                                     1704067200 + r["id"] * 60, datetime.timezone.utc)),
                                 "row": r})
        self.window = {}   # base -> [timestamps of admitted requests]
        self.penalty = {}  # base -> monotonic time until which every call is 429

    def default_config(self):
        cfg = super().default_config()
        # Access tokens live 60 minutes, refresh tokens 60 days (Airtable OAuth reference).
        cfg.update({"refresh_token_ttl_s": 60 * 86400, "checkbox_omits_false": False,
                    "throttle": {"enabled": True, "requests_per_second": self.args.rate,
                                 "penalty_s": self.args.penalty}})
        return cfg

    def provider_config_keys(self):
        return ["throttle", "checkbox_omits_false"]

    def apply_config_key(self, key, value, config, dry_run):
        if key == "checkbox_omits_false":
            if not isinstance(value, bool):
                raise ValueError("checkbox_omits_false must be true or false")
            if not dry_run:
                config[key] = value
            return True
        if key == "throttle":
            known = {"enabled", "requests_per_second", "penalty_s"}
            if not isinstance(value, dict) or set(value) - known:
                raise ValueError("throttle takes an object with %s" % ", ".join(sorted(known)))
            for k in ("requests_per_second", "penalty_s"):
                if k in value and (not isinstance(value[k], (int, float)) or value[k] < 0):
                    raise ValueError("throttle.%s must be a non-negative number" % k)
            if not dry_run:
                config["throttle"] = dict(config["throttle"], **value)
                self.window, self.penalty = {}, {}
            return True
        return False

    def reset_provider(self):
        self.window, self.penalty = {}, {}

    def default_scope(self):
        return "data.records:read schema.bases:read"

    def mint_extra(self, body, out):
        if "refresh_token" in out:
            self.refresh_ttl_field(out, "refresh_expires_in")

    def routes(self):
        R = common.Route
        return [R("POST", r"/v0/(?P<base>[^/]+)/(?P<table>[^/]+)/listRecords", self.list_post),
                R("GET", r"/v0/(?P<base>[^/]+)/(?P<table>[^/]+)", self.list_get),
                R("POST", r"/oauth2/v1/token", self.token, "oauth"),
                R("POST", r"/oauth2/v1/revoke", self.revoke, "oauth")]

    # -- errors
    def fault_response(self, status, rule, req):
        if req.path.startswith("/oauth2/"):
            return json_response(status, {"error": "server_error" if status >= 500 else "invalid_request",
                                          "error_description": "scripted fault %d" % status})
        if status == 429:
            return json_response(429, RATE_LIMITED)
        kinds = {401: AUTH_REQUIRED, 403: NOT_FOUND_MODEL, 404: ("NOT_FOUND", "Could not find what you are looking for"),
                 422: INVALID_REQUEST,
                 500: ("SERVER_ERROR", "Try again. If the problem persists, contact support."),
                 502: ("BAD_GATEWAY", "Bad gateway"),
                 503: ("SERVICE_UNAVAILABLE", "The service is temporarily unavailable. Try again.")}
        kind, msg = kinds.get(status, ("ERROR", "scripted fault %d" % status))
        return error(status, kind, msg)

    def not_found(self, req):
        return json_response(404, {"error": "NOT_FOUND"})

    def bad_request(self, req, message):
        if req.path.startswith("/oauth2/"):
            return json_response(400, {"error": "invalid_request", "error_description": message})
        return error(400, "INVALID_REQUEST_BODY", "Could not parse request body")

    # -- the per-base limit: 5 requests per second; over it, 429 for 30 s
    def throttled(self, base):
        th = self.config["throttle"]
        if not th["enabled"]:
            return False
        now = time.monotonic()
        if self.penalty.get(base, 0) > now:
            return True
        w = [t for t in self.window.get(base, []) if now - t < 1.0]
        if len(w) >= th["requests_per_second"]:
            self.penalty[base] = now + th["penalty_s"]
            self.window[base] = w
            return True
        w.append(now)
        self.window[base] = w
        return False

    # -- listing
    def list_post(self, req, base, table):
        body = req.json()
        if body is None:
            body = {}
        if not isinstance(body, dict):
            return error(422, *INVALID_REQUEST)
        return self.list_records(req, base, table, body)

    def list_get(self, req, base, table):
        params = {}
        sort = {}
        for key, values in req.query.items():
            m = re.fullmatch(r"sort\[(\d+)\]\[(field|direction)\]", key)
            if m:
                sort.setdefault(int(m.group(1)), {})[m.group(2)] = values[-1]
            elif key in ("fields[]", "fields"):
                params["fields"] = values
            elif key in ("recordMetadata[]", "recordMetadata"):
                params["recordMetadata"] = values
            elif key in ("maxRecords", "pageSize"):
                try:
                    params[key] = int(values[-1])
                except ValueError:
                    params[key] = values[-1]
            elif key == "returnFieldsByFieldId":
                params[key] = values[-1] in ("true", "1")
            else:
                params[key] = values[-1]
        if sort:
            params["sort"] = [sort[i] for i in sorted(sort)]
        return self.list_records(req, base, table, params)

    def authorize(self, req):
        token = req.bearer()
        if token and token in self.args.pat:
            return {"scope": READ_SCOPE, "client_id": None}
        grant, _ = self.tokens.check_access(token)
        return grant

    def list_records(self, req, base, table, params):
        grant = self.authorize(req)
        if grant is None:
            return error(401, *AUTH_REQUIRED)
        if base != self.args.base_id or table not in (self.args.table_name, self.args.table_id):
            return error(403, *NOT_FOUND_MODEL)
        if READ_SCOPE not in (grant["scope"] or "").split():
            return error(403, *NOT_FOUND_MODEL)
        if self.throttled(base):
            return json_response(429, RATE_LIMITED)
        try:
            return json_response(200, self.page(params))
        except ListError as e:
            return e.response

    def page(self, params):
        unknown = set(params) - LIST_PARAMS
        if unknown:
            raise ListError(422, *INVALID_REQUEST)
        fields = params.get("fields")
        if fields is not None:
            if not isinstance(fields, list) or not all(isinstance(f, str) for f in fields):
                raise ListError(422, *INVALID_REQUEST)
            for f in fields:
                if self.field_name(f) is None:
                    raise ListError(422, "UNKNOWN_FIELD_NAME", 'Unknown field name: "%s"' % f)
            fields = [self.field_name(f) for f in fields]
        page_size = params.get("pageSize", 100)
        max_records = params.get("maxRecords")
        for v in (page_size, max_records):
            if v is not None and (not isinstance(v, int) or isinstance(v, bool) or v < 1):
                raise ListError(422, *INVALID_REQUEST)
        if page_size > 100:
            raise ListError(422, *INVALID_REQUEST)
        if params.get("cellFormat", "json") != "json":
            # cellFormat=string needs Airtable's own renderer; the fake serves json only.
            raise ListError(422, "INVALID_REQUEST_UNKNOWN", "cellFormat=string is not supported by this fake")
        view = params.get("view")
        if view is not None and view not in VIEWS and view not in VIEWS.values():
            raise ListError(422, "VIEW_NAME_NOT_FOUND", 'Could not find view "%s"' % view)
        sort = params.get("sort") or []
        if not isinstance(sort, list):
            raise ListError(422, *INVALID_REQUEST)
        for s in sort:
            if not isinstance(s, dict) or set(s) - {"field", "direction"} or "field" not in s:
                raise ListError(422, *INVALID_REQUEST)
            if s.get("direction", "asc") not in ("asc", "desc"):
                raise ListError(422, *INVALID_REQUEST)
            if self.field_name(s["field"]) is None:
                raise ListError(422, "UNKNOWN_FIELD_NAME", 'Unknown field name: "%s"' % s["field"])
        src = params.get("filterByFormula") or ""
        if not isinstance(src, str):
            raise ListError(422, *INVALID_REQUEST)

        matched = list(self.records)
        if src.strip():
            try:
                tree = formula.parse(src, set(FIELD_TYPES))
            except formula.FormulaError as e:
                raise ListError(422, "INVALID_FILTER_BY_FORMULA",
                                "The formula for filtering records is invalid: %s" % e)
            matched = [r for r in matched if formula.truthy(formula.evaluate(tree, r, self.formula_value))]
        for s in reversed(sort):
            name = self.field_name(s["field"])
            matched.sort(key=lambda r, n=name: self.sort_key(r, n), reverse=s.get("direction") == "desc")
        if max_records is not None:
            matched = matched[:max_records]

        sig = hashlib.sha256(json.dumps([src, sort, view, max_records], sort_keys=True)
                             .encode()).hexdigest()[:12]
        start = 0
        if params.get("offset") is not None:
            start = self.decode_offset(params["offset"], sig, matched)
        chunk = matched[start:start + page_size]
        out = {"records": [self.render(r, fields, params) for r in chunk]}
        nxt = start + page_size
        if nxt < len(matched):
            # An opaque iterator like Airtable's "itr.../rec...".
            out["offset"] = "itr%s%06d/%s" % (sig, nxt, matched[nxt]["id"])
        return out

    def decode_offset(self, offset, sig, matched):
        m = re.fullmatch(r"itr([0-9a-f]{12})(\d{6})/(rec\w+)", offset) if isinstance(offset, str) else None
        if m is None or m.group(1) != sig or int(m.group(2)) >= len(matched) \
                or matched[int(m.group(2))]["id"] != m.group(3):
            raise ListError(422, "LIST_RECORDS_ITERATOR_NOT_AVAILABLE",
                            "The offset is not valid for this request; start again without it")
        return int(m.group(2))

    def field_name(self, name_or_id):
        if name_or_id in FIELD_TYPES:
            return name_or_id
        return next((n for n, i in FIELD_IDS.items() if i == name_or_id), None)

    # -- values
    def cell(self, rec, name):
        """The field's JSON value, or None when Airtable leaves it out: empty
        fields are absent from `fields`, and so is an empty string."""
        v = rec["row"][name]
        if v is None:
            return None
        t = FIELD_TYPES[name]
        if t == "number":
            return number_cell(v)
        if t == "checkbox":
            if not v and self.config["checkbox_omits_false"]:
                return None
            return bool(v)
        if t == "dateTime":
            return datetime_cell(v)
        if t in ("singleLineText", "multilineText", "singleSelect") and v == "":
            return None
        return v

    def formula_value(self, rec, name):
        v = self.cell(rec, name)
        if isinstance(v, bool):
            return 1 if v else 0  # a checked box is 1 in formulas
        return v

    def sort_key(self, rec, name):
        # Empty cells sort first ascending; text sorts case-insensitively
        # (an approximation of Airtable's locale-aware order, README.md).
        v = self.cell(rec, name)
        if v is None:
            return (0,)
        if isinstance(v, str):
            return (1, v.casefold(), v)
        return (1, float(v))

    def render(self, rec, fields, params):
        names = fields if fields is not None else list(FIELD_TYPES)
        by_id = bool(params.get("returnFieldsByFieldId"))
        out = {}
        for n in names:
            v = self.cell(rec, n)
            if v is not None:
                out[FIELD_IDS[n] if by_id else n] = v
        r = {"id": rec["id"], "createdTime": rec["createdTime"], "fields": out}
        if "commentCount" in (params.get("recordMetadata") or []):
            r["commentCount"] = 0
        return r

    # -- OAuth (https://airtable.com/developers/web/api/oauth-reference)
    def client_auth(self, req, form):
        """The client id after checking its credentials: HTTP Basic with
        client_id:client_secret when the integration has a secret, else
        client_id in the body."""
        basic = req.basic()
        if self.args.client_secret:
            if basic is None:
                raise OAuthError("invalid_client", "client credentials must be sent with HTTP Basic", 401)
            if basic != (self.args.client_id, self.args.client_secret):
                raise OAuthError("invalid_client", "client authentication failed", 401)
            return basic[0]
        if form.get("client_id") != self.args.client_id:
            raise OAuthError("invalid_client", "unknown client_id", 401)
        return form["client_id"]

    def token(self, req):
        try:
            form = req.form()
            client_id = self.client_auth(req, form)
            if form.get("grant_type") != "refresh_token":
                raise OAuthError("unsupported_grant_type",
                                 "grant_type %r is not supported" % form.get("grant_type"))
            if not form.get("refresh_token"):
                raise OAuthError("invalid_request", "refresh_token is required")
            # Refresh tokens are single use: presenting a spent one revokes the
            # whole grant (Airtable OAuth reference).
            out = self.tokens.refresh_grant(form["refresh_token"], client_id, "always-revoke",
                                            self.access_ttl(), self.config["refresh_token_ttl_s"])
        except common.BadRequest as e:
            return json_response(400, {"error": "invalid_request", "error_description": str(e)})
        except OAuthError as e:
            return json_response(e.status, {"error": e.error, "error_description": e.description})
        grant = self.tokens.grants[out["grant"]]
        return json_response(200, self.refresh_ttl_field(
            {"access_token": out["access_token"], "refresh_token": out["refresh_token"],
             "token_type": "Bearer", "scope": grant["scope"], "expires_in": int(self.access_ttl())},
            "refresh_expires_in"))

    def revoke(self, req):
        # RFC 7009: revoking either token ends the grant; an unknown token is
        # not an error.
        try:
            form = req.form()
            self.client_auth(req, form)
        except common.BadRequest as e:
            return json_response(400, {"error": "invalid_request", "error_description": str(e)})
        except OAuthError as e:
            return json_response(e.status, {"error": e.error, "error_description": e.description})
        if not form.get("token"):
            return json_response(400, {"error": "invalid_request", "error_description": "token is required"})
        self.tokens.revoke_token(form["token"], "revoked by client")
        return json_response(200, {})


if __name__ == "__main__":
    common.serve(AirtableFake)
