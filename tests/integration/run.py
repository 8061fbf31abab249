#!/usr/bin/python3
"""run — the integration test runner (no pytest: Debian's python3 has none).

Finds the test_* functions of tests/integration/test_*.py, in file order, and
runs each with a fresh Context (temp dir, its own block of ports, processes
killed at the end). Prints `PASS name (1.2s)` or `FAIL name: reason` per
test, the tail of every node log of a failed test, and finally the line
`N passed, N failed`. Exits 1 if any test failed.

    RAFTQ_BUILD=/abs/build /usr/bin/python3 tests/integration/run.py [-k SUBSTRING] [--keep]

RAFTQ_BUILD: directory holding raftqd and raftq (default <repo>/build).
RAFTQ_TEST_PORT_BASE: first port (default 17000); each test uses its own
block of harness.CLUSTERS_PER_TEST * harness.PORTS_PER_CLUSTER ports after it.
"""

import argparse
import importlib
import inspect
import os
import shutil
import signal
import sys
import tempfile
import time
import traceback

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import harness  # noqa: E402

TEST_TIMEOUT_S = 90      # a test running longer than this has hung
LOG_TAIL_LINES = 25      # lines of each node log shown for a failed test


class TestTimeout(Exception):
    pass


def collect():
    """(module name, function) for every test, in a stable order: modules by
    name, functions by their line in the file."""
    tests = []
    for file_name in sorted(os.listdir(HERE)):
        if not (file_name.startswith("test_") and file_name.endswith(".py")):
            continue
        module = importlib.import_module(file_name[:-3])
        functions = [function for name, function in vars(module).items()
                     if name.startswith("test_") and inspect.isfunction(function)
                     and function.__module__ == module.__name__]
        functions.sort(key=lambda function: function.__code__.co_firstlineno)
        tests.extend((module.__name__, function) for function in functions)
    return tests


def on_alarm(signum, frame):
    raise TestTimeout("test still running after %d s" % TEST_TIMEOUT_S)


def run_one(function, context):
    """Runs one test; returns None on success or (reason, details)."""
    signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(TEST_TIMEOUT_S)
    failure = None
    try:
        function(context)
    except (harness.TestFailure, harness.raftq_cluster.ConfigError, TestTimeout) as error:
        failure = (str(error), _test_frames(error))
    except Exception as error:
        failure = ("%s: %s" % (type(error).__name__, error), traceback.format_exc().rstrip().splitlines())
    finally:
        signal.alarm(0)
        problems = context.close()
    if problems and failure is None:
        failure = ("; ".join(problems), [])
    elif problems:
        failure = (failure[0], failure[1] + ["also: " + problem for problem in problems])
    return failure


def _test_frames(error):
    """The traceback lines inside test modules: where the check failed."""
    lines = []
    for frame in traceback.extract_tb(error.__traceback__):
        if os.path.basename(frame.filename).startswith("test_"):
            lines.append("at %s:%d in %s: %s" % (os.path.basename(frame.filename), frame.lineno,
                                                 frame.name, frame.line))
    return lines


def main():
    parser = argparse.ArgumentParser(description="raftq integration tests")
    parser.add_argument("-k", dest="select", default=None, help="run only tests whose name contains this")
    parser.add_argument("--keep", action="store_true", help="keep every test's temp dir (failed ones are always kept)")
    parser.add_argument("--list", action="store_true", help="list the tests and exit")
    args = parser.parse_args()

    bin_dir = os.path.abspath(os.environ.get("RAFTQ_BUILD") or os.path.join(harness.REPO, "build"))
    port_base = int(os.environ.get("RAFTQ_TEST_PORT_BASE", "17000"))
    ports_per_test = harness.CLUSTERS_PER_TEST * harness.PORTS_PER_CLUSTER

    tests = collect()
    if args.list:
        for module_name, function in tests:
            print("%s.%s" % (module_name, function.__name__))
        return 0

    passed = failed = 0
    root = tempfile.mkdtemp(prefix="raftq-integration-")
    keep_root = args.keep
    for slot, (module_name, function) in enumerate(tests):
        name = function.__name__
        if args.select and args.select not in name and args.select not in module_name:
            continue
        directory = os.path.join(root, name)
        os.makedirs(directory)
        context = harness.Context(name, directory, port_base + slot * ports_per_test, bin_dir)
        started = time.monotonic()
        failure = run_one(function, context)
        elapsed = time.monotonic() - started
        if failure is None:
            passed += 1
            print("PASS %s (%.1fs)" % (name, elapsed), flush=True)
            if not args.keep:
                shutil.rmtree(directory, ignore_errors=True)
            continue
        failed += 1
        keep_root = True
        reason, details = failure
        print("FAIL %s: %s" % (name, reason.replace("\n", " ")), flush=True)
        for line in details:
            print("    " + line)
        for label, lines in context.log_tails(LOG_TAIL_LINES):
            print("    --- %s: last %d log lines" % (label, len(lines)))
            for line in lines:
                print("    | " + line)
        print("    (after %.1fs; files kept in %s)" % (elapsed, directory), flush=True)
    if not keep_root:
        shutil.rmtree(root, ignore_errors=True)
    print("%d passed, %d failed" % (passed, failed), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
