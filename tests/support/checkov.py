"""The pinned checkov that tests/test_scanner.py runs, in a virtualenv of its own (.venv-scan).

checkov's dependency pins conflict with ours, so it never goes into .venv. The scanner test
installs it on first use; `.ci/run` installs it ahead, beside the static checks
(`python -m tests.support.checkov`), so that the suite does not wait for pip.
COMPOSER_TEST_CHECKOV names another checkov binary instead.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CHECKOV = "checkov==3.3.30"
VENV = ROOT / ".venv-scan"


def install() -> Path:
    """Return the checkov binary, installing it into VENV when it is absent.

    Raises subprocess.SubprocessError or OSError when it cannot be installed (no index).
    """
    given = os.environ.get("COMPOSER_TEST_CHECKOV")
    if given:
        return Path(given)
    binary = VENV / "bin" / "checkov"
    if not binary.exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True, capture_output=True, timeout=120)
        pip = [str(VENV / "bin" / "pip"), "install", "--quiet", CHECKOV]
        subprocess.run(pip, check=True, capture_output=True, timeout=900)
    return binary


if __name__ == "__main__":
    try:
        print(install())
    except (subprocess.SubprocessError, OSError) as exc:
        # the scanner test skips and says so; CI goes on
        print(f"checkov could not be installed into {VENV}: {exc}", file=sys.stderr)
