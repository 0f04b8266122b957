"""A stand-in for the terraform binary that is slow on purpose (COMPOSER_TERRAFORM points at it).

Why a fake: the heartbeat of a non-terminal apply is about time (a line at least every 10 s
while an RDS instance takes 80 s); a real slow resource would cost minutes of the default
suite. This fake sits at the runner's seam, the process boundary, and speaks Terraform's
`-json` UI: `apply` announces one resource, stays silent for APPC_FAKE_TF_SECONDS, then
completes it; `output -json` returns APPC_FAKE_TF_OUTPUTS; everything else succeeds quietly.
"""

from __future__ import annotations

import json
import os
import sys
import time

RESOURCE = "module.slow.aws_db_instance.this"


def _line(kind: str, **fields) -> None:
    sys.stdout.write(json.dumps({"@level": "info", "@message": kind, "type": kind, **fields}) + "\n")
    sys.stdout.flush()


def main(argv: list[str]) -> int:
    command = argv[0] if argv else ""
    if command == "apply":
        hook = {"resource": {"addr": RESOURCE}, "action": "create"}
        _line("apply_start", hook=hook)
        time.sleep(float(os.environ.get("APPC_FAKE_TF_SECONDS", "3")))
        _line("apply_complete", hook={**hook, "elapsed_seconds": 3})
        _line("change_summary", changes={"add": 1, "change": 0, "remove": 0, "operation": "apply"})
    elif command == "output":
        outputs = json.loads(os.environ.get("APPC_FAKE_TF_OUTPUTS", "{}"))
        sys.stdout.write(
            json.dumps({k: {"value": v, "sensitive": False, "type": "string"} for k, v in outputs.items()})
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
