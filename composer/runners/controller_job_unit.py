"""Inside a Terraform unit Job's pod (`appc runner terraform-unit`): copy the mounted root and
modules to the writable work volume, `terraform init` and `apply` (or `destroy`) the unit with
the input variables from the mounted Secret, and write the encrypted result to the termination
message (controller_job_result.py). The pod's cloud credentials are its own identity's (the
projected ServiceAccount token); nothing here logs a variable or an output.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from composer import safefs
from composer.diagnostics import Diagnostic, DiagnosticError
from composer.runners.controller_job_result import UnitResult, encode
from composer.runners.controller_job_spec import RESULT_KEY_KEY, VARIABLES_KEY
from composer.runners.terraform import TerraformRunner, terraform_environment
from composer.runners.terraform_stream import Changes

MAX_INPUT_BYTES = 2 * 1024 * 1024


@dataclass(frozen=True)
class UnitRun:
    unit: str
    verb: str  # apply | destroy
    inputs: Path
    secrets: Path
    work: Path
    result: Path
    timeout_s: float


def _mounted_files(top: Path) -> dict[str, bytes]:
    """The files of a ConfigMap volume, by their path. The kubelet lays a volume out with
    links into a `..data` directory it swaps atomically: these links are followed (the volume
    is the kubelet's), its `..`-named entries are not listed."""
    files: dict[str, bytes] = {}
    total = 0
    for directory, dirs, names in os.walk(top, followlinks=True):
        dirs[:] = [d for d in dirs if not d.startswith("..")]
        for name in names:
            if name.startswith(".."):
                continue
            path = Path(directory) / name
            data = path.read_bytes()
            total += len(data)
            if total > MAX_INPUT_BYTES:
                raise DiagnosticError([Diagnostic(f"the Job's inputs are over {MAX_INPUT_BYTES} bytes")])
            files[path.relative_to(top).as_posix()] = data
    return files


def _copy_inputs(run: UnitRun) -> Path:
    root = run.work / "root"
    safefs.private_dir(run.work, "root")
    for rel, data in sorted(_mounted_files(run.inputs).items()):
        safefs.write_file(root, rel, data)
    return root / "terraform" / run.unit


def terraform_unit(run: UnitRun) -> int:
    """0 when the unit applied (or was destroyed), 1 when Terraform failed; the result says which."""
    key = (run.secrets / RESULT_KEY_KEY).read_bytes().strip()
    variables = json.loads((run.secrets / VARIABLES_KEY).read_bytes() or b"{}")
    try:
        workdir = _copy_inputs(run)
        runner = TerraformRunner(terraform_environment(run.work), timeout=run.timeout_s)
        runner.init(run.unit, workdir, {})
        changes = runner.apply(run.unit, workdir, None, variables, destroy=run.verb == "destroy")
        result = UnitResult(True, changes)
    except DiagnosticError as exc:  # TerraformFailure included: Terraform's own words
        result = UnitResult(False, Changes(), tuple(exc.diagnostics))
    safefs.write_path(run.result, encode(result, key))
    return 0 if result.ok else 1
