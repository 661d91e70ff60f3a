"""The README's two commands, timed on a fresh clone as a new user runs them (issue #43).

    python benchmarks/front_door.py [--profile quick] [--keep]

Clones this repository's HEAD into a scratch folder with ``../shared`` linked beside it, then times, one after the
other: ``make env`` (the install: .venv and every package), ``make study`` (resumed: the committed models and tables
are reused), ``git status`` after it (a resume must change no tracked file), and ``CI=true bash .ci/run`` (CI's
command, which runs the README's test command, ``make test``). The record goes to
``benchmarks/results/front_door-<machine kind>.json``; ``python -m common.study.report`` writes the README's table of
times from the newest one. A study from scratch retrains every model (hours on 2 cores) and is not timed here: its
cost is the sum of the records' training seconds, which the report states beside it.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
RESULTS = HERE / "results"
STEPS = (("make env", ["make", "env"]), ("make study", ["make", "study"]), ("CI (make test)", ["bash", ".ci/run"]))


def timed(command: list[str], cwd: Path, env: dict, log: Path) -> tuple[float, int, str]:
    """``(seconds, exit code, last lines of its output)``; the whole output goes to ``log``."""
    start = time.perf_counter()
    with open(log, "w") as out:
        code = subprocess.call(command, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)
    lines = log.read_text(errors="replace").splitlines()
    return time.perf_counter() - start, code, "\n".join(lines[-3:])


def tests_summary(text: str) -> str:
    """pytest's closing line ("610 passed, 1 xpassed in 540.65s"), without the decoration."""
    found = re.findall(r"=+ (.*? in [\d.]+s.*?) =+", text)
    return found[-1] if found else ""


def main(argv=None) -> int:
    from benchmarks.readme import cpu_kind, slug
    from common.machine import cpu_description

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--profile", default="quick")
    parser.add_argument("--keep", action="store_true", help="keep the clone (its logs are in it)")
    args = parser.parse_args(argv)
    shared = (ROOT.parent / "shared").resolve()
    if not shared.is_dir():
        print(f"no ../shared beside {ROOT.name}: the study's data mirror is needed", file=sys.stderr)
        return 2
    commit = subprocess.check_output(["git", "rev-parse", "HEAD"], cwd=ROOT, text=True).strip()
    scratch = Path(tempfile.mkdtemp(prefix="front_door-"))
    clone = scratch / "clone"
    subprocess.check_call(["git", "clone", "-q", str(ROOT), str(clone)])
    os.symlink(shared, scratch / "shared")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SNN_", "VIRTUAL_ENV"))}
    env.update(CI="true", PROFILE=args.profile)
    steps, clean = {}, None
    for step, (name, command) in enumerate(STEPS):
        log = scratch / f"step{step}.log"
        seconds, code, tail = timed(command, clone, env, log)
        steps[name] = {"seconds": round(seconds, 1), "exit_code": code}
        print(f"{name}: {seconds:.0f} s, exit code {code}")
        if name == "CI (make test)":
            steps[name]["tests"] = tests_summary(log.read_text(errors="replace"))
        if code != 0:
            print(tail)
            break
        if name == "make study":
            changed = subprocess.check_output(["git", "status", "--porcelain"], cwd=clone, text=True)
            clean = changed == ""
            steps[name]["tracked_files_changed"] = [line[3:] for line in changed.splitlines()]
            print("git status after the resumed study:", "clean" if clean else changed)
    kind = cpu_kind(cpu_description())
    record = {"date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"), "commit": commit,
              "profile": args.profile, "machine": kind, "cores": os.cpu_count(), "steps": steps,
              "git_status_clean_after_study": clean,
              "from_scratch": "not timed: a study from scratch retrains every model"}
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"front_door-{slug(kind)}.json"
    path.write_text(json.dumps(record, indent=2) + "\n")
    print(f"written: {path.relative_to(ROOT)}")
    if not args.keep:
        subprocess.call(["rm", "-rf", str(scratch)])
    return 0 if all(s["exit_code"] == 0 for s in steps.values()) and len(steps) == len(STEPS) else 1


if __name__ == "__main__":
    sys.exit(main())
