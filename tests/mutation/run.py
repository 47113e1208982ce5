#!/usr/bin/python3
"""Mutation check: plants each mistake of tests/mutation/mutations.py, one at a time, in a scratch
copy of the working tree, rebuilds, runs the CTest tests expected to catch it and prints caught or
survived. On demand, not in CI (it builds and runs tests once per mutation):

    /usr/bin/python3 tests/mutation/run.py [--only ID[,ID...]] [--all-tests] [--timeout S] [--keep]

--all-tests runs the whole suite for each mutation instead of the tests named in the list. The
tests of a mutation stop at the first failure (ctest --stop-on-failure), so "caught by" names the
first test that failed, not every test that would. Exit
status 1 when a non-equivalent mutation survives or the list no longer matches the source."""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
from mutations import MUTATIONS  # noqa: E402

ENV = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")


def sh(cmd, cwd, timeout=None):
    return subprocess.run(cmd, cwd=cwd, env=ENV, capture_output=True, text=True, timeout=timeout)


def locate(tree, find):
    hits = []
    for d, _, files in os.walk(os.path.join(tree, "src")):
        for f in files:
            if f.endswith((".c", ".h")):
                p = os.path.join(d, f)
                n = open(p).read().count(find)
                if n:
                    hits.append((p, n))
    return hits


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", default="")
    ap.add_argument("--all-tests", action="store_true")
    ap.add_argument("--timeout", type=int, default=900)
    ap.add_argument("--keep", action="store_true")
    a = ap.parse_args()
    muts = [m for m in MUTATIONS if not a.only or m["id"] in a.only.split(",")]
    scratch = tempfile.mkdtemp(prefix="bbd-mutation.")
    tree = os.path.join(scratch, "tree")
    files = sh(["git", "ls-files", "-co", "--exclude-standard"], ROOT).stdout.split()
    for f in files:
        if os.path.isfile(os.path.join(ROOT, f)):
            os.makedirs(os.path.dirname(os.path.join(tree, f)), exist_ok=True)
            shutil.copy2(os.path.join(ROOT, f), os.path.join(tree, f))
    build = os.path.join(scratch, "build")
    p = sh(["cmake", "-S", tree, "-B", build, "-DCMAKE_BUILD_TYPE=Release"], scratch)
    p = p if p.returncode else sh(["cmake", "--build", build, "-j2"], scratch)
    if p.returncode:
        sys.exit("the unmutated tree does not build:\n" + p.stdout[-3000:] + p.stderr[-3000:])
    rows, bad = [], 0
    for m in muts:
        hits = locate(tree, m["find"])
        if len(hits) != 1 or hits[0][1] != 1:
            rows.append((m["id"], "NOT FOUND" if not hits else "AMBIGUOUS", "", "%s" % hits))
            bad += 1
            continue
        path = hits[0][0]
        orig = open(path).read()
        open(path, "w").write(orig.replace(m["find"], m["replace"]))
        t0 = time.time()
        try:
            b = sh(["cmake", "--build", build, "-j2"], scratch)
            if b.returncode:
                verdict, failed = "INVALID (does not build)", ""
                bad += 1
            else:
                cmd = ["ctest", "--test-dir", build, "-j2", "--timeout", str(a.timeout), "--stop-on-failure"]
                if not a.all_tests:
                    cmd += ["-R", m["tests"]]
                r = sh(cmd, scratch)
                failed = ",".join(l.split(" - ")[1].split()[0] for l in r.stdout.splitlines() if " - " in l and "(" in l)
                if "No tests were found" in r.stdout + r.stderr:
                    verdict = "NO TESTS (%s)" % m["tests"]
                    bad += 1
                elif r.returncode:
                    verdict = "caught"
                elif m.get("equivalent"):
                    verdict = "survived (equivalent)"
                else:
                    verdict = "SURVIVED"
                    bad += 1
        finally:
            open(path, "w").write(orig)
        rows.append((m["id"], verdict, "%.0f s" % (time.time() - t0), failed))
        print("%-26s %-24s %6s  %s" % rows[-1], flush=True)
    caught = sum(1 for r in rows if r[1] == "caught")
    equiv = sum(1 for r in rows if r[1].startswith("survived (equivalent)"))
    print("mutation check: %d caught, %d survived, %d equivalent, %d not applicable, of %d" %
          (caught, sum(1 for r in rows if r[1] == "SURVIVED"), equiv,
           sum(1 for r in rows if r[1] not in ("caught", "SURVIVED") and not r[1].startswith("survived")), len(rows)))
    if not a.keep:
        shutil.rmtree(scratch, ignore_errors=True)
    else:  # the unmutated build again, for a look at it
        sh(["cmake", "--build", build, "-j2"], scratch)
        print("scratch tree kept in", scratch)
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
