#!/usr/bin/env python3
"""Fake Shopify Admin GraphQL API with OAuth token refresh and cost-based throttling, and the Storefront API.

    python3 tests/fakes/shopify.py --port P --state DIR [--data products.json]

Endpoints (documented shapes; see README.md for what each follows):
  POST   /admin/api/{version}/graphql.json    header X-Shopify-Access-Token
  POST   /api/{version}/graphql.json          Storefront API: header Shopify-Storefront-Private-Token
                                              (private token) or X-Shopify-Storefront-Access-Token
                                              (public token)
  POST   /admin/oauth/access_token            grant_type=refresh_token (expiring offline tokens)
  DELETE /admin/api_permissions/current.json  uninstall: every token of the app stops working
plus the control API of common.py under /_fake/. Storefront tokens are minted
with POST /_fake/tokens {"storefront": "private"|"public"}.
"""

import datetime
import decimal
import functools
import operator
import os
import re
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import common  # noqa: E402
import gql  # noqa: E402
import shopify_search  # noqa: E402
import shopify_storefront  # noqa: E402
from common import OAuthError, json_response  # noqa: E402
from shopify_graphql import RATE_DOC, Execution, encode_cursor, paginate  # noqa: E402
from shopify_storefront import StorefrontExecution  # noqa: E402

# 401 body of the Admin API: `errors` is a string, not a list
# (community.shopify.com thread "[API] Invalid API key or access token").
# Other scripted statuses answer {"errors": phrase}.
INVALID_TOKEN = {"errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"}
STATUS_PHRASES = {402: "Payment Required", 403: "Forbidden", 404: "Not Found", 423: "Locked",
                  430: "Shopify Security Rejection", 500: "Internal Server Error",
                  502: "Bad Gateway", 503: "Unavailable Shop", 504: "Gateway Timeout"}
# An API version: YYYY-01/04/07/10 or unstable (else 404).
VERSION = re.compile(r"\d{4}-(01|04|07|10)|unstable")

# ---------------------------------------------------------------- the catalog as products

METAFIELD_TYPES = {"name": "single_line_text_field", "Brand Name": "single_line_text_field",
                   "description": "multi_line_text_field", "category": "single_line_text_field",
                   "price": "number_decimal", "stock": "number_integer", "in_stock": "boolean",
                   "released": "date", "updated_at": "date_time"}


def money(price):
    # Decimal scalars are strings; Shopify prints 75.0 as "75.0".
    return None if price is None else repr(float(price))


def parse_dt(text):
    """An RFC 3339 date-time or a date (midnight UTC) as an aware datetime, or None."""
    if text is None:
        return None
    t = text.strip()
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", t):
            return datetime.datetime.fromisoformat(t).replace(tzinfo=datetime.timezone.utc)
        if t.endswith(("Z", "z")):
            t = t[:-1] + "+00:00"
        dt = datetime.datetime.fromisoformat(t)
    except ValueError:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=datetime.timezone.utc)
    return dt.astimezone(datetime.timezone.utc)


def shopify_datetime(text):
    # DateTime scalars are ISO-8601 with second precision: "2024-02-01T12:30:00Z".
    dt = parse_dt(text)
    return None if dt is None else dt.replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def handle_of(row):
    slug = re.sub(r"[^a-z0-9]+", "-", (row["name"] or "").lower()).strip("-")
    return (slug + "-" if slug else "product-") + str(row["id"])


def product_of(row):
    pid = row["id"]
    created = row["released"] + "T00:00:00Z" if row["released"] else None
    updated = shopify_datetime(row["updated_at"])
    price = money(row["price"])
    variant = {"id": "gid://shopify/ProductVariant/%d" % pid, "legacyResourceId": str(pid),
               "title": "Default Title", "price": price, "sku": "RG-%05d" % pid,
               "inventoryQuantity": row["stock"], "availableForSale": row["in_stock"],
               "createdAt": created, "updatedAt": updated}
    metafields = []
    for k, col in enumerate(["name", "Brand Name", "description", "category", "price", "stock",
                             "in_stock", "released", "updated_at"]):
        v = row[col]
        if v is None:
            continue
        if isinstance(v, bool):
            text = "true" if v else "false"
        elif isinstance(v, float):
            text = repr(v)
        else:
            text = str(v)
        key = "brand" if col == "Brand Name" else col
        metafields.append({"id": "gid://shopify/Metafield/%d" % (pid * 100 + k), "namespace": "custom",
                           "key": key, "value": text, "type": METAFIELD_TYPES[col]})
    desc = row["description"]
    html = None if desc is None else "<p>%s</p>" % (desc.replace("&", "&amp;").replace("<", "&lt;")
                                                    .replace(">", "&gt;"))
    money_obj = None if price is None else {"amount": price, "currencyCode": "USD"}
    return {"id": "gid://shopify/Product/%d" % pid, "legacyResourceId": str(pid),
            "title": row["name"], "handle": handle_of(row), "vendor": row["Brand Name"],
            "productType": row["category"], "description": desc, "descriptionHtml": html,
            "tags": [row["category"]] if row["category"] else [], "status": "ACTIVE",
            "totalInventory": row["stock"], "tracksInventory": True, "createdAt": created,
            "publishedAt": created, "updatedAt": updated,
            "priceRangeV2": None if money_obj is None else {"minVariantPrice": money_obj,
                                                           "maxVariantPrice": money_obj},
            # Storefront API members.
            "priceRange": None if money_obj is None else {"minVariantPrice": money_obj,
                                                         "maxVariantPrice": money_obj},
            "availableForSale": row["in_stock"], "isGiftCard": False,
            "_row": row, "_variants": [variant], "_metafields": metafields}


# ---------------------------------------------------------------- search terms

TEXT_FIELDS = {"title": "title", "vendor": "vendor", "product_type": "productType",
               "handle": "handle", "body": "description", "description": "description"}
NUMBER_FIELDS = {"id": lambda p: p["_row"]["id"], "inventory_total": lambda p: p["totalInventory"],
                 "price": lambda p: p["_row"]["price"]}
DATE_FIELDS = {"created_at": "createdAt", "updated_at": "updatedAt", "published_at": "publishedAt"}
DEFAULT_FIELDS = ("title", "vendor", "productType", "description")


def fold(s):
    return s.casefold()


@functools.lru_cache(maxsize=4096)
def to_number(text):
    # Cached: a term's value is converted once per product it is matched against.
    try:
        d = decimal.Decimal(text.strip())
    except (decimal.InvalidOperation, AttributeError):
        return None
    return d if d.is_finite() else None


@functools.lru_cache(maxsize=4096, typed=True)
def to_decimal(value):
    """A catalog number (int or float) as a Decimal; a float through its repr,
    so 0.1 is 0.1."""
    return decimal.Decimal(repr(value) if isinstance(value, float) else value)


COMPARATOR = {":": operator.eq, ":<": operator.lt, ":>": operator.gt, ":<=": operator.le,
              ":>=": operator.ge}


def compare(a, op, b):
    return COMPARATOR[op](a, b)


def text_match(value, term):
    if value is None:
        return False
    if term.kind == "exists":
        return value != ""
    if term.comparator != ":":
        return compare(fold(value), term.comparator, fold(term.value))
    # Superset of Shopify's tokenized, case-insensitive matching (README.md).
    return fold(term.value) in fold(value)


class SearchContext:
    def __init__(self):
        self.warnings = []

    def warn(self, field, message):
        w = {"field": field, "message": message}
        if w not in self.warnings:
            self.warnings.append(w)

    def match(self, product, term):
        f = term.field
        if f is None:
            if term.kind == "exists":
                return True
            return any(text_match(product[k], term) for k in DEFAULT_FIELDS) or \
                any(text_match(t, term) for t in product["tags"])
        if f in TEXT_FIELDS:
            return text_match(product[TEXT_FIELDS[f]], term)
        if f == "sku":
            return any(text_match(v["sku"], term) for v in product["_variants"])
        if f in ("tag", "tag_not"):
            if term.kind == "exists":
                hit = bool(product["tags"])
            elif term.kind == "prefix":
                hit = any(fold(t).startswith(fold(term.value)) for t in product["tags"])
            else:
                hit = any(fold(t) == fold(term.value) for t in product["tags"])
            return hit if f == "tag" else not hit
        if f == "status":
            # Every product of the catalog is ACTIVE; `status:active,draft` lists several.
            return term.kind == "exists" or "active" in [v.strip() for v in fold(term.value).split(",")]
        if f in NUMBER_FIELDS:
            return self.number(NUMBER_FIELDS[f](product), term)
        if f in DATE_FIELDS:
            return self.date(product[DATE_FIELDS[f]], term)
        if f.startswith("metafields."):
            parts = f.split(".")
            if len(parts) != 3:
                self.warn(f, "Invalid search field for this query.")
                return None
            mf = next((m for m in product["_metafields"]
                       if m["namespace"] == parts[1] and m["key"] == parts[2]), None)
            if mf is None:
                return False
            if term.kind == "exists":
                return True
            t = mf["type"]
            if t.startswith("number_"):
                return self.number(to_number(mf["value"]), term)
            if t in ("date", "date_time"):
                return self.date(mf["value"], term)
            if term.kind == "prefix":
                return fold(mf["value"]).startswith(fold(term.value))
            return compare(fold(mf["value"]), term.comparator, fold(term.value))
        # An unknown filter is ignored and reported, as Shopify does in
        # extensions.search warnings.
        self.warn(f, "Invalid search field for this query.")
        return None

    def number(self, value, term):
        if value is None:
            return False
        if term.kind == "exists":
            return True
        if term.field == "id" and term.value.startswith("gid://shopify/Product/"):
            want = to_number(term.value.rsplit("/", 1)[1])
        else:
            want = to_number(term.value)
        if want is None or term.kind == "prefix":
            self.warn(term.field, "Invalid value for this search field.")
            return False
        return compare(to_decimal(value), term.comparator, want)

    def date(self, value, term):
        have = parse_dt(value)
        if have is None:
            return False
        if term.kind == "exists":
            return True
        want = parse_dt(term.value)
        if want is None:
            self.warn(term.field, "Invalid date for this search field.")
            return False
        if term.comparator == ":" and re.fullmatch(r"\d{4}-\d{2}-\d{2}", term.value.strip()):
            return have.date() == want.date()
        return compare(have, term.comparator, want)


class StorefrontSearchContext(SearchContext):
    """The search fields the Storefront API documents for `products(query:)`:
    available_for_sale, created_at, product_type, tag, tag_not, title,
    updated_at, variants.price, vendor (and free text). Any other field is
    ignored, as the Admin API ignores an unknown one; the Storefront API
    reports no extensions.search warnings."""

    def match(self, product, term):
        f = term.field
        if f is None or f in ("title", "vendor", "tag", "tag_not", "created_at", "updated_at"):
            return super().match(product, term)
        if f == "product_type":
            # "Filter by a comma-separated list of product types."
            if term.kind == "exists" or "," not in term.value:
                return super().match(product, term)
            return any(super(StorefrontSearchContext, self).match(
                product, shopify_search.Term(f, term.comparator, part.strip(), term.kind, term.quoted))
                for part in term.value.split(",") if part.strip())
        if f == "variants.price":
            # Any variant's price (the catalog has one variant per product).
            return self.number(product["_row"]["price"], term)
        if f == "available_for_sale":
            have = product["availableForSale"]
            if have is None:
                return False
            if term.kind == "exists":
                return True
            want = fold(term.value)
            if term.comparator != ":" or term.kind != "literal" or want not in ("true", "false"):
                self.warn(f, "Invalid value for this search field.")
                return False
            return have is (want == "true")
        return None


# ---------------------------------------------------------------- sorting

def _text_key(v):
    return (1, "", "") if v is None else (0, fold(v), v)


SORT_KEYS = {
    "ID": lambda p: (0, p["_row"]["id"]),
    "RELEVANCE": lambda p: (0, p["_row"]["id"]),
    "TITLE": lambda p: _text_key(p["title"]),
    "VENDOR": lambda p: _text_key(p["vendor"]),
    "PRODUCT_TYPE": lambda p: _text_key(p["productType"]),
    "CREATED_AT": lambda p: _text_key(p["createdAt"]),
    "PUBLISHED_AT": lambda p: _text_key(p["publishedAt"]),
    "UPDATED_AT": lambda p: _text_key(p["updatedAt"]),
    "INVENTORY_TOTAL": lambda p: (1, 0) if p["totalInventory"] is None else (0, p["totalInventory"]),
    # Storefront API only.
    "PRICE": lambda p: (1, 0) if p["_row"]["price"] is None else (0, p["_row"]["price"]),
    "BEST_SELLING": lambda p: (0, p["_row"]["id"]),
}


def full_key(sort, p):
    return (SORT_KEYS[sort](p), p["_row"]["id"])


# Parsed documents and search strings are kept by their text: an adapter
# sends one fixed document (only the variables change) and pages through the
# same search string. Both parse results are read-only. A full cache is
# emptied rather than grown, so hostile input cannot make it unbounded.
PARSE_CACHE_MAX = 512


def cached(cache, key, parse):
    hit = cache.get(key)
    if hit is None:
        if len(cache) >= PARSE_CACHE_MAX:
            cache.clear()
        hit = cache[key] = (parse(key),)
    return hit[0]


# ---------------------------------------------------------------- the fake

class ShopifyFake(common.FakeProvider):
    """Fake Shopify Admin GraphQL API (products, OAuth refresh, cost throttle)."""

    name = "shopify"
    token_prefixes = {"access": "shpat_", "refresh": "shprt_"}

    @staticmethod
    def add_arguments(p):
        p.add_argument("--shop", default="demo-shop.myshopify.com")
        p.add_argument("--bucket-max", type=float, default=1000.0,
                       help="throttleStatus.maximumAvailable (points)")
        p.add_argument("--restore-rate", type=float, default=50.0,
                       help="throttleStatus.restoreRate (points per second)")

    def __init__(self, args):
        super().__init__(args)
        self.products = [product_of(r) for r in self.rows]
        self.by_gid = {p["_row"]["id"]: p for p in self.products}
        self.by_handle = {p["handle"]: p for p in self.products}
        self.buckets = {}
        # The catalog never changes, so the order of the products under each
        # sortKey, both ways, is computed once: {(sort, reverse): [(product,
        # key, cursor)]}. Python's sort is stable either way, so keeping the
        # matches of a search in this order is sorting them.
        self.orders = {}
        for sort in SORT_KEYS:
            keyed = [(p, full_key(sort, p)) for p in self.products]
            for rev in (False, True):
                self.orders[sort, rev] = [(p, k, encode_cursor(sort, k))
                                          for p, k in sorted(keyed, key=lambda e: e[1], reverse=rev)]
        self.documents = {}  # GraphQL source -> gql.Document
        self.searches = {}   # search string -> self.search(q)
        self.storefront_searches = {}  # the same for the Storefront API's fields

    def default_config(self):
        cfg = super().default_config()
        # Expiring offline refresh tokens live 90 days (changelog, Aug 2026).
        cfg.update({"refresh_token_ttl_s": 90 * 86400, "refresh_grace": True,
                    "throttle": {"enabled": True, "maximum_available": self.args.bucket_max,
                                 "restore_rate": self.args.restore_rate}})
        return cfg

    def provider_config_keys(self):
        return ["refresh_grace", "throttle", "currently_available"]

    def apply_config_key(self, key, value, config, dry_run):
        if key == "refresh_grace":
            if not isinstance(value, bool):
                raise ValueError("refresh_grace must be true or false")
            if not dry_run:
                config[key] = value
            return True
        if key == "throttle":
            known = {"enabled", "maximum_available", "restore_rate"}
            if not isinstance(value, dict) or set(value) - known:
                raise ValueError("throttle takes an object with %s" % ", ".join(sorted(known)))
            for k in ("maximum_available", "restore_rate"):
                if k in value and (not isinstance(value[k], (int, float)) or value[k] < 0):
                    raise ValueError("throttle.%s must be a non-negative number" % k)
            if not dry_run:
                config["throttle"] = dict(config["throttle"], **value)
                self.buckets = {}
            return True
        if key == "currently_available":
            if not isinstance(value, (int, float)) or value < 0:
                raise ValueError("currently_available must be a non-negative number")
            if not dry_run:
                for cid in set(list(self.buckets) + [self.args.client_id]):
                    self.buckets[cid] = [float(value), time.monotonic()]
            return True
        return False

    def reset_provider(self):
        self.buckets = {}

    # -- the catalog, for shopify_graphql.Execution
    def product_by_id(self, pid):
        return self.by_gid.get(pid)

    def product_by_handle(self, handle):
        return self.by_handle.get(handle)

    def search(self, q, context=SearchContext):
        """The search string evaluated on every product: (the id() of each
        match, the extensions.search warnings, {} for sorted_matches). Depends
        on q alone (the catalog never changes), so products_connection keeps
        it by q."""
        tree = shopify_search.parse(q)
        ctx = context()
        matched = {id(p) for p in self.products
                   if shopify_search.evaluate(tree, lambda t, p=p: ctx.match(p, t)) is not False}
        return matched, ctx.warnings, {}

    def sorted_matches(self, found, sort, rev):
        """The matches of a search() in sortKey order: (products, their keys,
        their cursors), kept with the search."""
        matched, _, by_order = found
        out = by_order.get((sort, rev))
        if out is None:
            hits = [e for e in self.orders[sort, rev] if id(e[0]) in matched]
            out = by_order[sort, rev] = ([e[0] for e in hits], [e[1] for e in hits], [e[2] for e in hits])
        return out

    def storefront_search(self, q):
        return self.search(q, StorefrontSearchContext)

    def products_connection(self, args, path, ex, storefront=False):
        """QueryRoot.products: the search string evaluated on every product,
        then sortKey/reverse and Relay paging."""
        q = args.get("query")
        try:
            if storefront:
                found = cached(self.storefront_searches, q, self.storefront_search)
            else:
                found = cached(self.searches, q, self.search)
        except shopify_search.SearchSyntaxError as e:
            # Fake-only strictness (shopify_search.py): a documented error, not a guess.
            raise gql.GraphQLError("Invalid search query: %s" % e, code="INVALID_SEARCH_QUERY")
        warnings = found[1]
        if warnings and not storefront:
            ex.search.append({"path": path, "query": q, "warnings": list(warnings)})
        sort = args.get("sortKey") or "ID"
        items, keys, cursors = self.sorted_matches(found, sort, bool(args.get("reverse")))
        return paginate(items, args, None, sort, "products", ex, keys=keys, cursors=cursors)

    def default_scope(self):
        return "read_products"

    def mint_extra(self, body, out):
        if "refresh_token" in out:
            self.refresh_ttl_field(out, "refresh_token_expires_in")

    def routes(self):
        R = common.Route
        return [R("POST", r"/admin/api/(?P<version>[^/]+)/graphql\.json", self.graphql),
                R("POST", r"/api/(?P<version>[^/]+)/graphql\.json", self.storefront_graphql),
                R("POST", r"/admin/oauth/access_token", self.token, "oauth"),
                R("DELETE", r"/admin/api_permissions/current\.json", self.uninstall)]

    # -- throttle: a leaky bucket per app (https://shopify.dev/docs/api/usage/limits)
    def bucket(self, client_id):
        th = self.config["throttle"]
        now = time.monotonic()
        b = self.buckets.setdefault(client_id, [float(th["maximum_available"]), now])
        b[0] = min(float(th["maximum_available"]), b[0] + (now - b[1]) * float(th["restore_rate"]))
        b[1] = now
        return b

    def throttle_status(self, b):
        th = self.config["throttle"]
        return {"maximumAvailable": float(th["maximum_available"]),
                "currentlyAvailable": float(int(b[0])), "restoreRate": float(th["restore_rate"])}

    # -- errors
    def fault_response(self, status, rule, req):
        if req.path.startswith("/api/"):
            return self.storefront_fault(status, rule)
        if rule.get("kind") == "throttled":
            b = self.bucket(self.args.client_id)
            return json_response(200, {"errors": [{"message": "Throttled", "extensions": {
                "code": "THROTTLED", "documentation": RATE_DOC}}], "extensions": {"cost": {
                    "requestedQueryCost": 0, "actualQueryCost": None,
                    "throttleStatus": self.throttle_status(b)}}})
        if req.path.startswith("/admin/oauth/"):
            return json_response(status, {"error": "server_error" if status >= 500 else "invalid_request",
                                          "error_description": "scripted fault %d" % status})
        if status == 401:
            return json_response(401, INVALID_TOKEN)
        if status == 429:
            # The REST-style 429 with Retry-After (https://shopify.dev/docs/api/usage/limits).
            return json_response(429, {"errors": "Exceeded 2 calls per second for api client. "
                                                 "Reduce request rates to resume uninterrupted service."},
                                 {"Retry-After": "2.0"})
        return self.phrase_response(status)

    @staticmethod
    def phrase_response(status):
        return json_response(status, {"errors": STATUS_PHRASES.get(status, "Error %d" % status)})

    def storefront_fault(self, status, rule):
        if rule.get("kind") == "throttled":
            # The Storefront API's throttle answer has no cost extension: it
            # keeps no cost bucket.
            return json_response(200, {"errors": [{"message": "Throttled",
                                                   "extensions": {"code": "THROTTLED"}}]})
        if status == 401:
            return json_response(401, shopify_storefront.UNAUTHORIZED)
        if status == 429:
            return json_response(429, {"errors": "Too Many Requests"}, {"Retry-After": "2.0"})
        return self.phrase_response(status)

    def not_found(self, req):
        return json_response(404, {"errors": "Not Found"})

    def bad_request(self, req, message):
        return json_response(400, {"errors": {"query": "Required parameter missing or invalid"}})

    def authenticate(self, req):
        grant, _ = self.tokens.check_access(req.header("X-Shopify-Access-Token"))
        # A Storefront token is no Admin API token.
        return None if grant is None or grant.get("storefront") else grant

    def storefront_grant(self, req):
        """The grant of a Storefront token of the kind its header says: a
        private (delegate) token in Shopify-Storefront-Private-Token, a public
        one in X-Shopify-Storefront-Access-Token. None otherwise (an Admin
        token, the wrong kind, no token: tokenless access is left out)."""
        token, kind = req.header("Shopify-Storefront-Private-Token"), "private"
        if token is None:
            token, kind = req.header("X-Shopify-Storefront-Access-Token"), "public"
        grant, _ = self.tokens.check_access(token)
        return grant if grant is not None and grant.get("storefront") == kind else None

    def mint(self, body):
        """POST /_fake/tokens; with "storefront": "private"|"public" a
        Storefront token, which does not expire and has no refresh token
        (the shop's admin makes it), with the Storefront scopes by default."""
        kind = body.get("storefront")
        if kind is None:
            return super().mint(body)
        if kind not in ("private", "public"):
            raise ValueError("storefront must be 'private' or 'public'")
        body = dict(body, refresh=False)
        del body["storefront"]
        body.setdefault("expires_in", None)
        body.setdefault("scope", shopify_storefront.DEFAULT_SCOPES)
        out, gid = super().mint(body)
        self.tokens.grants[gid]["storefront"] = kind
        self.tokens.save()
        return out, gid

    def graphql_request(self, req, execution, grant):
        """(the validated Execution, None), or (None, the answer) for a wrong
        body or document."""
        ctype = (req.header("Content-Type") or "").split(";")[0].strip().lower()
        if ctype == "application/graphql":
            src, variables, op_name = req.body.decode("utf-8", "replace"), {}, None
        else:
            body = req.json()
            if not isinstance(body, dict) or not isinstance(body.get("query"), str):
                return None, self.bad_request(req, "query")
            src, variables, op_name = body["query"], body.get("variables"), body.get("operationName")
        try:
            doc = cached(self.documents, src, gql.parse)
            ex = execution(self, doc, src, variables, op_name, grant["scope"] or "")
            ex.validate("QueryRoot", ex.op.selections, [])
        except gql.GraphQLError as e:
            return None, json_response(200, {"errors": [e.to_json()]})
        return ex, None

    @staticmethod
    def graphql_result(ex):
        """(the answer's {"errors", "data"}, None), or (None, the answer)
        when the operation failed as a whole."""
        try:
            data = ex.complete("QueryRoot", {}, ex.op.selections, [])
        except gql.GraphQLError as e:
            return None, json_response(200, {"errors": [e.to_json()]})
        out = {}
        if ex.errors:
            out["errors"] = [e.to_json() for e in ex.errors]
        out["data"] = data
        return out, None

    # -- POST /admin/api/{version}/graphql.json
    def graphql(self, req, version):
        if not VERSION.fullmatch(version):
            return self.not_found(req)
        grant = self.authenticate(req)
        if grant is None:
            return json_response(401, INVALID_TOKEN)
        ex, answer = self.graphql_request(req, Execution, grant)
        if ex is None:
            return answer
        try:
            requested = ex.requested_cost()
        except gql.GraphQLError as e:
            return json_response(200, {"errors": [e.to_json()]})
        th = self.config["throttle"]
        b = self.bucket(grant["client_id"])
        if th["enabled"]:
            if requested > th["maximum_available"]:
                return json_response(200, {"errors": [{
                    "message": "Query cost is %d, which exceeds the single query max cost limit (%d)."
                               % (requested, th["maximum_available"]),
                    "extensions": {"code": "MAX_COST_EXCEEDED", "cost": requested,
                                   "maxCost": int(th["maximum_available"]), "documentation": RATE_DOC}}]})
            if requested > b[0]:
                return json_response(200, {"errors": [{"message": "Throttled", "extensions": {
                    "code": "THROTTLED", "documentation": RATE_DOC}}], "extensions": {"cost": {
                        "requestedQueryCost": requested, "actualQueryCost": None,
                        "throttleStatus": self.throttle_status(b)}}})
            b[0] -= requested
        out, answer = self.graphql_result(ex)
        if out is None:
            return answer
        if th["enabled"]:
            # The bucket is charged the requested cost, then refunded the
            # difference with the actual cost.
            b[0] = min(float(th["maximum_available"]), b[0] + max(0, requested - ex.actual))
        ext = {"cost": {"requestedQueryCost": requested, "actualQueryCost": ex.actual,
                        "throttleStatus": self.throttle_status(b)}}
        if ex.search:
            ext["search"] = ex.search
        out["extensions"] = ext
        return json_response(200, out)

    # -- POST /api/{version}/graphql.json (Storefront API)
    def storefront_graphql(self, req, version):
        if not VERSION.fullmatch(version):
            return self.not_found(req)
        grant = self.storefront_grant(req)
        if grant is None:
            return json_response(401, shopify_storefront.UNAUTHORIZED)
        ex, answer = self.graphql_request(req, StorefrontExecution, grant)
        if ex is None:
            return answer
        out, answer = self.graphql_result(ex)
        return answer if out is None else json_response(200, out)

    # -- POST /admin/oauth/access_token
    def token(self, req):
        try:
            form = req.form()
        except common.BadRequest as e:
            return json_response(400, {"error": "invalid_request", "error_description": str(e)})
        cid, secret = form.get("client_id"), form.get("client_secret")
        if cid != self.args.client_id or secret != self.args.client_secret:
            return json_response(401, {"error": "invalid_client",
                                       "error_description": "Client credentials are invalid"})
        gt = form.get("grant_type")
        if gt != "refresh_token":
            if "code" in form:
                return json_response(400, {"error": "invalid_request", "error_description":
                                           "The authorization code was not found or was already used"})
            return json_response(400, {"error": "unsupported_grant_type",
                                       "error_description": "grant_type %r is not supported" % gt})
        rt = form.get("refresh_token")
        if not rt:
            return json_response(400, {"error": "invalid_request",
                                       "error_description": "refresh_token is required"})
        rotation = "grace" if self.config["refresh_grace"] else "always"
        try:
            out = self.tokens.refresh_grant(rt, cid, rotation, self.access_ttl(),
                                            self.config["refresh_token_ttl_s"])
        except OAuthError as e:
            return json_response(e.status, {"error": e.error, "error_description": e.description})
        grant = self.tokens.grants[out["grant"]]
        return json_response(200, self.refresh_ttl_field({
            "access_token": out["access_token"], "scope": grant["scope"],
            "expires_in": int(self.access_ttl()), "refresh_token": out["refresh_token"]},
            "refresh_token_expires_in"))

    # -- DELETE /admin/api_permissions/current.json
    def uninstall(self, req):
        # Uninstalling revokes every token of the app on this store
        # (https://shopify.dev/docs/apps/build/authentication-authorization/app-installation/uninstall-app-api-request).
        grant = self.authenticate(req)
        if grant is None:
            return json_response(401, INVALID_TOKEN)
        for gid, g in self.tokens.grants.items():
            if g["client_id"] == grant["client_id"]:
                self.tokens.revoke_grant(gid, "app uninstalled")
        return json_response(200, {})


if __name__ == "__main__":
    common.serve(ShopifyFake)
