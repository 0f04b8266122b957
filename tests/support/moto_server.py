"""The moto server for tests: the product's embedded AWS emulator (providers/aws/emulator.py),
whose docstring explains its compatibility patches. Kept here so tests and scripts/test
have one import path: `python -m tests.support.moto_server --port 0 --port-file F`."""

from __future__ import annotations

import os
import sys

from providers.aws.emulator import aws_env, main, reset, start_moto

__all__ = ["start_moto", "reset", "aws_env", "main"]

if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)  # skip moto's slow interpreter teardown
