"""Where the pipeline's fixed cost goes: imports, TFX's packaging, the Trainer's export; each timed alone.

Each import is timed in a fresh interpreter (``python -X importtime``), so the figures do not depend on what
an earlier step imported. With ``--run-dir`` (a finished pipeline run folder) it also times saving the
model with its three signatures against serving_default alone, over that run's Transform output.

Run: python -m experiments.fixed_cost [--run-dir outputs/bench-work/rows-25000-in_memory] [--out fixed_cost.json]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from common import config as configs

IMPORTS = {
    "tensorflow": "import tensorflow",
    "tfx.v1 (with its cloud extensions)": "from tfx import v1",
    "tfx.v1.extensions (Vertex AI, BigQuery)": "import tfx.v1.extensions",
    "pipeline.tfx_api (what the local pipeline imports)": "from pipeline import tfx_api",
    "the local runner, the pipeline and its components": "import local_runner",
}


def import_seconds(statement: str) -> dict[str, Any]:
    """Wall time of one import statement in a fresh interpreter, and its five costliest modules."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-X", "importtime", "-c", statement], cwd=configs.PROJECT_ROOT, env=env,
                            capture_output=True, text=True, check=True)
    seconds = time.perf_counter() - started
    modules = []
    for line in result.stderr.splitlines():
        match = re.match(r"import time:\s+\d+ \|\s+(\d+) \|(\s*)(\S+)", line)
        if match and len(match.group(2)) <= 3:  # top-level and first-level imports
            modules.append((int(match.group(1)) / 1e6, match.group(3)))
    return {"process_seconds": seconds, "top_modules": sorted(modules, reverse=True)[:5]}


def packaging_seconds() -> dict[str, float]:
    """TFX's sdist of itself (when beam_args is non-empty) and the wheel of a module file (Transform, Trainer)."""
    from tfx.components.util import udf_utils
    from tfx.utils import dependency_utils
    started = time.perf_counter()
    dependency_utils.build_ephemeral_package()
    sdist = time.perf_counter() - started
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as root:
        udf_utils.package_user_module_file("Transform", str(configs.PROJECT_ROOT / "preprocessing.py"), root)
    return {"tfx_sdist_seconds": sdist, "module_file_wheel_seconds": time.perf_counter() - started}


def export_seconds(run_dir: Path) -> dict[str, float]:
    """Saving the Trainer's model with the three signatures vs serving_default alone."""
    import tensorflow_transform as tft

    import trainer
    config = configs.load(environ={})
    hp = {**vars(config.model), "random_seed": 0}
    transform_dir = max((run_dir / "pipeline_root" / "Transform" / "transform_graph").iterdir(), key=lambda p: int(p.name))
    times = {}
    for name, keep in (("three_signatures", None), ("serving_default_only", "serving_default")):
        output = tft.TFTransformOutput(str(transform_dir))
        model = trainer.build_model(hp)
        signatures = trainer.make_signatures(model, output)
        if keep:
            signatures = {keep: signatures[keep]}
        with tempfile.TemporaryDirectory() as target:
            started = time.perf_counter()
            model.save(target, save_format="tf", signatures=signatures)
            times[f"save_{name}_seconds"] = time.perf_counter() - started
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run-dir", type=Path, help="a finished pipeline run folder, to time the model export")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    report: dict[str, Any] = {"imports": {}}
    for name, statement in IMPORTS.items():
        report["imports"][name] = import_seconds(statement)
        print(f"import {name}: {report['imports'][name]['process_seconds']:.1f} s", flush=True)
    report["packaging"] = packaging_seconds()
    print(f"packaging: {report['packaging']}", flush=True)
    if args.run_dir:
        report["export"] = export_seconds(args.run_dir)
        print(f"export: {report['export']}", flush=True)
    if args.out:
        args.out.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
