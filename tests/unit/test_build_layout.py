"""``sam build`` starts every function and the layer from a small folder that holds only what ships,
and the Makefile target it runs (the way SAM runs it) produces a package whose handler imports."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from local import template

ROOT = Path(template.TEMPLATE).resolve().parent
NEVER_SHIPPED = {".venv", ".git", "tests", "docs", "bench", ".aws-sam", "node_modules"}


def makefile_builds() -> dict[str, dict[str, Any]]:
    resources = template.load()["Resources"]
    return {
        name: res
        for name, res in resources.items()
        if (res.get("Metadata") or {}).get("BuildMethod") == "makefile"
    }


def source_folder(res: dict[str, Any]) -> Path:
    props = res["Properties"]
    return (ROOT / (props.get("CodeUri") or props["ContentUri"])).resolve()


def size(folder: Path) -> int:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())


def test_every_function_and_the_layer_are_built_with_make() -> None:
    builds = makefile_builds()
    assert set(builds) >= {f.logical_id for f in template.functions()}
    assert "SharedLayer" in builds


@pytest.mark.parametrize("name", sorted(makefile_builds()))
def test_sam_copies_a_folder_that_holds_only_what_ships(name: str) -> None:
    """SAM copies the CodeUri/ContentUri folder once per resource before it runs make: the checkout's
    root (with its ~500 MB .venv) made `sam build` take minutes."""
    folder = source_folder(makefile_builds()[name])
    assert folder != ROOT and ROOT in folder.parents
    assert not NEVER_SHIPPED & {p.name for p in folder.iterdir()}
    assert size(folder) < 5_000_000


@pytest.mark.parametrize("fn", template.functions(), ids=lambda f: f.logical_id)
def test_the_make_target_sam_runs_packages_the_handler_and_nothing_else(
    fn: template.Function, tmp_path: Path
) -> None:
    metadata = makefile_builds()[fn.logical_id]["Metadata"]
    artifacts = tmp_path / fn.logical_id
    make = shutil.which("make") or "make"
    subprocess.run(  # noqa: S603 (what SAM's makefile workflow runs)
        [
            make,
            "--makefile",
            str(ROOT / metadata.get("ContextPath", ".") / "Makefile"),
            f"build-{fn.logical_id}",
        ],
        cwd=ROOT / metadata.get("WorkingDirectory", "."),
        env={**os.environ, "ARTIFACTS_DIR": str(artifacts)},
        check=True,
        capture_output=True,
    )
    assert [p.name for p in artifacts.iterdir()] == ["functions"]
    assert not list(artifacts.rglob("__pycache__"))
    assert (artifacts / (fn.module.replace(".", "/") + ".py")).is_file()
    # the handler imports from the package (shared/ comes from the layer; here, from the checkout)
    probe = (
        "import importlib, json, sys; sys.path.insert(0, sys.argv[1]); "
        "m = importlib.import_module(sys.argv[2]); "
        "print(json.dumps([m.__file__, callable(getattr(m, sys.argv[3]))]))"
    )
    out = subprocess.run(  # noqa: S603
        [sys.executable, "-c", probe, str(artifacts), fn.module, fn.attribute],
        cwd=ROOT,
        env={**os.environ, "POWERTOOLS_TRACE_DISABLED": "true", "AWS_DEFAULT_REGION": "us-east-1"},
        check=True,
        capture_output=True,
        text=True,
    )
    module_file, is_callable = json.loads(out.stdout)
    assert Path(module_file).is_relative_to(artifacts) and is_callable
