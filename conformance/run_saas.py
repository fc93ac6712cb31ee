#!/usr/bin/env python3
"""Run readgate-conformance against a SaaS adapter pointed at its fake provider.

    run_saas.py airtable|sheets|shopify CONFORMANCE ADAPTER.so [extra conformance flags]

Starts the fake (tests/fakes/), gets it an access token, and runs every case,
including the behaviour cases: unreachable (a closed port) and timeout (a
server that accepts connections and never answers).

Some cases cannot pass by the provider's construction, and are listed below
with the reason rather than hidden: the run passes when exactly those cases
fail, and each of their differences is the documented one (a row whose empty
string the provider stores as an empty cell, or an integer the provider
holds as a double). Any other failure, or a listed case that passes, fails
the run.
"""

import json
import os
import socket
import subprocess
import sys
import threading

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "fakes"))
from launch import FakeProcess  # noqa: E402

# Row 20 holds "" in name and brand: Airtable leaves an empty text field out
# of a record and Sheets has no empty string distinct from an empty cell, so
# both read NULL there.
EMPTY_STRING_CASES = {
    "all_rows", "hostile_date_lt", "hostile_search_null_word", "op_string_brand_lt",
    "op_string_brand_lte", "op_string_brand_ne", "op_string_eq_empty", "op_string_lt_bytes",
    "op_string_name_in50", "op_string_name_lt", "op_string_name_lte", "op_string_name_ne",
    "projection_two", "sort_default_key", "sort_nulls_small_pages", "sort_string_brand_asc",
    "sort_string_brand_desc", "sort_string_name_asc", "sort_string_name_desc", "sort_three_keys",
}
# Row 38's stock is 9007199254740993: an Airtable number field is a double,
# so the table holds 9007199254740992.
DOUBLE_CASES = {
    "all_rows", "op_integer_eq_beyond_2p53", "op_integer_gt_beyond_2p53", "op_integer_stock_gt",
    "op_integer_stock_gte", "op_integer_stock_in", "op_integer_stock_ne", "sort_integer_stock_asc",
    "sort_integer_stock_desc",
}
# Shopify: the fixture's NULL and empty titles, vendors and product types are
# what the fake returns; Shopify's DateTime has second precision, so
# updated_at is read from a metafield (exact) and released from createdAt.
EXPECTED = {
    "airtable": EMPTY_STRING_CASES | DOUBLE_CASES,
    "sheets": EMPTY_STRING_CASES,
    "shopify": set(),
}


def silent_server():
    """A port that accepts connections and never answers: the timeout case."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(64)
    held = []

    def loop():
        while True:
            try:
                conn, _ = srv.accept()
            except OSError:
                return
            held.append(conn)
    threading.Thread(target=loop, daemon=True).start()
    return srv


def documented_difference(sign, row):
    """Is this diff line one of the provider's documented differences?"""
    vals = list(row.values())
    if sign == "-":
        return "" in vals or 9007199254740993 in vals
    return None in vals or 9007199254740992 in vals


def main():
    if len(sys.argv) < 4 or sys.argv[1] not in EXPECTED:
        print(__doc__, file=sys.stderr)
        return 2
    provider, suite, adapter, extra = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
    silent = silent_server()
    slow = "http://127.0.0.1:%d" % silent.getsockname()[1]
    fake = None
    try:
        flags = ["--cases", os.path.join(HERE, "cases"),
                 "--unreachable-option", "base_url=http://127.0.0.1:1",
                 "--slow-option", "base_url=" + slow,
                 "--threads", "4"]
        if provider == "airtable":
            # The conformance run sends a few thousand requests: the adapter's
            # and the fake's budgets are raised for it (the 5 requests/s
            # budget has its own test in tests/adapters).
            fake = FakeProcess("airtable", "--pat", "patRGconformance", "--rate", "100000")
            flags += ["--option", "base_id=appRGFakeBase0001", "--option", "base_url=" + fake.url,
                      "--option", "access_token=patRGconformance",
                      "--option", "requests_per_second=1000",
                      # The fake keeps false and NULL apart (README.md).
                      "--option", "checkbox_absent_is_false=false"]
        elif provider == "sheets":
            fake = FakeProcess("google")
            token = fake.mint()["access_token"]
            flags += ["--target", "products!A1:Z",
                      "--option", "spreadsheet_id=1RGfakeSpreadsheet0000000000000000000000000",
                      "--option", "base_url=" + fake.url, "--option", "access_token=" + token]
        else:
            fake = FakeProcess("shopify", "--bucket-max", "1000000", "--restore-rate", "1000000")
            token = fake.mint()["access_token"]
            flags += ["--collection", os.path.join(HERE, "saas", "shopify_collection.json"),
                      "--target", "products", "--option", "shop=demo-shop.myshopify.com",
                      "--option", "base_url=" + fake.url, "--option", "access_token=" + token]
        proc = subprocess.run([suite] + flags + extra + [adapter], stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)
    finally:
        silent.close()
        if fake:
            fake.stop()
    out = proc.stdout
    sys.stdout.write(out)
    failed, current, bad = set(), None, []
    for line in out.splitlines():
        if line.startswith("FAIL "):
            current = line.split()[1]
            failed.add(current)
        elif line.startswith(("ok ", "n/a ")) or not line.startswith("    "):
            current = None
        elif current and line.startswith(("    - {", "    + {")):
            row = json.loads(line[6:])
            if not documented_difference(line[4], row):
                bad.append("%s: %s" % (current, line.strip()))
    if "passed" not in out.splitlines()[-1] if out.splitlines() else True:
        print("run_saas: readgate-conformance did not finish (status %d)" % proc.returncode)
        return 1
    unexpected = failed - EXPECTED[provider]
    fixed = EXPECTED[provider] - failed
    for name in sorted(unexpected):
        print("run_saas: unexpected failure: %s" % name)
    for name in sorted(fixed):
        print("run_saas: listed as failing by construction but passed (update the list): %s" % name)
    for b in bad:
        print("run_saas: a difference that is not the documented one: %s" % b)
    if "n/a" in out:
        print("run_saas: a behaviour case was not run")
        return 1
    if unexpected or fixed or bad:
        return 1
    print("run_saas: %s passes every case but the %d documented ones" % (provider, len(failed)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
