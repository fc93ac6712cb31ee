"""The catalog the HTTP tests query, and an independent oracle for it.

The rows are generated deterministically in Python, loaded into PostgreSQL
with psql, and kept here as Python objects, so every test computes the rows
readgate must return by applying docs/http-api.md semantics itself: filters are
AND-ed, NULL matches no filter (ne included), ASCII letters fold for prefix,
contains and search, strings order by code point (UTF-8 byte order), NULLs
sort last ascending and first descending, and the key breaks ties ascending.
"""

import datetime
import functools
import os
import random
import subprocess

# --- the public description of collection "products" (site testsite01) -----

CATEGORIES = ["bags", "boots", "hats", "shirts", "shoes", "socks"]

# name -> config of the field. "column" maps to a differently named column.
PRODUCT_FIELDS = {
    "id": {"type": "integer", "display": True, "sortable": True,
           "filterable": ["eq", "ne", "lt", "lte", "gt", "gte", "in", "between"]},
    "name": {"type": "string", "display": True, "searchable": True, "sortable": True,
             "filterable": ["eq", "ne", "in", "prefix", "contains"]},
    "category": {"type": "enum", "values": CATEGORIES, "display": True, "sortable": True,
                 "filterable": ["eq", "ne", "in"]},
    "brand": {"type": "string", "display": True, "searchable": True, "sortable": True,
              "filterable": ["eq", "ne", "lt", "gte", "in", "prefix", "contains"]},
    "price": {"type": "number", "display": True, "sortable": True,
              "filterable": ["eq", "ne", "lt", "lte", "gt", "gte", "in", "between"]},
    "in_stock": {"type": "boolean", "display": True, "filterable": ["eq", "ne"]},
    "rating": {"type": "number", "display": True, "sortable": True,
               "filterable": ["eq", "ne", "lt", "gte", "between"]},
    "released": {"type": "date", "display": True, "sortable": True,
                 "filterable": ["eq", "ne", "lt", "lte", "gt", "gte", "in", "between"]},
    "updated_at": {"type": "datetime", "display": True, "sortable": True,
                   "filterable": ["eq", "lt", "lte", "gt", "gte", "between"]},
    # searchable and filterable, but never returned
    "tags": {"type": "string", "searchable": True, "filterable": ["contains"]},
    # returned, never filterable
    "color": {"type": "string", "display": True},
    # the backend column has another name, with a space and capitals
    "sku": {"type": "string", "column": "Product Code", "display": True, "sortable": True,
            "filterable": ["eq", "prefix"]},
    # declared with no role: unknown to the outside world
    "internal_cost": {"type": "number"},
}

DISPLAY = [f for f, c in PRODUCT_FIELDS.items() if c.get("display")]
SEARCHABLE = [f for f, c in PRODUCT_FIELDS.items() if c.get("searchable")]
SORTABLE = [f for f, c in PRODUCT_FIELDS.items() if c.get("sortable")]
KEY = "id"

LONG_NAME = "Long " + "y" * 251  # exactly 256 bytes
assert len(LONG_NAME.encode()) == 256
LONG_UNICODE = "é" * 128  # 256 bytes of two-byte characters
assert len(LONG_UNICODE.encode()) == 256

# Names that look like syntax in SQL, LIKE, regexes, Mongo or JSON, each with a
# near twin that a wildcard or injection would also (wrongly) match.
HOSTILE_NAMES = [
    "' OR 1=1 --",
    "' OR '1'='1",
    "Robert'); DROP TABLE products;--",
    "100% cotton",
    "100 cotton",
    "1000 cotton",
    "under_score",
    "underXscore",
    "under score",
    "back\\slash",
    "backslash",
    "back\\\\slash",
    '"double" quotes',
    "O'Brien",
    "OBrien",
    "O''Brien",
    "Crème brûlée",
    "Creme brulee",
    "運動靴",
    "運動",
    "👟 sneaker",
    "sneaker 👟👟",
    LONG_NAME,
    LONG_UNICODE,
    "$gt",
    "{\"$ne\": null}",
    "{",
    "*",
    "a*b",
    "axb",
    "^.*$",
    "[abc]",
    "a.c",
    "NULL",
    "%_\\",
    "semi;colon",
]

ADJECTIVES = ["Red", "red", "Blue", "blue", "Green", "Black", "white", "Trail", "trail",
              "Classic", "apple", "Zesty", "zebra", "Urban", "Alpine"]
NOUNS = ["Runner", "runner", "Sneaker", "Boot", "boot", "Shirt", "Hat", "Bag", "Sock",
         "Sandal", "Loafer", "Parka"]
BRANDS = ["Acme", "acme", "Zeta", "zeta", "Brand_X", "BrandXX", "Émile", "Ørsted",
          "Nike-ish", "100%", "Zed", "ACME", None]
COLORS = ["red", "blue", "Black", "white", "Grün", None]
TAGS = ["running", "trail", "leather", "waterproof", "summer", "winter", "kids", "sale",
        "vegan", "Wide"]

NROWS = 250


def _generate():
    rnd = random.Random(20240521)
    rows = []
    base_ts = datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc)
    for i in range(1, NROWS + 1):
        if i > NROWS - len(HOSTILE_NAMES):
            name = HOSTILE_NAMES[i - (NROWS - len(HOSTILE_NAMES)) - 1]
        else:
            name = "%s %s" % (rnd.choice(ADJECTIVES), rnd.choice(NOUNS))
            if rnd.random() < 0.3:
                name += " %d" % rnd.randint(1, 99)
        cents = rnd.choice([2000, 5000, 1999, 4999]) if rnd.random() < 0.15 else \
            rnd.randint(500, 30000)
        price = cents / 100.0
        rating = None if rnd.random() < 0.15 else rnd.randint(10, 50) / 10.0
        r = rnd.random()
        in_stock = None if r < 0.06 else (r < 0.6)
        released = None if rnd.random() < 0.1 else (
            datetime.date(2020, 1, 1) + datetime.timedelta(days=rnd.randint(0, 1825))).isoformat()
        updated = base_ts + datetime.timedelta(seconds=rnd.randint(0, 180 * 86400))
        tags = " ".join(rnd.sample(TAGS, rnd.randint(1, 3)))
        sku = ("SKU-%04d" if i % 3 else "sku-%04d") % (i * 7 % 10000)
        rows.append({
            "id": i,
            "name": name,
            "category": rnd.choice(CATEGORIES),
            "brand": rnd.choice(BRANDS),
            "price": price,
            "in_stock": in_stock,
            "rating": rating,
            "released": released,
            "updated_at": updated.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "tags": tags,
            "color": rnd.choice(COLORS),
            "sku": sku,
            "internal_cost": round(price * 0.6, 2),
        })
    return rows


ROWS = _generate()
ROW_BY_ID = {r["id"]: r for r in ROWS}
NAME_TO_ID = {}
for _r in ROWS:
    NAME_TO_ID.setdefault(_r["name"], _r["id"])
for _n in HOSTILE_NAMES:
    assert _n in NAME_TO_ID, _n
assert len(set(HOSTILE_NAMES)) == len(HOSTILE_NAMES)

# A second site's table, and the table of the SQLite site.
OTHER_ITEMS = [{"id": i, "title": "other item %d" % i} for i in range(1, 11)]
SQLITE_ITEMS = [{"id": i, "name": "lite item %d" % i, "price": float(i)} for i in range(1, 31)]


# --- SQL generation ----------------------------------------------------------

def sql_literal(v):
    """A PostgreSQL literal (standard_conforming_strings on)."""
    if v is None:
        return "NULL"
    if isinstance(v, bool):
        return "TRUE" if v else "FALSE"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return repr(v)
    return "'" + str(v).replace("'", "''") + "'"


def load_sql():
    out = [
        "SET standard_conforming_strings = on;",
        "SET client_encoding = 'UTF8';",
        "DROP VIEW IF EXISTS public.slow_products;",
        "DROP FUNCTION IF EXISTS public.rg_slow_id(integer);",
        "DROP TABLE IF EXISTS public.products;",
        "DROP TABLE IF EXISTS public.other_items;",
        """CREATE TABLE public.products (
            id integer PRIMARY KEY,
            name text NOT NULL,
            category text NOT NULL,
            brand text,
            price numeric(10,2) NOT NULL,
            in_stock boolean,
            rating double precision,
            released date,
            updated_at timestamptz NOT NULL,
            tags text NOT NULL,
            color text,
            "Product Code" text NOT NULL,
            internal_cost numeric(10,2),
            supplier_secret text NOT NULL
        );""",
    ]
    cols = ["id", "name", "category", "brand", "price", "in_stock", "rating", "released",
            "updated_at", "tags", "color", "sku", "internal_cost"]
    for r in ROWS:
        vals = [sql_literal(r[c]) for c in cols]
        vals.append(sql_literal("secret-%d" % r["id"]))
        out.append("INSERT INTO public.products VALUES (%s);" % ", ".join(vals))
    out.append("CREATE TABLE public.other_items (id integer PRIMARY KEY, title text NOT NULL);")
    for r in OTHER_ITEMS:
        out.append("INSERT INTO public.other_items VALUES (%d, %s);"
                   % (r["id"], sql_literal(r["title"])))
    # A view that takes 0.5 s per row (minutes in all), for the timeout test: the
    # id comes out of a function, so no plan can skip calling it.
    out.append("CREATE FUNCTION public.rg_slow_id(i integer) RETURNS integer VOLATILE "
               "LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(0.5); RETURN i; END $$;")
    out.append("CREATE VIEW public.slow_products AS SELECT public.rg_slow_id(p.id) AS id, "
               "p.name FROM public.products p;")
    out.append("GRANT SELECT ON public.products, public.other_items, public.slow_products "
               "TO rg_reader;")
    return "\n".join(out) + "\n"


def psql(port, sql, db="catalog"):
    """Run SQL as the superuser; returns stdout (unaligned, tuples only)."""
    env = dict(os.environ, PGCONNECT_TIMEOUT="5")
    p = subprocess.run(["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
                        "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "-d", db],
                       input=sql.encode(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       env=env, timeout=60)
    if p.returncode != 0:
        raise RuntimeError("psql failed: %s" % p.stderr.decode(errors="replace"))
    return p.stdout.decode()


def load(port):
    psql(port, load_sql())
    n = int(psql(port, "SELECT count(*) FROM public.products").strip())
    if n != NROWS:
        raise RuntimeError("loaded %d rows, expected %d" % (n, NROWS))


CHECKSUM_SQL = "SELECT md5(string_agg(t::text, ',' ORDER BY id)) FROM public.products t"


def checksum(port):
    return psql(port, CHECKSUM_SQL).strip()


def make_sqlite(path):
    import sqlite3
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL, price REAL)")
    db.executemany("INSERT INTO items VALUES (?, ?, ?)",
                   [(r["id"], r["name"], r["price"]) for r in SQLITE_ITEMS])
    db.commit()
    db.close()


# --- the oracle ----------------------------------------------------------------

_ASCII_FOLD = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def fold(s):
    """ASCII letters only: the one folding every adapter must do."""
    return s.translate(_ASCII_FOLD)


def _cmp_value(ftype, v):
    # dates and canonical UTC datetimes compare as strings; str compares by code point
    return v


def match_filter(row, f, fields=PRODUCT_FIELDS, folder=fold):
    field, op, value = f["field"], f["op"], f["value"]
    v = row.get(field)
    if v is None:
        return False
    if op == "eq":
        return v == value
    if op == "ne":
        return v != value
    if op == "lt":
        return v < value
    if op == "lte":
        return v <= value
    if op == "gt":
        return v > value
    if op == "gte":
        return v >= value
    if op == "in":
        return v in value
    if op == "between":
        return value[0] <= v <= value[1]
    if op == "prefix":
        return folder(v).startswith(folder(value))
    if op == "contains":
        return folder(value) in folder(v)
    raise ValueError("unknown op " + op)


def match_search(row, text, searchable=None, folder=fold):
    searchable = searchable or SEARCHABLE
    for word in text.split():
        w = folder(word)
        if not any(row.get(f) is not None and w in folder(row[f]) for f in searchable):
            return False
    return True


def sort_rows(rows, sort=None, key=KEY):
    specs = list(sort or []) + [{"field": key, "dir": "asc"}]

    def cmp(a, b):
        for s in specs:
            f, desc = s["field"], s.get("dir", "asc") == "desc"
            x, y = a.get(f), b.get(f)
            if x is None and y is None:
                continue
            if x is None:
                return -1 if desc else 1
            if y is None:
                return 1 if desc else -1
            if x == y:
                continue
            r = -1 if x < y else 1
            return -r if desc else r
        return 0

    return sorted(rows, key=functools.cmp_to_key(cmp))


def expected(body, rows=None, display=None, folder=fold):
    """Every row the query must return, in order, projected, ignoring limit."""
    rows = ROWS if rows is None else rows
    display = display or DISPLAY
    out = [r for r in rows
           if all(match_filter(r, f, folder=folder) for f in body.get("filters") or [])
           and (not body.get("search") or match_search(r, body["search"], folder=folder))]
    out = sort_rows(out, body.get("sort"))
    fields = body.get("fields") or display
    return [{f: r[f] for f in fields} for r in out]


def unicode_fold(s):
    return s.lower()


def expected_fold_independent(body):
    """The expected rows, after checking that they don't depend on whether the
    backend folds non-ASCII letters (nothing may rely on that)."""
    a = expected(body)
    b = expected(body, folder=unicode_fold)
    if a != b:
        raise AssertionError("test query depends on non-ASCII case folding: %r" % (body,))
    return a
