"""Probe every detector with every hostile input and report what breaks the promise.

The promise: each case succeeds with finite outputs or raises a ``nc.NormalcyError``;
anything else (a raw library exception, a NaN/inf output, a silently wrong result, a hang,
a crash) is a violation. The cases live in ``tests/hostile/hostile_cases.py``.

Each detector's cases run in a child process (memory-limited), one at a time, reporting
each outcome as it finishes; a case that hangs past ``--case-timeout`` or kills its process
is recorded as a violation and the batch resumes after it in a fresh process.

    python scripts/probe_hostile.py                      # everything (long: tens of minutes)
    python scripts/probe_hostile.py --detectors ecod,sub_knn --no-params --json out.json
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import select
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "hostile"))

SPECIAL = ("_registry", "_cli")
PREFIX = "@@"


# ---------------------------------------------------------------------------------------
# child: run one batch from a given case index, one JSON line per case
# ---------------------------------------------------------------------------------------
def _cases(batch: str, ctx, params: bool, only: str | None):
    import hostile_cases as hc

    if batch == "_registry":
        cases = list(hc.registry_cases())
    elif batch == "_cli":
        cases = list(hc.cli_cases())
    else:
        cases = hc.detector_cases(ctx, params=params)
    if only:
        cases = [c for c in cases if re.search(only, c.key)]
    return cases


def child(batch: str, start: int, params: bool, mem_gb: float, only: str | None) -> None:
    limit = int(mem_gb * (1 << 30))
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    proto = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # detectors' own prints go to stderr, not into the protocol
    import warnings

    warnings.simplefilter("ignore")
    import hostile_cases as hc

    import normalcy as nc

    nc.detectors()  # import every family now, not inside the first case's time limit
    tmp = Path(tempfile.mkdtemp(prefix=f"probe-{batch}-"))
    ctx = hc.Context(name="ecod" if batch in SPECIAL else batch, tmp=tmp)
    cases = _cases(batch, ctx, params, only)
    proto.write(f"{PREFIX}total {len(cases)}\n")
    for i in range(start, len(cases)):
        proto.write(f"{PREFIX}start {i} {json.dumps(cases[i].key)}\n")
        outcome = hc.attempt(cases[i], ctx)
        proto.write(f"{PREFIX}done {i} {json.dumps(outcome.as_dict())}\n")
    proto.write(f"{PREFIX}end\n")


# ---------------------------------------------------------------------------------------
# parent: drive children, survive hangs and crashes
# ---------------------------------------------------------------------------------------
def _violation(batch: str, case: str, code: int, killed: bool, args) -> dict:
    if killed:
        cause, message = f"hang (> {args.case_timeout:g} s)", "killed by the probe"
    else:
        cause, message = f"crash (exit code {code})", "the process died; see the probe log"
    return {"batch": batch, "case": case, "status": "violation", "cause": cause, "message": message}


def run_batch(batch: str, args) -> list[dict]:
    outcomes: list[dict] = []
    start = 0
    total = None
    while True:
        cmd = [sys.executable, __file__, "--child", batch, "--start", str(start)]
        cmd += ["--mem-gb", str(args.mem_gb)] + ([] if args.params else ["--no-params"])
        cmd += ["--cases", args.cases] if args.cases else []
        log = open(Path(tempfile.gettempdir()) / f"probe-{batch}.log", "ab")
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=log, text=True, bufsize=1)
        try:
            current: tuple[int, str] | None = None
            deadline = time.monotonic() + args.setup_timeout  # imports and the registry
            finished = killed = False
            while True:
                ready, _, _ = select.select([proc.stdout], [], [], 1.0)
                if ready:
                    line = proc.stdout.readline()
                    if not line:
                        break
                    if not line.startswith(PREFIX):
                        continue
                    kind, _, rest = line[len(PREFIX) :].strip().partition(" ")
                    if kind == "total":
                        total = int(rest)
                    elif kind == "start":
                        i, _, key = rest.partition(" ")
                        current = (int(i), json.loads(key))
                        deadline = time.monotonic() + args.case_timeout
                    elif kind == "done":
                        i, _, payload = rest.partition(" ")
                        outcomes.append({"batch": batch, **json.loads(payload)})
                        current = None
                        start = int(i) + 1
                        deadline = time.monotonic() + args.case_timeout  # until the next start
                    elif kind == "end":
                        finished = True
                if time.monotonic() > deadline:
                    proc.kill()
                    killed = True
                    break
        finally:
            if proc.poll() is None:  # interrupted: leave no child behind
                proc.kill()
        code = proc.wait()
        log.close()
        if finished:
            break
        if current is None:
            if total is not None and start >= total:
                break  # every case reported; the child died on its way out
            outcomes.append(_violation(batch, f"(setup, from case {start})", code, killed, args))
            break
        outcomes.append(_violation(batch, current[1], code, killed, args))
        start = current[0] + 1
        if total is not None and start >= total:
            break
    return outcomes


def report(outcomes: list[dict], seconds: float) -> str:
    lines = []
    by_batch: dict[str, Counter] = defaultdict(Counter)
    for o in outcomes:
        by_batch[o["batch"]][o["status"]] += 1
    width = max([len(b) for b in by_batch] + [8])
    lines.append(f"{'batch':<{width}}  {'cases':>6} {'ok':>6} {'refused':>8} {'violations':>10}")
    for batch, c in by_batch.items():
        n = sum(c.values())
        lines.append(
            f"{batch:<{width}}  {n:>6} {c['ok']:>6} {c['refused']:>8} {c['violation']:>10}"
        )
    total = Counter(o["status"] for o in outcomes)
    n = sum(total.values())
    lines.append(
        f"{'TOTAL':<{width}}  {n:>6} {total['ok']:>6} {total['refused']:>8} "
        f"{total['violation']:>10}   ({seconds:.0f} s)"
    )
    masked = sum("declares no state spec" in o["message"] for o in outcomes)
    if masked:
        lines.append(
            f"({masked} refusals only because nc.load refuses detectors without a state spec; "
            "those cases did not reach the code they target)"
        )
    bad = [o for o in outcomes if o["status"] == "violation"]
    if bad:
        lines.append("")
        lines.append("violations by cause (count, detectors, example case and message):")
        groups: dict[str, list[dict]] = defaultdict(list)
        for o in bad:
            groups[o["cause"]].append(o)
        for cause, items in sorted(groups.items(), key=lambda kv: -len(kv[1])):
            batches = sorted({o["batch"] for o in items})
            lines.append(f"  {len(items):>5}  {cause}  [{len(batches)} batches]")
            by_category = Counter(o["case"].split(" | ")[0] for o in items)
            lines.append(
                "         by entry point: "
                + ", ".join(f"{k} {v}" for k, v in by_category.most_common())
            )
            seen = set()
            for o in items:
                msg = o["message"][:110]
                if msg in seen:
                    continue
                seen.add(msg)
                lines.append(f"         - {o['batch']}: {o['case']}: {msg}")
                if len(seen) >= args_examples:
                    break
    return "\n".join(lines)


args_examples = 4


def main() -> None:
    global args_examples
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--detectors", help="comma-separated names (default: all registered)")
    parser.add_argument("--skip", default="", help="comma-separated names to leave out")
    parser.add_argument(
        "--no-params",
        dest="params",
        action="store_false",
        help="skip the create(param=hostile) cases (the slowest part)",
    )
    parser.add_argument("--no-cli", dest="cli", action="store_false")
    parser.add_argument("--no-registry", dest="registry", action="store_false")
    parser.add_argument("--cases", help="only cases whose 'category | label' matches this regex")
    parser.add_argument("--case-timeout", type=float, default=90.0)
    parser.add_argument("--setup-timeout", type=float, default=300.0, help="child start-up limit")
    parser.add_argument("--mem-gb", type=float, default=6.0, help="address-space limit per child")
    parser.add_argument("--examples", type=int, default=4, help="examples shown per cause")
    parser.add_argument("--json", type=Path, help="write every outcome to this JSON file")
    parser.add_argument(
        "--report", type=Path, nargs="+", help="only print the table of saved --json files"
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--start", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.start, args.params, args.mem_gb, args.cases)
        return
    args_examples = args.examples
    if args.report:
        saved = [o for path in args.report for o in json.loads(path.read_text())]
        print(report(saved, 0.0))
        return
    import normalcy as nc

    names = args.detectors.split(",") if args.detectors else [i.name for i in nc.detectors()]
    names = [n for n in names if n not in set(args.skip.split(","))]
    batches = (["_registry"] if args.registry else []) + (["_cli"] if args.cli else []) + names
    t0 = time.monotonic()
    outcomes: list[dict] = []
    for batch in batches:
        t = time.monotonic()
        got = run_batch(batch, args)
        outcomes.extend(got)
        bad = sum(o["status"] == "violation" for o in got)
        print(
            f"{batch}: {len(got)} cases, {bad} violations ({time.monotonic() - t:.0f} s)",
            file=sys.stderr,
            flush=True,
        )
        if args.json:
            args.json.write_text(json.dumps(outcomes, indent=1))
    print(report(outcomes, time.monotonic() - t0))


if __name__ == "__main__":
    main()
