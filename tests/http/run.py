#!/usr/bin/env python3
"""Runs the readgate HTTP black-box tests against a real PostgreSQL.

    RG_BUILD_DIR=build RG_TEST_PG_PORT=55432 RG_TEST_PG_DIR=/tmp/pg python3 tests/http/run.py [module ...]

PostgreSQL must already run (tests/pg.sh start DIR PORT), and for
test_ratelimit_redis a Redis too (tests/redis.sh start DIR PORT, with
RG_TEST_REDIS_PORT and RG_TEST_REDIS_DIR set). The last line is
"N passed, N failed"; a skipped test counts as failed, and the exit status
is non-zero on any failure. Set RG_TEST_KEEP_TMP=1 to keep the configuration
and logs of the readgate instances.
"""

import sys

sys.dont_write_bytecode = True  # keep the source tree clean

import importlib  # noqa: E402
import os  # noqa: E402
import time  # noqa: E402
import traceback  # noqa: E402
import unittest  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402

# The fault tests stop PostgreSQL, so they run last.
MODULES = ["test_rgclient", "test_config", "test_token", "test_ai", "test_mcp", "test_events", "test_browser", "test_signing", "test_collections",
           "test_cors", "test_query", "test_hostile", "test_abuse", "test_keys", "test_docs",
           "test_ratelimit", "test_ratelimit_redis", "test_oauth", "test_oauth_store", "test_cache",
           "test_faults", "test_loops"]
FAULT_ORDER = ["SlowBackendTest", "WrongMajorAdapterTest", "ArrayRuleTest", "RefusedOptionsTest",
               "PostgresDownTest"]


class Result(unittest.TextTestResult):
    """Counts each test method once: failed if it or any subtest failed."""

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.outcome = {}

    def _mark(self, test, what):
        tid = test.id()
        if self.outcome.get(tid) != "fail":
            self.outcome[tid] = what

    def startTest(self, test):
        super().startTest(test)
        self.outcome.setdefault(test.id(), "pass")

    def addError(self, test, err):
        super().addError(test, err)
        self._mark(test, "fail")

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self._mark(test, "fail")

    def addSubTest(self, test, subtest, err):
        super().addSubTest(test, subtest, err)
        if err is not None:
            self._mark(test, "fail")

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        self._mark(test, "skip")

    def addUnexpectedSuccess(self, test):
        super().addUnexpectedSuccess(test)
        self._mark(test, "fail")


def build_suite(names):
    loader = unittest.TestLoader()
    suite = unittest.TestSuite()
    for name in names:
        mod = importlib.import_module(name)
        if name == "test_faults":
            for cls in FAULT_ORDER:
                suite.addTests(loader.loadTestsFromTestCase(getattr(mod, cls)))
        else:
            suite.addTests(loader.loadTestsFromModule(mod))
    return suite


def main():
    names = sys.argv[1:] or MODULES
    t0 = time.time()
    try:
        env = harness.env()
    except Exception:
        traceback.print_exc()
        print("could not set up the test environment")
        print("0 passed, 1 failed")
        return 1
    print("readgate on 127.0.0.1:%d (admin %d), PostgreSQL on %d, files in %s"
          % (env.main.port, env.main.admin_port, env.pg_port, env.tmp), flush=True)

    runner = unittest.TextTestRunner(stream=sys.stdout, verbosity=2, resultclass=Result)
    result = runner.run(build_suite(names))

    failed_names = [t for t, o in result.outcome.items() if o != "pass"]
    passed = sum(1 for o in result.outcome.values() if o == "pass")
    failed = len(failed_names)
    # A class or module whose setup failed has no test outcome of its own.
    for holder, _ in result.errors:
        if holder.id() not in result.outcome:
            failed += 1
            failed_names.append(holder.id())

    problems = env.shutdown()
    for p in problems:
        print("FAIL: " + p)
    failed += len(problems)
    passed += 1 if not problems else 0  # the clean shutdown is a check of its own

    if failed_names:
        print("failed or skipped:")
        for n in failed_names:
            print("  " + n)
    if failed:
        for s in env.servers:
            print("---- last lines of readgate (%s) log %s" % (s.name, s.log_path))
            print(s.log_tail(25))
    else:
        env.cleanup()
    print("time: %.1f s" % (time.time() - t0))
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
