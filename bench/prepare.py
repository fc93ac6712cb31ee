#!/usr/bin/env python3
"""Write pre-signed requests for wrk (bench/replay.lua) to replay.

    prepare.py URL API_KEY SCENARIO COUNT OUT

Opens one session with the API key (backend mode), then writes COUNT
requests of SCENARIO, each with its own nonce and signature (a nonce is
accepted once), one per line: METHOD \\t PATH \\t TIMESTAMP \\t NONCE \\t
SIGNATURE \\t BODY. The first line is the session token. Signing uses the
independent client of the HTTP tests (tests/http/rgclient.py), so what is
measured is the gateway, never a shortcut.

Scenarios (site demo0001 of config/demo):
  collections     GET /collections: authentication and a prepared answer
  query_cached    one query body again and again: answered by the result cache
  query_uncached  a different query each time (price ranges, brands, pages):
                  every request reaches the SQLite adapter

Scenarios of bench/pg.sh (site RG_BENCH_SITE, the 100k-row items table):
  pg_items        category = 'boots' ORDER BY price, id LIMIT 20 (id, name, price)
                  on a collection without cache: every request reaches PostgreSQL
  pg_items_cached the same on a cached collection
  my_items        the same query on MariaDB (collection my_items, no cache)
"""
import json
import os
import random
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "http"))
import rgclient  # noqa: E402

SITE = os.environ.get("RG_BENCH_SITE", "demo0001")
BRANDS = ["Brightside", "Coastline", "Fjordline", "Ironwood", "Kestrel", "Lumen", "Northpeak",
          "Saltmarsh", "Urban Stride", "Velo"]


def bodies(scenario, count):
    if scenario in ("pg_items", "pg_items_cached", "my_items"):
        q = {"collection": {"pg_items": "items", "pg_items_cached": "items_cached",
                            "my_items": "my_items"}[scenario],
             "filters": [{"field": "category", "op": "eq", "value": "boots"}],
             "sort": [{"field": "price", "dir": "asc"}], "fields": ["id", "name", "price"],
             "limit": 20}
        return [json.dumps(q, separators=(",", ":"))] * count
    if scenario == "collections":
        return ["" for _ in range(count)]
    if scenario == "query_cached":
        q = {"collection": "products", "filters": [{"field": "price", "op": "lte", "value": 80}],
             "sort": [{"field": "price", "dir": "asc"}], "limit": 20}
        return [json.dumps(q, separators=(",", ":"))] * count
    rnd = random.Random(7)
    out = []
    for i in range(count):
        lo = round(rnd.uniform(0, 300), 2)
        q = {"collection": "products",
             "filters": [{"field": "price", "op": "between", "value": [lo, round(lo + 1 + i % 97, 2)]},
                         {"field": "brand", "op": "in", "value": rnd.sample(BRANDS, 3)}],
             "sort": [{"field": "rating", "dir": "desc"}], "limit": 10 + i % 11}
        out.append(json.dumps(q, separators=(",", ":")))
    return out


def main():
    if len(sys.argv) != 6:
        print(__doc__, file=sys.stderr)
        return 2
    url, api_key, scenario, count, out = sys.argv[1:]
    count = int(count)
    host, port = url.replace("http://", "").rstrip("/").split(":")
    client = rgclient.Client(host, int(port))
    session = client.session(SITE, api_key=api_key)
    method, path = (("GET", "/v1/%s/collections" % SITE) if scenario == "collections"
                    else ("POST", "/v1/%s/query" % SITE))
    ts = str(int(time.time()))
    with open(out, "w") as f:
        f.write(session.token + "\n")
        for body in bodies(scenario, count):
            nonce = rgclient.new_nonce()
            sig = rgclient.sign(session.secret, ts, nonce, method, path, body.encode())
            f.write("\t".join((method, path, ts, nonce, sig, body)) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
