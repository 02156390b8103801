"""Mutation testing of the pure domain (``shared/domain/``): ``make mutate`` records it, ``make test``
holds the bar.

``python -m tests.mutation.gate record`` (``make mutate``)
    runs mutmut over every module of ``shared/domain/`` against the unit tests, in ``./mutants`` (so
    ``mutmut browse`` / ``mutmut show`` work on the results afterwards), and rewrites
    ``tests/mutation/baseline.json``: per module, its figures and a fingerprint.

``python -m tests.mutation.gate check`` (the last step of ``make test``)
    recomputes every module's fingerprint: its source, the unit-test files that exercised it in the
    recorded run (plus ``tests/conftest.py``) and its entries in ``equivalent.toml``. A module whose
    fingerprint matches keeps its recorded score (nothing runs); the others, and modules new since the
    baseline, are mutation-tested now, from scratch, in a scratch copy of the tree. It fails when a
    module scores under the bar, or when an entry of ``equivalent.toml`` no longer names the mutant it
    describes (mutmut numbers mutants per function, so an edit can shift them) or names one the tests
    kill.

Score = (killed + timed out) / (mutants - equivalent). Survivors and mutants no test reaches count
against it; equivalent mutants (no test can tell them from the original) are listed, each with the
changed line and a reason, in ``tests/mutation/equivalent.toml``, and only those are left out.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import tomllib
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
BASELINE = HERE / "baseline.json"
EQUIVALENT = HERE / "equivalent.toml"
DOMAIN = "shared/domain"
BAR = 0.90
# The longest the check may spend mutation-testing changed modules (make test must stay well under
# 15 minutes on 2 cores): past it, the check fails and asks for `make mutate`.
CHECK_BUDGET = float(os.environ.get("MUTATION_CHECK_BUDGET_SECONDS", "420"))
# What a scratch copy needs: the code (shared/ is mutated, the rest imported as is), the tests, the
# files the unit tests read, and the configuration.
TREE = ("shared", "functions", "local", "ops", "bench", "tests", "docs", "template.yaml", "pyproject.toml")
ALWAYS_HASHED = ("tests/conftest.py",)
# mutmut's exit codes (mutmut.stats.status_by_exit_code): a mutant that made the tests fail (1; 3 is
# pytest's internal error), or run past their time (timeout), is detected.
KILLED = {1, 3}
TIMEOUT = {24, -24, 36, 152, 255}
NO_TESTS = {5, 33}
SURVIVED = {0}


@dataclass
class Figures:
    mutants: int = 0
    killed: int = 0
    timeout: int = 0
    survived: int = 0
    no_tests: int = 0
    other: int = 0  # suspicious, skipped, segfault: counted against the score
    equivalent: int = 0
    score: float = 0.0
    fingerprint: str = ""
    tests: list[str] = field(default_factory=list)
    undetected: list[str] = field(default_factory=list)  # survivors and no-tests, not listed equivalent

    def line(self, module: str) -> str:
        return (
            f"{module:<28} {self.mutants:>4} mutants {self.killed:>4} killed {self.timeout:>2} timeout "
            f"{self.survived:>3} survived {self.no_tests:>3} no tests {self.equivalent:>2} equivalent  "
            f"{self.score:6.1%}"
        )


@dataclass(frozen=True)
class Equivalent:
    name: str
    line: str  # the mutant's changed line, as `mutmut show` prints it after "+", stripped
    reason: str


# ---------------------------------------------------------------- inputs


def domain_modules(root: Path = ROOT) -> list[str]:
    return sorted(
        p.relative_to(root).as_posix() for p in (root / DOMAIN).glob("*.py") if p.name != "__init__.py"
    )


def dotted(module: str) -> str:
    return module.removesuffix(".py").replace("/", ".")


def load_equivalents(path: Path = EQUIVALENT) -> list[Equivalent]:
    data = tomllib.loads(path.read_text("utf-8")) if path.exists() else {}
    out = []
    for entry in data.get("mutant", []):
        if not entry.get("reason", "").strip():
            raise SystemExit(f"equivalent.toml: {entry.get('name')} needs a reason")
        out.append(Equivalent(entry["name"], entry["line"].strip(), entry["reason"].strip()))
    return out


def of_module(equivalents: Iterable[Equivalent], module: str) -> list[Equivalent]:
    prefix = dotted(module) + "."
    return sorted((e for e in equivalents if e.name.startswith(prefix)), key=lambda e: e.name)


def read_files(root: Path = ROOT) -> dict[str, bytes]:
    """The files a fingerprint may read, as they are now (a run reads them before mutmut starts, so an
    edit made while it runs is not mistaken for what was tested)."""
    paths = [*(root / DOMAIN).glob("*.py"), *(root / "tests").rglob("*.py")]
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in paths if "__pycache__" not in p.parts}


def fingerprint(
    module: str,
    tests: Iterable[str],
    equivalents: Iterable[Equivalent],
    root: Path = ROOT,
    files: dict[str, bytes] | None = None,
) -> str:
    """What a module's score depends on: its source, the test files that exercised it, the shared test
    fixtures, and the mutants it may leave out as equivalent."""
    files = read_files(root) if files is None else files
    digest = hashlib.sha256()
    for name in [module, *sorted(set(tests) | set(ALWAYS_HASHED))]:
        digest.update(name.encode() + b"\0")
        digest.update(files.get(name, b"<missing>"))
        digest.update(b"\0")
    for e in equivalents:
        digest.update(json.dumps(asdict(e), sort_keys=True).encode())
    return digest.hexdigest()


def load_baseline() -> dict[str, Any]:
    return json.loads(BASELINE.read_text("utf-8")) if BASELINE.exists() else {"modules": {}}


# ---------------------------------------------------------------- running mutmut


def mutmut(workdir: Path, *args: str, log: Path, budget: float | None = None) -> None:
    """Runs mutmut in ``workdir``; past ``budget`` seconds it is stopped (with the workers it forked)
    and the gate fails, so CI's time stays bounded."""
    exe = Path(sys.executable).with_name("mutmut")
    with log.open("ab") as out:
        command = [str(exe), *args]
        process = subprocess.Popen(  # noqa: S603
            command, cwd=workdir, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            returncode = process.wait(timeout=budget)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait()
            raise SystemExit(
                f"mutation: FAIL mutmut did not finish within {budget:.0f} s; run `make mutate` and commit "
                f"{BASELINE.relative_to(ROOT)} (mutation: 0 passed, 1 failed)"
            ) from None
    if returncode != 0:
        tail = log.read_text("utf-8", errors="replace")[-3000:]
        raise SystemExit(f"mutmut {' '.join(args)} failed ({returncode}); end of {log}:\n{tail}")


def scratch_copy() -> Path:
    workdir = Path(tempfile.mkdtemp(prefix="careloop-mutation-"))
    ignore = shutil.ignore_patterns("__pycache__", ".hypothesis", "mutants", "*.pyc")
    for name in TREE:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, workdir / name, ignore=ignore)
        elif src.exists():
            shutil.copy2(src, workdir / name)
    return workdir


def diffs(workdir: Path, names: list[str]) -> dict[str, str]:
    """``mutmut show``'s diff of each named mutant (empty when mutmut has no such mutant)."""
    if not names:
        return {}
    script = (
        "import json, sys\n"
        "from mutmut.mutation.diff_apply import get_diff_for_mutant\n"
        "out = {}\n"
        "for name in sys.argv[1:]:\n"
        "    try:\n"
        "        out[name] = get_diff_for_mutant(name)\n"
        "    except Exception:\n"
        "        out[name] = ''\n"
        "print(json.dumps(out))\n"
    )
    done = subprocess.run(  # noqa: S603
        [sys.executable, "-c", script, *names], cwd=workdir, capture_output=True, text=True, check=True
    )
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def changed_line(diff: str) -> str:
    return "\n".join(
        line[1:].strip() for line in diff.splitlines() if line.startswith("+") and not line.startswith("+++")
    )


def covering_tests(workdir: Path, module: str) -> list[str]:
    stats = json.loads((workdir / "mutants" / "mutmut-stats.json").read_text("utf-8"))
    prefix = dotted(module) + "."
    files = {
        test.split("::", 1)[0]
        for function, tests in stats["tests_by_mangled_function_name"].items()
        if function.startswith(prefix)
        for test in tests
    }
    return sorted(files)


def score(
    exit_codes: dict[str, int | None], equivalents: list[Equivalent], shown: dict[str, str]
) -> tuple[Figures, list[str]]:
    """Figures for one module from mutmut's exit codes (mutant name -> code), and what is wrong with
    its list of equivalent mutants. Only a listed mutant that still has the listed change and
    survives is left out of the score."""
    f, problems, excused = Figures(mutants=len(exit_codes)), [], set()
    for e in equivalents:
        now = changed_line(shown.get(e.name, ""))
        if e.name not in exit_codes:
            problems.append(f"{e.name}: listed as equivalent, but mutmut made no such mutant")
        elif now != e.line:
            problems.append(
                f"{e.name}: listed as equivalent for `{e.line}` but is now `{now}` (mutants are "
                "numbered per function: an edit renumbers them); check it again in equivalent.toml"
            )
        elif exit_codes[e.name] in KILLED | TIMEOUT:
            problems.append(f"{e.name}: listed as equivalent, but the tests kill it: remove it")
        else:
            excused.add(e.name)
    for name, code in sorted(exit_codes.items()):
        if code is None:
            problems.append(f"{name}: not run (mutmut stopped early?)")
        elif code in KILLED:
            f.killed += 1
        elif code in TIMEOUT:
            f.timeout += 1
        elif name in excused:
            f.equivalent += 1
        else:
            f.undetected.append(name)
            if code in SURVIVED:
                f.survived += 1
            elif code in NO_TESTS:
                f.no_tests += 1
            else:
                f.other += 1
    counted = f.mutants - f.equivalent
    f.score = (f.killed + f.timeout) / counted if counted else 1.0
    return f, problems


def run(
    modules: list[str], workdir: Path, equivalents: list[Equivalent], budget: float | None = None
) -> tuple[dict[str, Figures], list[str]]:
    shutil.rmtree(workdir / "mutants", ignore_errors=True)
    (workdir / "mutants").mkdir()
    log = workdir / "mutants" / "gate.log"
    children = os.environ.get("MUTATION_WORKERS") or str(os.cpu_count() or 2)
    started = time.monotonic()
    files = read_files(workdir)
    everything = set(modules) == set(domain_modules(workdir))
    globs = [] if everything else [dotted(m) + ".*" for m in modules]
    say(f"mutation: mutmut over {', '.join(modules)} ({children} workers; log in {log})")
    try:
        mutmut(workdir, "run", "--max-children", children, *globs, log=log, budget=budget)
    except SystemExit as failed:
        # mutmut refuses a filter that matches no mutant: the modules asked for have no code it
        # mutates (base.py, say), which is a score of 100 %, not a failure
        if globs and "nothing matches" in str(failed):
            say("mutation: no mutant in " + ", ".join(modules))
        else:
            raise
    seconds = time.monotonic() - started
    results: dict[str, Figures] = {}
    problems: list[str] = []
    for module in modules:
        meta_file = workdir / "mutants" / (module + ".meta")
        meta = json.loads(meta_file.read_text("utf-8")) if meta_file.exists() else {}
        mine = of_module(equivalents, module)
        shown = diffs(workdir, [e.name for e in mine])
        figures, trouble = score(meta.get("exit_code_by_key", {}), mine, shown)
        figures.tests = covering_tests(workdir, module)
        figures.fingerprint = fingerprint(module, figures.tests, mine, files=files)
        results[module], problems = figures, problems + trouble
    say(f"mutation: {seconds:.0f} s")
    return results, problems


# ---------------------------------------------------------------- commands


def report(results: dict[str, Figures]) -> None:
    for module, f in sorted(results.items()):
        say("  " + f.line(module))
        for name in f.undetected:
            say(f"      undetected: {name}")


def failures(results: dict[str, Figures], bar: float = BAR) -> list[str]:
    return [
        f"{m}: {f.score:.1%} of non-equivalent mutants killed, under {bar:.0%}"
        for m, f in results.items()
        if f.score < bar
    ]


def record(only: list[str] | None = None) -> int:
    """Every module (or only those named, keeping the others' recorded figures)."""
    modules = sorted(set(only) & set(domain_modules())) if only else domain_modules()
    equivalents = load_equivalents()
    results, problems = run(modules, ROOT, equivalents)
    report(results)
    total = Figures(
        mutants=sum(f.mutants for f in results.values()),
        killed=sum(f.killed for f in results.values()),
        timeout=sum(f.timeout for f in results.values()),
        survived=sum(f.survived for f in results.values()),
        no_tests=sum(f.no_tests for f in results.values()),
        equivalent=sum(f.equivalent for f in results.values()),
    )
    counted = total.mutants - total.equivalent
    total.score = (total.killed + total.timeout) / counted if counted else 1.0
    say("  " + total.line("shared/domain (all)"))
    BASELINE.write_text(
        json.dumps(
            {
                "bar": BAR,
                "mutmut": _mutmut_version(),
                "modules": {
                    **{m: r for m, r in load_baseline()["modules"].items() if m in domain_modules()},
                    **{
                        m: {k: v for k, v in asdict(f).items() if k != "undetected"}
                        for m, f in results.items()
                    },
                },
            },
            indent=2,
            sort_keys=True,
        )
        + "\n",
        "utf-8",
    )
    say(f"mutation: wrote {BASELINE.relative_to(ROOT)}")
    for p in problems + failures(results):
        say(f"mutation: FAIL {p}")
    return 1 if problems or failures(results) else 0


def check() -> int:
    baseline = load_baseline()
    equivalents = load_equivalents()
    stale, kept, files = [], {}, read_files()
    for module in domain_modules():
        recorded = baseline["modules"].get(module)
        mine = of_module(equivalents, module)
        if recorded and recorded["fingerprint"] == fingerprint(module, recorded["tests"], mine, files=files):
            kept[module] = recorded
        else:
            stale.append(module)
    bad = [f"{m}: recorded at {r['score']:.1%}, under {BAR:.0%}" for m, r in kept.items() if r["score"] < BAR]
    for m, r in sorted(kept.items()):
        say(f"mutation: {m} unchanged since `make mutate` recorded {r['score']:.1%}")
    problems: list[str] = []
    if stale:
        workdir = scratch_copy()
        try:
            results, problems = run(stale, workdir, equivalents, budget=CHECK_BUDGET)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        report(results)
        bad += failures(results)
        say("mutation: these modules changed since the baseline; `make mutate` records them")
    for p in problems + bad:
        say(f"mutation: FAIL {p}")
    failed = len({p.split(":")[0] for p in bad}) + (1 if problems else 0)
    if not failed:
        say(f"mutation: every module of {DOMAIN} at or over {BAR:.0%} of its non-equivalent mutants")
    say(f"mutation: {len(kept) + len(stale) - failed} passed, {failed} failed")  # modules
    return 1 if failed else 0


def say(message: str) -> None:
    sys.stdout.write(message + "\n")
    sys.stdout.flush()


def _mutmut_version() -> str:
    from importlib.metadata import version

    return version("mutmut")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.mutation.gate", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("command", choices=("record", "check"))
    parser.add_argument("modules", nargs="*", help="record: only these (e.g. shared/domain/calendar.py)")
    args = parser.parse_args(argv)
    return record(args.modules) if args.command == "record" else check()


if __name__ == "__main__":
    sys.exit(main())
