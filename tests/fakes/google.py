#!/usr/bin/env python3
"""Fake Google Sheets API v4 (values) with Google's OAuth token and revoke endpoints.

    python3 tests/fakes/google.py --port P --state DIR [--data products.json]
        [--sa-email reader@proj.iam.gserviceaccount.com --sa-public-key pub.pem]

Endpoints (documented shapes; see README.md for what each follows):
  GET  /v4/spreadsheets/{id}/values:batchGet?ranges=...   Authorization: Bearer
  GET  /v4/spreadsheets/{id}/values/{range}
  POST /token    grant_type=refresh_token (never rotated) or
                 urn:ietf:params:oauth:grant-type:jwt-bearer (RS256, checked with openssl)
  POST /revoke   token=...
plus the control API of common.py under /_fake/.
"""

import base64
import datetime
import json
import os
import re
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import common  # noqa: E402
from common import OAuthError, json_response  # noqa: E402

# Scopes that may read a spreadsheet (spreadsheets.values.batchGet reference).
SHEETS_SCOPES = {"https://www.googleapis.com/auth/spreadsheets",
                 "https://www.googleapis.com/auth/spreadsheets.readonly",
                 "https://www.googleapis.com/auth/drive",
                 "https://www.googleapis.com/auth/drive.readonly",
                 "https://www.googleapis.com/auth/drive.file"}
KNOWN_SCOPES = SHEETS_SCOPES | {"https://www.googleapis.com/auth/cloud-platform"}
JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
STATUS = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
          409: "ABORTED", 429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 502: "UNAVAILABLE",
          503: "UNAVAILABLE", 504: "DEADLINE_EXCEEDED"}
UNAUTHENTICATED = ("Request had invalid authentication credentials. Expected OAuth 2 access token, "
                   "login cookie or other valid authentication credential. See "
                   "https://developers.google.com/identity/sign-in/web/devconsole-project.")
QUOTA_MESSAGE = ("Quota exceeded for quota metric 'Read requests' and limit 'Read requests per "
                 "minute %s' of service 'sheets.googleapis.com' for consumer "
                 "'project_number:000000000000'.")
EPOCH = datetime.datetime(1899, 12, 30, tzinfo=datetime.timezone.utc)  # Sheets' day zero
GRID_ROWS, GRID_COLS = 1000, 26  # a new sheet's grid


def google_error(status, message, details=None):
    err = {"code": status, "message": message, "status": STATUS.get(status, "UNKNOWN")}
    if details:
        err["details"] = details
    return json_response(status, {"error": err})


def b64url_decode(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


# ---------------------------------------------------------------- the sheet

def parse_instant(text):
    t = text.strip()
    if t.endswith(("Z", "z")):
        t = t[:-1] + "+00:00"
    dt = datetime.datetime.fromisoformat(t)
    return (dt if dt.tzinfo else dt.replace(tzinfo=datetime.timezone.utc)).astimezone(datetime.timezone.utc)


def cell_of(col, v):
    """A typed cell: ("n", number) ("s", text) ("b", bool) ("d", date) ("t", datetime) or None."""
    if v is None or v == "":
        return None  # an empty string is an empty cell in Sheets
    if col == "in_stock":
        return ("b", bool(v))
    if col == "released":
        return ("d", datetime.date.fromisoformat(v))
    if col == "updated_at":
        return ("t", parse_instant(v))
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        if isinstance(v, int) and abs(v) > 2**53:
            # Sheets numbers are doubles; an exact 64-bit integer has to be a
            # plain-text cell (README.md).
            return ("s", str(v))
        return ("n", v)
    return ("s", str(v))


def number_json(x):
    f = float(x)
    return int(f) if f.is_integer() and abs(f) <= 2**53 else f


def render(cell, vro, dtro):
    if cell is None:
        return None
    kind, v = cell
    formatted = vro == "FORMATTED_VALUE"
    if kind == "n":
        if formatted:
            f = float(v)
            return str(int(f)) if f.is_integer() else repr(f)
        return number_json(v)
    if kind == "s":
        return v
    if kind == "b":
        return ("TRUE" if v else "FALSE") if formatted else v
    if kind == "d":
        # Cell number format yyyy-mm-dd.
        if formatted or dtro == "FORMATTED_STRING":
            return v.isoformat()
        return (v - EPOCH.date()).days
    # Cell number format yyyy-mm-dd"T"hh:mm:ss.000"Z".
    if formatted or dtro == "FORMATTED_STRING":
        return v.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (v.microsecond // 1000)
    return (v - EPOCH).total_seconds() / 86400.0


# ---------------------------------------------------------------- A1 notation
# https://developers.google.com/workspace/sheets/api/guides/concepts#cell

CELL_RANGE = re.compile(r"([A-Za-z]*)(\d*)(?::([A-Za-z]*)(\d*))?")


def col_index(letters):
    n = 0
    for ch in letters.upper():
        n = n * 26 + (ord(ch) - 64)
    return n


def col_letters(n):
    s = ""
    while n:
        n, r = divmod(n - 1, 26)
        s = chr(65 + r) + s
    return s


def quote_sheet(title):
    return title if re.fullmatch(r"[A-Za-z0-9_]+", title) else "'%s'" % title.replace("'", "''")


class RangeError(ValueError):
    pass


class GridError(RangeError):
    """A range starting outside the sheet's grid."""


def parse_range(text, sheet_titles, grid):
    """'Sheet!A1:B2' -> (title, r1, c1, r2, c2), 1-based and inclusive,
    clipped to the grid. Raises RangeError."""
    sheet, cells = None, text
    if text.startswith("'"):
        i, buf = 1, []
        while True:
            if i >= len(text):
                raise RangeError(text)
            if text[i] == "'":
                if text[i + 1:i + 2] == "'":
                    buf.append("'")
                    i += 2
                    continue
                break
            buf.append(text[i])
            i += 1
        sheet, rest = "".join(buf), text[i + 1:]
        if rest and not rest.startswith("!"):
            raise RangeError(text)
        cells = rest[1:] if rest else ""
    elif "!" in text:
        sheet, cells = text.split("!", 1)
    elif text in sheet_titles or not (CELL_RANGE.fullmatch(text) and re.search(r"\d|:", text)):
        sheet, cells = text, ""  # a bare name is a sheet ("A" too); "A1" or "A:B" are cells
    if sheet is None:
        sheet = sheet_titles[0]  # cells without a sheet: the first sheet
    if sheet not in sheet_titles:
        raise RangeError(text)
    rows, cols = grid
    if cells == "":
        return sheet, 1, 1, rows, cols
    m = CELL_RANGE.fullmatch(cells)
    if not m:
        raise RangeError(text)
    c1, r1, c2, r2 = m.group(1), m.group(2), m.group(3), m.group(4)
    if ":" not in cells:
        if not (c1 and r1):
            raise RangeError(text)  # a single cell needs both column and row
        c2, r2 = c1, r1
    elif not (c1 or r1) or not (c2 or r2):
        raise RangeError(text)
    c1 = col_index(c1) if c1 else 1
    c2 = col_index(c2) if c2 else cols
    r1 = int(r1) if r1 else 1
    r2 = int(r2) if r2 else rows
    if r1 < 1 or r2 < 1:
        raise RangeError(text)
    c1, c2 = sorted((c1, c2))
    r1, r2 = sorted((r1, r2))
    if r1 > rows or c1 > cols:
        raise GridError(text)
    return sheet, r1, c1, min(r2, rows), min(c2, cols)


def a1(sheet, r1, c1, r2, c2):
    start = "%s%d" % (col_letters(c1), r1)
    end = "%s%d" % (col_letters(c2), r2)
    return "%s!%s" % (quote_sheet(sheet), start if (r1, c1) == (r2, c2) else start + ":" + end)


# ---------------------------------------------------------------- the fake

class GoogleFake(common.FakeProvider):
    """Fake Google Sheets API v4 values and Google OAuth 2.0 token/revoke endpoints."""

    name = "google"
    token_prefixes = {"access": "ya29.", "refresh": "1//"}

    @staticmethod
    def add_arguments(p):
        p.add_argument("--spreadsheet-id", default="1RGfakeSpreadsheet0000000000000000000000000")
        p.add_argument("--sheet", default="products", help="title of the sheet holding the catalog")
        p.add_argument("--sa-email", default="reader@readgate-test.iam.gserviceaccount.com",
                       help="the service account whose JWTs the token endpoint accepts")
        p.add_argument("--sa-public-key", help="PEM public key that verifies the service account's RS256 JWTs")
        p.add_argument("--reads-per-minute", type=int, default=60, help="per user (Sheets API quota)")
        p.add_argument("--project-reads-per-minute", type=int, default=300, help="per project")

    def __init__(self, args):
        super().__init__(args)
        self.grid = [[("s", c) for c in common.COLUMNS]]  # the header row
        for r in self.rows:
            self.grid.append([cell_of(c, r[c]) for c in common.COLUMNS])
        self.reads = {}  # user -> [monotonic times], "project" -> [...]

    def default_config(self):
        cfg = super().default_config()
        cfg.update({"quota": {"enabled": True, "reads_per_minute_per_user": self.args.reads_per_minute,
                              "reads_per_minute_per_project": self.args.project_reads_per_minute,
                              "window_s": 60}})
        return cfg

    def provider_config_keys(self):
        return ["quota"]

    def apply_config_key(self, key, value, config, dry_run):
        if key != "quota":
            return False
        known = {"enabled", "reads_per_minute_per_user", "reads_per_minute_per_project", "window_s"}
        if not isinstance(value, dict) or set(value) - known:
            raise ValueError("quota takes an object with %s" % ", ".join(sorted(known)))
        for k in known - {"enabled"}:
            if k in value and (not isinstance(value[k], (int, float)) or value[k] < 0):
                raise ValueError("quota.%s must be a non-negative number" % k)
        if not dry_run:
            config["quota"] = dict(config["quota"], **value)
            self.reads = {}
        return True

    def reset_provider(self):
        self.reads = {}

    def default_scope(self):
        return "https://www.googleapis.com/auth/spreadsheets.readonly"

    def routes(self):
        R = common.Route
        return [R("GET", r"/v4/spreadsheets/(?P<sid>[^/]+)/values:batchGet", self.batch_get),
                R("GET", r"/v4/spreadsheets/(?P<sid>[^/]+)/values/(?P<rng>.+)", self.values_get),
                R("POST", r"/token", self.token, "oauth"),
                R("POST", r"/revoke", self.revoke, "oauth")]

    # -- errors
    def fault_response(self, status, rule, req):
        if req.path in ("/token", "/revoke"):
            return json_response(status, {"error": "internal_failure" if status >= 500 else "invalid_request",
                                          "error_description": "scripted fault %d" % status})
        if status == 401:
            return google_error(401, UNAUTHENTICATED)
        if status == 429:
            return self.quota_error("per user")
        messages = {500: "Internal error encountered.", 503: "The service is currently unavailable.",
                    403: "The caller does not have permission", 404: "Requested entity was not found."}
        return google_error(status, messages.get(status, "scripted fault %d" % status))

    def not_found(self, req):
        return google_error(404, "Requested entity was not found.")

    def bad_request(self, req, message):
        if req.path in ("/token", "/revoke"):
            return json_response(400, {"error": "invalid_request", "error_description": message})
        return google_error(400, message)

    def quota_error(self, which):
        return google_error(429, QUOTA_MESSAGE % which, [{
            "@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "RATE_LIMIT_EXCEEDED",
            "domain": "googleapis.com", "metadata": {"service": "sheets.googleapis.com",
                                                     "quota_metric": "sheets.googleapis.com/read_requests",
                                                     "quota_limit": "ReadRequestsPerMinutePerUser"
                                                     if which == "per user" else "ReadRequestsPerMinutePerProject",
                                                     "consumer": "projects/000000000000"}}])

    # -- the read quota: 60 per minute per user, 300 per project (Sheets usage limits)
    def over_quota(self, user):
        q = self.config["quota"]
        if not q["enabled"]:
            return None
        now, w = time.monotonic(), float(q["window_s"])
        for key in (user, "\0project"):
            self.reads[key] = [t for t in self.reads.get(key, []) if now - t < w]
        if len(self.reads[user]) >= q["reads_per_minute_per_user"]:
            return "per user"
        if len(self.reads["\0project"]) >= q["reads_per_minute_per_project"]:
            return "per project"
        self.reads[user].append(now)
        self.reads["\0project"].append(now)
        return None

    def authorize(self, req):
        grant, why = self.tokens.check_access(req.bearer())
        if grant is None:
            reason = {"missing": "CREDENTIALS_MISSING", "expired": "ACCESS_TOKEN_EXPIRED"}.get(why)
            details = None
            if reason:
                details = [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": reason,
                            "domain": "googleapis.com", "metadata": {"service": "sheets.googleapis.com"}}]
            return None, google_error(401, UNAUTHENTICATED, details)
        if not SHEETS_SCOPES & set((grant["scope"] or "").split()):
            return None, google_error(403, "Request had insufficient authentication scopes.")
        return grant, None

    # -- values
    def batch_get(self, req, sid):
        return self.read(req, sid, req.query.get("ranges", []) + req.query.get("ranges[]", []), batch=True)

    def values_get(self, req, sid, rng):
        return self.read(req, sid, [rng], batch=False)

    def read(self, req, sid, ranges, batch):
        grant, err = self.authorize(req)
        if err:
            return err
        if sid != self.args.spreadsheet_id:
            return google_error(404, "Requested entity was not found.")
        opts = {}
        for name, param, enum, allowed, default in (
                ("majorDimension", "major_dimension", "Dimension",
                 ("ROWS", "COLUMNS", "DIMENSION_UNSPECIFIED"), "ROWS"),
                ("valueRenderOption", "value_render_option", "ValueRenderOption",
                 ("FORMATTED_VALUE", "UNFORMATTED_VALUE", "FORMULA"), "FORMATTED_VALUE"),
                ("dateTimeRenderOption", "date_time_render_option", "DateTimeRenderOption",
                 ("SERIAL_NUMBER", "FORMATTED_STRING"), "SERIAL_NUMBER")):
            v = req.arg(name, default)
            if v not in allowed:
                return google_error(400, "Invalid value at '%s' (type.googleapis.com/google.apps.sheets.v4.%s), "
                                         '"%s"' % (param, enum, v))
            opts[name] = v
        if opts["majorDimension"] == "DIMENSION_UNSPECIFIED":
            opts["majorDimension"] = "ROWS"
        which = self.over_quota(grant["subject"])
        if which:
            return self.quota_error(which)
        grid = (max(GRID_ROWS, len(self.grid)), GRID_COLS)
        value_ranges = []
        for text in ranges:
            try:
                sheet, r1, c1, r2, c2 = parse_range(text, [self.args.sheet], grid)
            except GridError:
                return google_error(400, "Range (%s) exceeds grid limits. Max rows: %d, max columns: %d"
                                    % (text, grid[0], grid[1]))
            except RangeError:
                return google_error(400, "Unable to parse range: %s" % text)
            value_ranges.append(self.value_range(sheet, r1, c1, r2, c2, opts))
        if batch:
            out = {"spreadsheetId": sid}
            if value_ranges:
                out["valueRanges"] = value_ranges
            return json_response(200, out)
        return json_response(200, value_ranges[0])

    def value_range(self, sheet, r1, c1, r2, c2, opts):
        """A ValueRange: empty trailing cells and rows are left out, as Sheets does."""
        matrix = []
        for r in range(r1, r2 + 1):
            row = self.grid[r - 1] if r - 1 < len(self.grid) else []
            matrix.append([render(row[c - 1] if c - 1 < len(row) else None,
                                  opts["valueRenderOption"], opts["dateTimeRenderOption"])
                           for c in range(c1, c2 + 1)])
        if opts["majorDimension"] == "COLUMNS":
            matrix = [list(col) for col in zip(*matrix)] if matrix else []
        values = []
        for line in matrix:
            while line and line[-1] is None:
                line.pop()
            values.append(["" if v is None else v for v in line])
        while values and not values[-1]:
            values.pop()
        out = {"range": a1(sheet, r1, c1, r2, c2), "majorDimension": opts["majorDimension"]}
        if values:
            out["values"] = values
        return out

    # -- OAuth (https://developers.google.com/identity/protocols/oauth2/web-server#offline,
    #    .../oauth2/service-account#authorizingrequests)
    def token(self, req):
        try:
            form = req.form()
            gt = form.get("grant_type")
            if gt == "refresh_token":
                return self.refresh(req, form)
            if gt == JWT_GRANT:
                return self.jwt_grant(form)
            raise OAuthError("unsupported_grant_type", "Invalid grant_type: %s" % (gt or ""))
        except common.BadRequest as e:
            return json_response(400, {"error": "invalid_request", "error_description": str(e)})
        except OAuthError as e:
            return json_response(e.status, {"error": e.error, "error_description": e.description})

    def refresh(self, req, form):
        # Client credentials go in the form body; HTTP Basic is accepted too (RFC 6749 2.3.1).
        cid, secret = form.get("client_id"), form.get("client_secret")
        basic = req.basic()
        if basic and cid is None:
            cid, secret = basic
        if cid != self.args.client_id:
            raise OAuthError("invalid_client", "The OAuth client was not found.", 401)
        if self.args.client_secret and secret != self.args.client_secret:
            raise OAuthError("invalid_client", "Unauthorized", 401)
        if not form.get("refresh_token"):
            raise OAuthError("invalid_request", "Missing required parameter: refresh_token")
        try:
            out = self.tokens.refresh_grant(form["refresh_token"], cid, "none", self.access_ttl(), None)
        except OAuthError as e:
            # Google's wording for every unusable refresh token.
            raise OAuthError("invalid_grant", "Token has been expired or revoked.") from e
        grant = self.tokens.grants[out["grant"]]
        # Google does not rotate refresh tokens: none in the response.
        return json_response(200, {"access_token": out["access_token"], "expires_in": int(self.access_ttl()),
                                   "scope": grant["scope"], "token_type": "Bearer"})

    def jwt_grant(self, form):
        assertion = form.get("assertion") or ""
        parts = assertion.split(".")
        try:
            if len(parts) != 3:
                raise ValueError("not three segments")
            header = json.loads(b64url_decode(parts[0]))
            claims = json.loads(b64url_decode(parts[1]))
            signature = b64url_decode(parts[2])
            if not isinstance(header, dict) or not isinstance(claims, dict):
                raise ValueError("not JSON objects")
        except (ValueError, UnicodeDecodeError):
            raise OAuthError("invalid_grant", "Invalid JWT: malformed assertion.")
        if header.get("alg") != "RS256":
            raise OAuthError("invalid_grant", "Invalid JWT: only RS256 is accepted.")
        if claims.get("iss") != self.args.sa_email or not self.args.sa_public_key:
            raise OAuthError("invalid_grant", "Invalid grant: account not found")
        if not self.signature_ok((parts[0] + "." + parts[1]).encode(), signature):
            raise OAuthError("invalid_grant", "Invalid JWT Signature.")
        auds = {"https://oauth2.googleapis.com/token", "https://www.googleapis.com/oauth2/v4/token",
                self.base_url + "/token"}
        if claims.get("aud") not in auds:
            raise OAuthError("invalid_grant", "Invalid JWT: Failed audience check. The expected value "
                                              "was https://oauth2.googleapis.com/token.")
        iat, exp, now = claims.get("iat"), claims.get("exp"), time.time()
        if not all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in (iat, exp)) \
                or exp - iat > 3600 or exp <= iat or iat > now + 300 or exp < now - 300:
            raise OAuthError("invalid_grant", "Invalid JWT: Token must be a short-lived token (60 minutes) "
                                              "and in a reasonable timeframe. Check your iat and exp "
                                              "values in the JWT claim.")
        scope = claims.get("scope")
        scopes = scope.split() if isinstance(scope, str) else []
        if not scopes or any(s not in KNOWN_SCOPES for s in scopes):
            raise OAuthError("invalid_scope", "Invalid OAuth scope or ID token audience provided.")
        minted = self.tokens.mint(self.args.sa_email, scope, self.access_ttl(), None,
                                  with_refresh=False, subject=self.args.sa_email)
        return json_response(200, {"access_token": minted["access_token"],
                                   "expires_in": int(self.access_ttl()), "token_type": "Bearer"})

    def signature_ok(self, signing_input, signature):
        fd, path = tempfile.mkstemp(prefix="jwtsig-", dir=self.state_dir)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(signature)
            r = subprocess.run(["openssl", "dgst", "-sha256", "-verify", self.args.sa_public_key,
                                "-signature", path], input=signing_input, capture_output=True, timeout=10)
            return r.returncode == 0
        finally:
            os.unlink(path)

    def revoke(self, req):
        # POST https://oauth2.googleapis.com/revoke with token= in the body or
        # the query; revoking either token of a grant ends both.
        try:
            form = req.form() if req.body else {}
        except common.BadRequest as e:
            return json_response(400, {"error": "invalid_request", "error_description": str(e)})
        token = form.get("token") or req.arg("token")
        if not token:
            return json_response(400, {"error": "invalid_request", "error_description": "Missing required parameter: token"})
        if not self.tokens.revoke_token(token):
            return json_response(400, {"error": "invalid_token", "error_description": "Token expired or revoked"})
        return json_response(200, {})


if __name__ == "__main__":
    common.serve(GoogleFake)
