"""Mutation testing, one target at a time (driven by scripts/mutation.sh; see docs/testing.md).

A target (pyproject.toml, [tool.gradchain.mutation.NAME]) names the files to mutate and the focused unit
tests that must kill their mutants. For each target this writes a work directory .mutation/NAME/ holding
links to the sources and tests and a pyproject.toml whose [tool.mutmut] is the shared one with the
target's `only_mutate` and tests filled in, runs mutmut there with one worker, and prints tried, killed,
survived and score per target, then the surviving mutants. mutmut remembers its results per work
directory, so a rerun only retests what changed.

    python scripts/mutation.py [--list] [--show] [--summary-only] [--only GLOB]... [TARGET...]

Mutants not yet run (a target run with --only) are left out of "tried" and the score.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import tomlkit

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / ".mutation"
LINKED = ("chain", "client", "abci_app", "config", "proto", "tests")
KILLED = {1, 3}          # a test failed (3: pytest internal error, as mutmut counts it)
TIMEOUT = {36, -24, 24, 152, 255}
SURVIVED = {0}
NO_TESTS = {5, 33}       # no focused test reaches the mutated function: counted as survived


def targets() -> dict:
    return tomlkit.parse((ROOT / "pyproject.toml").read_text())["tool"]["gradchain"]["mutation"]


def prepare(name: str, target) -> Path:
    work = WORK / name
    work.mkdir(parents=True, exist_ok=True)
    for entry in LINKED:
        link = work / entry
        if not link.exists():
            link.symlink_to(ROOT / entry)
    doc = tomlkit.parse((ROOT / "pyproject.toml").read_text())
    mutmut = doc["tool"]["mutmut"]
    mutmut["only_mutate"] = list(target["mutate"])
    mutmut["pytest_add_cli_args_test_selection"] = list(target["tests"])
    (work / "pyproject.toml").write_text(tomlkit.dumps(doc))
    return work


def run(work: Path, only: list[str]) -> int:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}   # mutants/ must win the import
    env["PYTHONHASHSEED"] = "0"
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):   # the limit is CPU time of
        env[var] = "1"                                                          # all threads: keep one
    cmd = ["nice", "-n", "10", sys.executable, "-m", "mutmut", "run", "--max-children", "1", *only]
    with open(work / "mutmut.log", "w") as log:        # mutmut's progress spinner, kept out of the summary
        code = subprocess.run(cmd, cwd=work, env=env, stdout=log, stderr=subprocess.STDOUT).returncode
    if code != 0:
        print((work / "mutmut.log").read_text()[-4000:], file=sys.stderr)
    return code


def sample(work: Path, target, n: int) -> list[str]:
    """n mutant names spread evenly (every len/n-th, from the first) over the target's mutants, sorted."""
    names = []
    for path in target["mutate"]:
        meta = work / "mutants" / (path + ".meta")
        if not meta.exists():
            raise SystemExit(f"--sample needs a list of mutants: run the target once (^C after it starts)")
        names += sorted(json.loads(meta.read_text())["exit_code_by_key"])
    step = max(1, len(names) // n)
    return names[::step][:n]


def tally(work: Path, target) -> dict:
    counts = {"tried": 0, "killed": 0, "timeout": 0, "survived": 0, "no_tests": 0, "other": 0,
              "not_checked": 0}
    survivors = []
    for path in target["mutate"]:
        meta = work / "mutants" / (path + ".meta")
        if not meta.exists():
            continue
        for key, code in sorted(json.loads(meta.read_text())["exit_code_by_key"].items()):
            if code is None:
                counts["not_checked"] += 1
                continue
            counts["tried"] += 1
            if code in KILLED:
                counts["killed"] += 1
            elif code in TIMEOUT:
                counts["timeout"] += 1
            elif code in SURVIVED:
                counts["survived"] += 1
                survivors.append(key)
            elif code in NO_TESTS:
                counts["no_tests"] += 1
                survivors.append(key)
            else:
                counts["other"] += 1
                survivors.append(key)
    detected = counts["killed"] + counts["timeout"]
    counts["score"] = round(100 * detected / counts["tried"], 1) if counts["tried"] else 0.0
    counts["survivors"] = survivors
    return counts


def show(work: Path, mutant: str) -> str:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    out = subprocess.run([sys.executable, "-m", "mutmut", "show", mutant], cwd=work, env=env,
                         capture_output=True, text=True)
    return out.stdout


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("targets", nargs="*", help="target names (default: all)")
    parser.add_argument("--list", action="store_true", help="list the targets and their tests")
    parser.add_argument("--show", action="store_true", help="print the diff of every survivor")
    parser.add_argument("--only", action="append", default=[], metavar="GLOB",
                        help="only the mutants whose names match, e.g. 'chain.rounds.settle.x__close__mutmut_*' "
                             "(for a target whose focused tests are slow; repeatable)")
    parser.add_argument("--sample", type=int, default=0, metavar="N",
                        help="also N mutants spread evenly over the target's list (needs one earlier run, even "
                             "an interrupted one, for the list); for targets too slow to run whole")
    parser.add_argument("--summary-only", action="store_true", help="summarise the last run, run nothing")
    args = parser.parse_args()
    table = targets()
    names = args.targets or list(table)
    unknown = [n for n in names if n not in table]
    if unknown:
        print(f"unknown target(s) {', '.join(unknown)}; known: {', '.join(table)}", file=sys.stderr)
        return 2
    if args.list:
        for name in names:
            print(f"{name}: mutate {' '.join(table[name]['mutate'])}\n    tests {' '.join(table[name]['tests'])}")
        return 0
    results = {}
    for name in names:
        work = prepare(name, table[name])
        if not args.summary_only:
            print(f"mutating {name}: {' '.join(table[name]['mutate'])} (log: {work / 'mutmut.log'})", flush=True)
            only = list(args.only)
            if args.sample:
                only += sample(work, table[name], args.sample)
            code = run(work, only)
            if code != 0:
                print(f"mutmut failed on target {name} (exit {code})", file=sys.stderr)
                return code
        results[name] = tally(work, table[name])
    print("\n| target | files | tried | killed | (of which timeout) | survived | score |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: |")
    for name, c in results.items():
        survived = c["survived"] + c["no_tests"] + c["other"]
        print(f"| {name} | {', '.join(table[name]['mutate'])} | {c['tried']} | {c['killed'] + c['timeout']} | {c['timeout']} | "
              f"{survived} | {c['score']}% |")
    for name, c in results.items():
        if c["survivors"]:
            print(f"\nsurvivors in {name}:")
            for mutant in c["survivors"]:
                print("  ", mutant)
                if args.show:
                    print(show(WORK / name, mutant))
    return 0


if __name__ == "__main__":
    sys.exit(main())
