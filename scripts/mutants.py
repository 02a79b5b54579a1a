"""Mutation testing (mutmut) over the pure-Python modules, each with its own fast tests only.

For each module a copy of the project goes to a work folder (mutmut writes its mutants/ tree beside the
code), mutmut mutates that one module and runs only the listed tests against each mutant. The score per
module is killed / all its mutants (survived, timed out, suspicious, untested or not run all count against it);
the run fails when a module scores under the target. Surviving mutants are listed by name: ``mutmut show
<name>`` in the work folder shows one.

Run: ``./run.sh mutants [module ...]`` (docs/testing.md has the scores and the reviewed survivors);
``./run.sh mutants --survivors <module>`` re-runs only the mutants the last run did not kill, with the current tests.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from common.config import PROJECT_ROOT as ROOT

TARGET = 0.85
# The module, then the tests that exercise it without a pipeline run or a model server.
MODULES: dict[str, list[str]] = {
    "dataprep/preparation.py": ["tests/test_data_claims.py", "tests/test_data_preparation.py"],
    "dataprep/splits.py": ["tests/test_data_claims.py", "tests/test_data_preparation.py"],
    "common/config.py": ["tests/test_configs.py", "tests/test_config_claims.py"],
    "serving/client.py": ["tests/test_client_claims.py"],
    "models/layout.py": ["tests/test_model_versions.py"],
    "models/pushed_models.py": ["tests/test_model_versions.py"],
    "serving/batching.py": ["tests/test_serving_batching.py"],
    "serving/versions.py": ["tests/test_serving_versions.py"],
    "reporting/run_artifacts.py": ["tests/test_run_artifacts.py"],
    "components/data_preparation.py": ["tests/test_data_preparation_component.py"],
}
# Seconds one test may run under a mutant before pytest-timeout fails it (the mutant is then killed: it hangs).
# The batching and versions tests take under a second each; a mutant that deadlocks a thread would otherwise cost
# the full default for every such mutant.
HUNG_TEST_SECONDS = {"serving/batching.py": 15, "serving/versions.py": 15}
DEFAULT_HUNG_TEST_SECONDS = 120
# What the tests import or read, copied into each work folder (mutmut copies the source paths itself).
SOURCES = ["features.py", "signatures.py", "common", "models", "dataprep", "pipeline", "serving", "components", "reporting"]
ALSO_COPY = ["config.json", "data", "tests", "scripts", "app", "bench", "deploy", "evaluation", "monitoring",
             "local_runner.py", "kubeflow_v2_runner.py", "preprocessing.py", "pretrained.py", "trainer.py"]
KILLED = "killed"


def mutmut_config(module: str, tests: list[str]) -> str:
    def toml_list(values: list[str]) -> str:
        return "[" + ", ".join(json.dumps(v) for v in values) + "]"
    return (f"\n[tool.mutmut]\nsource_paths = {toml_list(SOURCES)}\nonly_mutate = {toml_list([module])}\n"
            f"also_copy = {toml_list(ALSO_COPY)}\npytest_add_cli_args_test_selection = {toml_list(tests)}\n"
            'pytest_add_cli_args = ["-p", "no:cacheprovider", "-q", "-x", '
            f'"--timeout={HUNG_TEST_SECONDS.get(module, DEFAULT_HUNG_TEST_SECONDS)}"]\n'
            'process_isolation = "forkserver"\nuse_git_change_detection = false\n'
            # generous: the machine is shared, and no mutant here can loop forever
            "timeout_multiplier = 30.0\ntimeout_constant = 60.0\n")


def prepare_workdir(workdir: Path, module: str, tests: list[str]) -> None:
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    for name in SOURCES + ALSO_COPY:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, workdir / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, workdir / name)
    pyproject = (ROOT / "pyproject.toml").read_text()
    (workdir / "pyproject.toml").write_text(pyproject + mutmut_config(module, tests))


def mutmut_listing(workdir: Path) -> list[tuple[str, str]]:
    """(mutant name, status) for every mutant of the work folder, from ``mutmut results --all true``."""
    mutmut = Path(sys.executable).parent / "mutmut"
    listing = subprocess.run([str(mutmut), "results", "--all", "true"], cwd=workdir, capture_output=True, text=True,
                             check=True).stdout
    rows = [line.strip().rpartition(": ") for line in listing.splitlines() if ": " in line]
    return [(name, status) for name, _, status in rows]


def refresh_tests(workdir: Path, module: str, tests: list[str]) -> None:
    """The project's current tests into an existing work folder (the code and mutmut's settings stay as they were).

    Changed settings (another test list, another timeout) would make mutmut forget every earlier verdict, and the
    mutants not re-run would then count nowhere: that needs a full run.
    """
    if (workdir / "pyproject.toml").read_text() != (ROOT / "pyproject.toml").read_text() + mutmut_config(module, tests):
        raise SystemExit(f"mutants: the settings of {module} changed since its last run: run it without --survivors")
    if (workdir / module).read_bytes() != (ROOT / module).read_bytes():
        raise SystemExit(f"mutants: {module} changed since its last run: run it without --survivors")
    shutil.rmtree(workdir / "tests")
    shutil.copytree(ROOT / "tests", workdir / "tests", ignore=shutil.ignore_patterns("__pycache__"))


def run_module(module: str, tests: list[str], workdir: Path, max_children: int, survivors: bool = False) -> dict:
    """mutmut run + its CI/CD stats for one module; returns the counts, the score and the survivors.

    With ``survivors``, only the mutants a previous run of this work folder did not kill run again, against the
    current tests: the killed ones stay killed as long as the module itself is unchanged.
    """
    names: list[str] = []
    if survivors:
        if not (workdir / "mutants").is_dir():
            raise SystemExit(f"mutants: no previous run of {module} in {workdir}: run it without --survivors first")
        names = [name for name, status in mutmut_listing(workdir) if status != KILLED]
        refresh_tests(workdir, module, tests)
        print(f"mutants: {module}: re-running {len(names)} mutants not killed before", flush=True)
    else:
        prepare_workdir(workdir, module, tests)
    mutmut = Path(sys.executable).parent / "mutmut"
    log = workdir / "mutmut.log"
    with open(log, "a" if survivors else "w") as out:
        if names or not survivors:
            subprocess.run([str(mutmut), "run", "--max-children", str(max_children), *names], cwd=workdir,
                           stdout=out, stderr=subprocess.STDOUT, check=False)
        subprocess.run([str(mutmut), "export-cicd-stats"], cwd=workdir, stdout=out, stderr=subprocess.STDOUT,
                       check=True)
    stats = json.loads((workdir / "mutants" / "mutmut-cicd-stats.json").read_text())
    total = stats["total"]  # every mutant: one not run (interrupted, skipped) counts as not killed too
    not_killed = total - stats.get(KILLED, 0)
    survivors_left = [f"{name}: {status}" for name, status in mutmut_listing(workdir) if status != KILLED]
    return {"module": module, "tests": tests, "killed": stats.get(KILLED, 0), "not_killed": not_killed,
            "total": total, "score": stats.get(KILLED, 0) / total if total else 0.0, "stats": stats,
            "survivors": survivors_left, "workdir": str(workdir), "log": str(log)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("modules", nargs="*", help=f"modules to mutate (default: all of {', '.join(MODULES)})")
    parser.add_argument("--workdir", type=Path, default=ROOT / "outputs" / "mutants")
    parser.add_argument("--survivors", action="store_true",
                        help="re-run only the mutants the last run in the work folder did not kill, with the current tests")
    parser.add_argument("--max-children", type=int, default=max(1, (os.cpu_count() or 2) - 1))
    args = parser.parse_args(argv)
    unknown = [m for m in args.modules if m not in MODULES]
    if unknown:
        parser.error(f"unknown module(s) {unknown}; choose from {list(MODULES)}")
    results = []
    for module in args.modules or list(MODULES):
        print(f"mutants: {module} with {' '.join(MODULES[module])} ...", flush=True)
        result = run_module(module, MODULES[module], args.workdir / module.replace("/", "_"), args.max_children,
                            args.survivors)
        results.append(result)
        print(f"mutants: {module}: {result['killed']}/{result['total']} killed ({result['score']:.1%}); "
              f"not killed: {result['not_killed']} (log {result['log']})", flush=True)
        for name in result["survivors"]:
            print(f"    {name}")
    args.workdir.mkdir(parents=True, exist_ok=True)
    (args.workdir / "summary.json").write_text(json.dumps(results, indent=2) + "\n")
    print("\nmodule                        killed / total   score")
    for result in results:
        print(f"{result['module']:<30}{result['killed']:>6} / {result['total']:<6}  {result['score']:>6.1%}")
    low = [r["module"] for r in results if r["score"] < TARGET]
    if low:
        print(f"under the {TARGET:.0%} target: {', '.join(low)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
