"""Shopify's Admin GraphQL schema subset and its executor, for the fake Shopify.

Validation, calculated query cost and execution of one query operation over
the catalog that shopify.py supplies (fake.products_connection and
fake.product_by_id). Error messages and codes follow graphql-ruby, which the
Admin API runs: 'Field 'x' doesn't exist on type 'Product'' (undefinedField)
and so on. The executor takes its schema from class attributes, so the
Storefront API (shopify_storefront.py) runs on the same machinery with its
own schema subset.
"""

import base64
import json
import re

import gql

MAX_PAGE = 250  # the largest first/last of a connection
RATE_DOC = "https://shopify.dev/api/usage/rate-limits"

# ---------------------------------------------------------------- schema subset
# {type: {field: (type, {argument: type})}}; everything else is a scalar or an enum.
# The Relay connection of products, the same in both APIs.
CONNECTION_TYPES = {
    "ProductConnection": {"edges": ("[ProductEdge!]!", {}), "nodes": ("[Product!]!", {}),
                          "pageInfo": ("PageInfo!", {})},
    "ProductEdge": {"cursor": ("String!", {}), "node": ("Product!", {})},
    "PageInfo": {"hasNextPage": ("Boolean!", {}), "hasPreviousPage": ("Boolean!", {}),
                 "startCursor": ("String", {}), "endCursor": ("String", {})},
}

SCHEMA = {
    "QueryRoot": {
        "products": ("ProductConnection!", {"first": "Int", "last": "Int", "after": "String",
                                            "before": "String", "query": "String",
                                            "sortKey": "ProductSortKeys", "reverse": "Boolean",
                                            "savedSearchId": "ID"}),
        "product": ("Product", {"id": "ID!"}),
        "shop": ("Shop!", {}),
    },
    "Shop": {"id": ("ID!", {}), "name": ("String!", {}), "myshopifyDomain": ("String!", {}),
             "currencyCode": ("CurrencyCode!", {})},
    **CONNECTION_TYPES,
    "Product": {
        "id": ("ID!", {}), "legacyResourceId": ("UnsignedInt64!", {}), "title": ("String!", {}),
        "handle": ("String!", {}), "vendor": ("String!", {}), "productType": ("String!", {}),
        "description": ("String!", {"truncateAt": "Int"}), "descriptionHtml": ("HTML!", {}),
        "tags": ("[String!]!", {}), "status": ("ProductStatus!", {}),
        "totalInventory": ("Int!", {}), "tracksInventory": ("Boolean!", {}),
        "createdAt": ("DateTime!", {}), "updatedAt": ("DateTime!", {}),
        "publishedAt": ("DateTime", {}),
        "priceRangeV2": ("ProductPriceRangeV2!", {}),
        "variants": ("ProductVariantConnection!", {"first": "Int", "last": "Int", "after": "String",
                                                   "before": "String", "reverse": "Boolean"}),
        "metafield": ("Metafield", {"namespace": "String", "key": "String!"}),
        "metafields": ("MetafieldConnection!", {"first": "Int", "last": "Int", "after": "String",
                                                "before": "String", "namespace": "String",
                                                "keys": "[String!]"}),
    },
    "ProductPriceRangeV2": {"minVariantPrice": ("MoneyV2!", {}), "maxVariantPrice": ("MoneyV2!", {})},
    "MoneyV2": {"amount": ("Decimal!", {}), "currencyCode": ("CurrencyCode!", {})},
    "ProductVariantConnection": {"edges": ("[ProductVariantEdge!]!", {}),
                                 "nodes": ("[ProductVariant!]!", {}), "pageInfo": ("PageInfo!", {})},
    "ProductVariantEdge": {"cursor": ("String!", {}), "node": ("ProductVariant!", {})},
    "ProductVariant": {"id": ("ID!", {}), "legacyResourceId": ("UnsignedInt64!", {}),
                       "title": ("String!", {}), "price": ("Money!", {}), "sku": ("String", {}),
                       "inventoryQuantity": ("Int", {}), "availableForSale": ("Boolean!", {}),
                       "createdAt": ("DateTime!", {}), "updatedAt": ("DateTime!", {})},
    "MetafieldConnection": {"edges": ("[MetafieldEdge!]!", {}), "nodes": ("[Metafield!]!", {}),
                            "pageInfo": ("PageInfo!", {})},
    "MetafieldEdge": {"cursor": ("String!", {}), "node": ("Metafield!", {})},
    "Metafield": {"id": ("ID!", {}), "namespace": ("String!", {}), "key": ("String!", {}),
                  "value": ("String!", {}), "type": ("String!", {})},
}
ENUMS = {
    # https://shopify.dev/docs/api/admin-graphql/2025-01/enums/ProductSortKeys
    "ProductSortKeys": ["CREATED_AT", "ID", "INVENTORY_TOTAL", "PRODUCT_TYPE", "PUBLISHED_AT",
                        "RELEVANCE", "TITLE", "UPDATED_AT", "VENDOR"],
    "ProductStatus": ["ACTIVE", "ARCHIVED", "DRAFT"],
    "CurrencyCode": ["USD"],
}
SCALARS = {"ID", "String", "Int", "Float", "Boolean", "DateTime", "Decimal", "HTML", "Money",
           "UnsignedInt64", "URL", "JSON"}
# Wrapper types that cost nothing of their own: a connection costs 2 plus its
# objects ("Connections: two points plus the number of returned objects").
FREE_TYPES = {"PageInfo", "ProductEdge", "ProductVariantEdge", "MetafieldEdge"}


def parse_schema(schema):
    """{type: {field: (type string, {argument: type string})}} with every type
    string parsed."""
    return {name: {f: (gql.parse_type(t), {a: gql.parse_type(at) for a, at in args.items()})
                   for f, (t, args) in fields.items()} for name, fields in schema.items()}


TYPES = parse_schema(SCHEMA)


def named(t):
    while t[0] != "named":
        t = t[1]
    return t[1]


def is_leaf(t, types=TYPES):
    """A scalar or an enum, nullable or not (not a list, not an object)."""
    if t[0] == "nonnull":
        t = t[1]
    return t[0] == "named" and t[1] not in types


# ---------------------------------------------------------------- cursors and paging

def encode_cursor(sort, key):
    raw = json.dumps({"sort": sort, "key": key}, separators=(",", ":"), ensure_ascii=False)
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor, sort):
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        obj = json.loads(raw)
        if obj["sort"] != sort:
            return None

        def tup(x):
            return tuple(tup(i) for i in x) if isinstance(x, list) else x
        return tup(obj["key"])
    except (ValueError, KeyError, TypeError, UnicodeDecodeError):
        return None


def paginate(items, args, keyfn, sort, what, ctx, keys=None, cursors=None):
    """Relay pagination over an ordered list: first/last/after/before.
    keys and cursors, when given, are each item's keyfn(item) and
    encode_cursor(sort, key) computed beforehand."""
    first, last = args.get("first"), args.get("last")
    if first is None and last is None:
        raise ctx.error("you must provide one of first or last")
    if first is not None and last is not None:
        raise ctx.error("Passing both `first` and `last` to paginate the `%s` connection is not supported." % what)
    n = first if first is not None else last
    if n < 0:
        raise ctx.error("`%s` must be a non-negative integer" % ("first" if first is not None else "last"))
    if n > MAX_PAGE:
        raise ctx.error("The `%s` argument of `%s` may not exceed %d."
                        % ("first" if first is not None else "last", what, MAX_PAGE),
                        code="MAX_PAGE_SIZE_EXCEEDED")
    if keys is None:
        keys = [keyfn(p) for p in items]
    rev = bool(args.get("reverse"))
    lo, hi = 0, len(items)
    for name in ("after", "before"):
        if args.get(name) is None:
            continue
        k = decode_cursor(args[name], sort)
        if k is None:
            raise ctx.error("Invalid cursor for current pagination sort.", code="BAD_REQUEST")
        try:
            if name == "after":
                lo = max(lo, next((i for i, kk in enumerate(keys) if (kk < k if rev else kk > k)), len(keys)))
            else:
                hi = min(hi, next((i for i, kk in enumerate(keys) if (kk <= k if rev else kk >= k)), len(keys)))
        except TypeError:
            raise ctx.error("Invalid cursor for current pagination sort.", code="BAD_REQUEST")
    window = list(range(lo, max(lo, hi)))
    chosen = window[:n] if first is not None else window[max(0, len(window) - n):]
    if cursors is None:
        edges = [{"cursor": encode_cursor(sort, keys[i]), "node": items[i]} for i in chosen]
    else:
        edges = [{"cursor": cursors[i], "node": items[i]} for i in chosen]
    return {"edges": edges, "nodes": [e["node"] for e in edges],
            "pageInfo": {"hasNextPage": bool(chosen) and chosen[-1] < len(items) - 1,
                         "hasPreviousPage": bool(chosen) and chosen[0] > 0,
                         "startCursor": edges[0]["cursor"] if edges else None,
                         "endCursor": edges[-1]["cursor"] if edges else None}}


# ---------------------------------------------------------------- execution

class Execution:
    """Validates, prices and runs one operation against the catalog."""

    # The schema: the Admin API's; a subclass gives another API's.
    types, enums, scalars, free_types = TYPES, ENUMS, SCALARS, FREE_TYPES

    def __init__(self, fake, doc, src, variables, op_name, scope):
        self.fake, self.doc, self.src = fake, doc, src
        self.scope = scope
        self.errors = []
        self.actual = 0
        self.search = []
        # Within one execution the variables are fixed, so a selection set
        # flattens, and a field's arguments coerce, the same way each time
        # (once per product otherwise). Only results are kept: an error is
        # raised again on the next call.
        self._flat = {}
        self._args = {}
        self._plans = {}
        ops = doc.operations
        if op_name:
            ops = [o for o in ops if o.name == op_name]
            if not ops:
                raise gql.GraphQLError('No operation named "%s"' % op_name)
        elif len(ops) > 1:
            raise gql.GraphQLError("An operation name is required")
        if not ops:
            raise gql.GraphQLError("No operations in the document")
        self.op = ops[0]
        if self.op.kind != "query":
            # Reads only: this fake serves no mutation or subscription.
            raise gql.GraphQLError("This fake serves queries only; %s operations are not supported"
                                   % self.op.kind, self.op.pos, src, code="UNSUPPORTED_OPERATION")
        self.vars = self.coerce_variables(variables or {})

    def error(self, message, pos=None, code=None, path=None):
        return gql.GraphQLError(message, pos, self.src, code=code, path=path)

    # -- variables and arguments
    def coerce_variables(self, given):
        if not isinstance(given, dict):
            raise gql.GraphQLError("Variables must be a JSON object")
        out = {}
        for d in self.op.var_defs:
            name, t = d["name"], d["type"]
            if named(t) not in self.scalars and named(t) not in self.enums:
                raise self.error("%s isn't a valid input type (on $%s)" % (named(t), name), d["pos"],
                                 code="variableRequiresValidType")
            if name in given:
                value = given[name]
            elif d["has_default"]:
                value = self.literal(d["default"], t, {}, "$" + name, d["pos"])
                out[name] = value
                continue
            else:
                value = None
            problem = self.input_problem(value, t)
            if problem:
                raise gql.GraphQLError(
                    "Variable $%s of type %s was provided invalid value" % (name, gql.type_str(t)),
                    d["pos"], self.src, extensions={"value": value, "problems": [{"path": [],
                                                                                 "explanation": problem}]})
            out[name] = value
        return out

    def input_problem(self, value, t):
        if t[0] == "nonnull":
            if value is None:
                return "Expected value to not be null"
            return self.input_problem(value, t[1])
        if value is None:
            return None
        if t[0] == "list":
            for v in value if isinstance(value, list) else [value]:
                p = self.input_problem(v, t[1])
                if p:
                    return p
            return None
        n = t[1]
        ok = {"Int": lambda v: isinstance(v, int) and not isinstance(v, bool) and -2**31 <= v < 2**31,
              "Float": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
              "String": lambda v: isinstance(v, str), "Boolean": lambda v: isinstance(v, bool),
              "ID": lambda v: isinstance(v, (str, int)) and not isinstance(v, bool)}.get(n)
        if ok is not None:
            return None if ok(value) else "Could not coerce value %s to %s" % (json.dumps(value), n)
        if n in self.enums:
            return None if value in self.enums[n] else "Expected %s to be one of: %s" % (
                json.dumps(value), ", ".join(self.enums[n]))
        return None if isinstance(value, str) else "Could not coerce value %s to %s" % (json.dumps(value), n)

    def literal(self, node, t, vars_, where, pos):
        """An argument's value node coerced to type t."""
        kind, v = node
        if kind == "var":
            if v not in vars_ and v not in [d["name"] for d in self.op.var_defs]:
                raise self.error("Variable $%s is used by %s but not declared" % (v, where), pos,
                                 code="variableNotDefined")
            value = vars_.get(v)
            problem = self.input_problem(value, t)
            if problem:
                raise self.error("Variable $%s can't be used for argument '%s' of type %s: %s"
                                 % (v, where, gql.type_str(t), problem), pos,
                                 code="variableMismatch")
            return value
        bad = self.error("Argument '%s' has an invalid value (%s). Expected type '%s'."
                         % (where, json.dumps(v) if kind != "enum" else v, gql.type_str(t)), pos,
                         code="argumentLiteralsIncompatible")
        if t[0] == "nonnull":
            if kind == "null":
                raise bad
            return self.literal(node, t[1], vars_, where, pos)
        if kind == "null":
            return None
        if t[0] == "list":
            items = v if kind == "list" else [node]
            return [self.literal(i, t[1], vars_, where, pos) for i in items]
        n = t[1]
        if n == "Int" and kind == "int" and -2**31 <= v < 2**31:
            return v
        if n == "Float" and kind in ("int", "float"):
            return float(v)
        if n in ("String", "Decimal", "DateTime", "URL", "HTML", "Money") and kind == "string":
            return v
        if n == "ID" and kind in ("string", "int"):
            return str(v)
        if n == "Boolean" and kind == "bool":
            return v
        if n in self.enums and kind == "enum" and v in self.enums[n]:
            return v
        raise bad

    def args_of(self, field, argdefs, tname):
        key = (id(field), tname)
        out = self._args.get(key)
        if out is None:
            out = self._args[key] = self._args_of(field, argdefs, tname)
        return out

    def _args_of(self, field, argdefs, tname):
        out = {}
        for name, (node, pos) in field.args.items():
            if name not in argdefs:
                raise self.error("Field '%s' doesn't accept argument '%s'" % (field.name, name), pos,
                                 code="argumentNotAccepted")
            out[name] = self.literal(node, argdefs[name], self.vars, name, pos)
        missing = [a for a, t in argdefs.items() if t[0] == "nonnull" and out.get(a) is None]
        if missing:
            raise self.error("Field '%s' is missing required arguments: %s" % (field.name, ", ".join(missing)),
                             field.pos, code="missingRequiredArguments")
        return out

    # -- selections
    def included(self, directives):
        for name, args, pos in directives:
            if name not in ("include", "skip"):
                raise self.error("Directive @%s is not defined" % name, pos, code="undefinedDirective")
            if "if" not in args:
                raise self.error("Directive '%s' is missing required arguments: if" % name, pos,
                                 code="missingRequiredArguments")
            v = self.literal(args["if"][0], ("nonnull", ("named", "Boolean")), self.vars, "if", pos)
            if (name == "include") != bool(v):
                return False
        return True

    def flatten(self, selections, tname, seen=()):
        if seen:
            return self._flatten(selections, tname, seen)
        key = (id(selections), tname)
        out = self._flat.get(key)
        if out is None:
            out = self._flat[key] = self._flatten(selections, tname, seen)
        return out

    def _flatten(self, selections, tname, seen):
        out = []
        for s in selections:
            if not self.included(s.directives):
                continue
            if isinstance(s, gql.Field):
                out.append(s)
                continue
            if isinstance(s, gql.FragmentSpread):
                frag = self.doc.fragments.get(s.name)
                if frag is None:
                    raise self.error("Fragment %s was used, but not defined" % s.name, s.pos,
                                     code="useAndDefineFragment")
                if s.name in seen:
                    raise self.error("Fragment %s contains an infinite loop" % s.name, s.pos,
                                     code="infiniteLoop")
                cond, sels, seen2 = frag.type_condition, frag.selections, seen + (s.name,)
            else:
                cond, sels, seen2 = s.type_condition, s.selections, seen
            if cond is not None and cond not in self.types:
                raise self.error("No such type %s, so it can't be a fragment condition" % cond, s.pos,
                                 code="undefinedType")
            if cond is None or cond == tname:
                out.extend(self.flatten(sels, tname, seen2))
        return out

    def validate(self, tname, selections, path):
        """Static checks of the whole document before anything runs."""
        for f in self.flatten(selections, tname):
            if f.name == "__typename":
                continue
            fdef = self.types[tname].get(f.name)
            if fdef is None:
                raise gql.GraphQLError("Field '%s' doesn't exist on type '%s'" % (f.name, tname), f.pos,
                                       self.src, code="undefinedField", path=path + [f.key],
                                       extensions={"typeName": tname, "fieldName": f.name})
            ftype, argdefs = fdef
            self.args_of(f, argdefs, tname)
            base = named(ftype)
            if base in self.types:
                if not f.selections:
                    raise self.error("Field must have selections (field '%s' returns %s but has no "
                                     "selections. Did you mean '%s { ... }'?)" % (f.name, base, f.name),
                                     f.pos, code="selectionMismatch", path=path + [f.key])
                self.validate(base, f.selections, path + [f.key])
            elif f.selections:
                raise self.error("Selections can't be made on scalars (field '%s' returns %s but has "
                                 "selections [%s])" % (f.name, base, ", ".join(
                                     s.name for s in f.selections if isinstance(s, gql.Field))),
                                 f.pos, code="selectionMismatch", path=path + [f.key])

    def requested_cost(self):
        """Shopify's calculated query cost: an object costs 1, a scalar or an
        enum 0, a connection 2 plus first/last times the cost of one node
        (https://shopify.dev/docs/apps/build/apis/graphql-admin/rate-limits)."""
        return self._price("QueryRoot", self.op.selections)

    def _price(self, tname, selections, mult=1):
        total = 0
        for f in self.flatten(selections, tname):
            if f.name == "__typename":
                continue
            ftype, argdefs = self.types[tname][f.name]
            base = named(ftype)
            if base not in self.types:
                continue
            if base.endswith("Connection"):
                args = self.args_of(f, argdefs, tname)
                n = args.get("first") if args.get("first") is not None else (args.get("last") or 0)
                total += 2 * mult + self._price(base, f.selections, mult * max(0, n))
            elif base in self.free_types:
                total += self._price(base, f.selections, mult)
            else:
                total += mult + self._price(base, f.selections, mult)
        return total

    def complete(self, tname, obj, selections, path):
        if tname.endswith("Connection"):
            self.actual += 2
        elif tname not in self.free_types and tname != "QueryRoot":
            self.actual += 1
        out = {}
        for f, ftype, args, resolver, leaf in self.plan(tname, selections):
            if ftype is None:
                out[f.key] = tname
                continue
            if resolver is None:
                value = obj.get(f.name)
            else:
                try:
                    value = resolver(obj, args, f, path + [f.key])
                except gql.GraphQLError as e:
                    e.path = e.path or path + [f.key]
                    if not e.locations:
                        e.locations = [gql.location(self.src, f.pos)]
                    self.errors.append(e)
                    out[f.key] = None
                    continue
            # complete_value() returns a scalar or an enum as it is.
            out[f.key] = value if leaf else self.complete_value(ftype, value, f, path + [f.key])
        return out

    def plan(self, tname, selections):
        """What complete() does for each field of a selection set on tname:
        (field, type or None for __typename, arguments, resolver or None,
        whether the type is a scalar or an enum). The same for every object
        of one execution; validate() has already checked every field and
        argument, so building it raises nothing."""
        key = (tname, id(selections))
        plan = self._plans.get(key)
        if plan is None:
            plan = []
            for f in self.flatten(selections, tname):
                if f.name == "__typename":
                    plan.append((f, None, None, None, True))
                    continue
                ftype, argdefs = self.types[tname][f.name]
                plan.append((f, ftype, self.args_of(f, argdefs, tname),
                             getattr(self, "resolve_%s_%s" % (tname, f.name), None),
                             is_leaf(ftype, self.types)))
            self._plans[key] = plan
        return plan

    def complete_value(self, t, value, f, path):
        if value is None:
            return None  # the catalog has NULLs where Shopify's schema says non-null (README)
        if t[0] == "nonnull":
            return self.complete_value(t[1], value, f, path)
        if t[0] == "list":
            return [self.complete_value(t[1], v, f, path + [i]) for i, v in enumerate(value)]
        if t[1] in self.types:
            return self.complete(t[1], value, f.selections, path)
        return value

    # -- resolvers
    def need_scope(self, field, required="read_products", also=("write_products",)):
        """ACCESS_DENIED unless the token has `required` (or one of `also`)."""
        if not ({required, *also} & set(self.scope.replace(",", " ").split())):
            raise gql.GraphQLError("Access denied for %s field. Required access: `%s` "
                                   "access scope." % (field, required), code="ACCESS_DENIED",
                                   extensions={"documentation": "https://shopify.dev/api/usage/access-scopes",
                                               "requiredAccess": "`%s` access scope." % required})

    def resolve_QueryRoot_shop(self, obj, args, f, path):
        return {"id": "gid://shopify/Shop/1", "name": "Readgate fake shop",
                "myshopifyDomain": self.fake.args.shop, "currencyCode": "USD"}

    def resolve_QueryRoot_product(self, obj, args, f, path):
        self.need_scope("product")
        m = re.fullmatch(r"gid://shopify/Product/(\d+)", str(args["id"]))
        return self.fake.product_by_id(int(m.group(1))) if m else None

    def resolve_QueryRoot_products(self, obj, args, f, path):
        self.need_scope("products")
        return self.fake.products_connection(args, path, self)

    def resolve_Product_variants(self, obj, args, f, path):
        items = list(obj["_variants"])
        if args.get("reverse"):
            items.reverse()
        return paginate(items, args, lambda v: ((0, v["id"]), 0), "POSITION", "variants", self)

    def resolve_Product_metafield(self, obj, args, f, path):
        ns = args.get("namespace")
        return next((m for m in obj["_metafields"] if m["namespace"] == ns and m["key"] == args["key"]),
                    None)

    def resolve_Product_metafields(self, obj, args, f, path):
        items = [m for m in obj["_metafields"]
                 if (args.get("namespace") is None or m["namespace"] == args["namespace"])
                 and (args.get("keys") is None or "%s.%s" % (m["namespace"], m["key"]) in args["keys"])]
        return paginate(items, args, lambda m: ((0, m["id"]), 0), "ID", "metafields", self)

    def resolve_Product_description(self, obj, args, f, path):
        d, n = obj["description"], args.get("truncateAt")
        if d is not None and n is not None and len(d) > n:
            return d[:max(0, n - 3)] + "..."
        return d
