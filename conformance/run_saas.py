#!/usr/bin/env python3
"""Run readgate-conformance against a SaaS adapter pointed at its fake provider.

    run_saas.py airtable|sheets|shopify|shopify-storefront CONFORMANCE ADAPTER.so [extra conformance flags]

Starts the fake (tests/fakes/), gets it an access token, and runs every case,
including the error cases (conformance/errors/): unreachable (a closed
port), timeout and stalled (readgate-conformance's own loopback port that
accepts connections and never answers, {stalled}), and auth (a token the
fake never issued).

Airtable and Sheets cannot hold every value of the fixture, and the run
says so with readgate-conformance --stored-as (see STORED_AS): the cases
whose answer differs on a catalog stored that way check that answer, which
the case generator computes with the same oracle. Every case must pass.
"""

import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "fakes"))
from launch import FakeProcess  # noqa: E402

# How each provider stores the fixture. Airtable leaves an empty text field
# out of a record and Sheets has no empty string distinct from an empty
# cell, so a "" (row 20's name and brand) reads back as NULL; an Airtable
# number field is a double, so row 38's stock 9007199254740993 is held as
# 9007199254740992. Shopify holds the fixture as it is (the fixture's NULL
# and empty titles, vendors and product types are what the fake returns;
# Shopify's DateTime has second precision, so updated_at is read from a
# metafield and released from createdAt).
STORED_AS = {
    "airtable": "empty-text-is-null,integers-are-doubles",
    "sheets": "empty-text-is-null",
    "shopify": None,
}
# The shopify adapter with `api: storefront` against the fake's Storefront
# API (its own collection: Storefront column names); it holds the fixture
# as the Admin API does.
STORED_AS["shopify-storefront"] = None

# A well-formed token the fakes never issued: the auth error case. Each
# adapter sends it on its first request and must answer RG_ERR_AUTH.
WRONG_TOKEN = {
    "airtable": "patRGwrongToken0000.0000000000000000000000000000000000000000000000000000",
    "sheets": "ya29.rg-wrong-token-0000",
    "shopify": "shpat_00000000000000000000000000rgwrong",
    "shopify-storefront": "shpat_00000000000000000000000000rgwrong",
}


def main():
    if len(sys.argv) < 4 or sys.argv[1] not in STORED_AS:
        print(__doc__, file=sys.stderr)
        return 2
    provider, suite, adapter, extra = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
    fake = None
    try:
        flags = ["--cases", os.path.join(HERE, "cases"),
                 "--unreachable-option", "base_url=http://127.0.0.1:1",
                 # The adapters send nothing before the first query, so both
                 # cases end there: RG_ERR_TIMEOUT at timeout_ms.
                 "--slow-option", "base_url=http://{stalled}",
                 "--stalled-option", "base_url=http://{stalled}",
                 "--auth-option", "access_token=" + WRONG_TOKEN[provider],
                 "--threads", "4"]
        if STORED_AS[provider]:
            flags += ["--stored-as", STORED_AS[provider]]
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
            # The adapter serves its process-wide copy of the range for
            # cache_ttl_s without a request (errors/auth.json): without one
            # the wrong token is sent.
            flags += ["--auth-option", "cache_ttl_s=0"]
            flags += ["--target", "products!A1:Z",
                      "--option", "spreadsheet_id=1RGfakeSpreadsheet0000000000000000000000000",
                      "--option", "base_url=" + fake.url, "--option", "access_token=" + token]
        elif provider == "shopify-storefront":
            # A private (delegate) Storefront token: the adapter's default token_type.
            fake = FakeProcess("shopify")
            token = fake.mint(storefront="private")["access_token"]
            flags += ["--collection",
                      os.path.join(HERE, "saas", "shopify_storefront_collection.json"),
                      "--target", "products", "--option", "shop=demo-shop.myshopify.com",
                      "--option", "api=storefront",
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
        if fake:
            fake.stop()
    out = proc.stdout
    sys.stdout.write(out)
    lines = out.splitlines()
    if not lines or "passed" not in lines[-1]:
        print("run_saas: readgate-conformance did not finish (status %d)" % proc.returncode)
        return 1
    if any(line.startswith("n/a ") for line in lines):
        print("run_saas: a behaviour or error case was not run")
        return 1
    return 0 if proc.returncode == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
