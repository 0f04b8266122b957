"""What a person sees in a terminal (issue 17): appc runs inside tmux at 80 and 200 columns and
the screens are read back as text. The live progress table, the plan's field diff and the
prompt that names what apply will destroy must be readable at both widths.

Each tmux server has its own socket in the test's directory (never a shared server), and is
killed by that socket when the test ends. Terraform is the slow fake of tests/support/
slow_terraform.py (the same seam as the heartbeat test), so the table is caught mid-run;
workloads go to the Kubernetes API stand-in. The README tour itself runs under tmux in the
slow test at the end (it applies RDS on the emulator).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from tests.helpers import ROOT, write
from tests.support.projects import cluster_env, make_project

APPC = ROOT / ".venv" / "bin" / "appc"
SLOW = "    - {name: slow-database-unit, type: terraform-module, properties: {source: modules/token, inputs: {name: slow}, outputs: {arn: {}}}}\n"
WEB = "    - name: web\n      type: webservice\n      properties: {image: 'nginx:1.25', port: 80}\n      traits:\n        - {type: scaler, properties: {replicas: 2}}\n"


def _tmux_or_skip() -> str:
    path = shutil.which("tmux")
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("tmux is missing: .ci/run installs it")
        pytest.skip("tmux is not installed (apt-get install tmux)")
    return path


class Screen:
    """One private tmux server with one window of a fixed size, running bash."""

    def __init__(self, directory: Path, width: int, env: dict[str, str], height: int = 60):
        self.tmux = _tmux_or_skip()
        self.socket = directory / f"tmux-{width}.sock"
        self.env = env
        self._tmux(
            "-f",
            "/dev/null",
            "new-session",
            "-d",
            "-s",
            "t",
            "-x",
            str(width),
            "-y",
            str(height),
            "bash --norc --noprofile",
        )
        self._tmux("set-option", "-g", "history-limit", "5000")

    def _tmux(self, *args: str) -> str:
        return subprocess.run(
            [self.tmux, "-S", str(self.socket), *args],
            env=self.env,
            check=True,
            capture_output=True,
            text=True,
            timeout=30,
        ).stdout

    def type(self, line: str) -> None:
        self._tmux("send-keys", "-t", "t", "-l", line)
        self._tmux("send-keys", "-t", "t", "Enter")

    def text(self) -> str:
        """The whole scrollback, wrapped lines joined (-J): what the person read, as lines."""
        return self._tmux("capture-pane", "-p", "-J", "-t", "t", "-S", "-5000")

    def visible(self) -> str:
        return self._tmux("capture-pane", "-p", "-t", "t")

    def wait_for(self, pattern: str, timeout: float = 120, visible: bool = False) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self.visible() if visible else self.text()
            if re.search(pattern, text):
                return text
            time.sleep(0.1)
        raise AssertionError(f"{pattern!r} never appeared; the screen:\n{self.text()}")

    def run(self, line: str, timeout: float = 180) -> str:
        """Type a command and wait for it to end; its exit code must be 0."""
        marker = f"done-{time.monotonic_ns()}"
        self.type(f"{line}; echo {marker} rc=$?")
        text = self.wait_for(rf"{marker} rc=\d+\n", timeout)
        code = re.search(rf"{marker} rc=(\d+)\n", text).group(1)
        assert code == "0", f"{line!r} exited {code}:\n{text}"
        return text

    def close(self) -> None:
        subprocess.run(
            [self.tmux, "-S", str(self.socket), "kill-server"], env=self.env, capture_output=True, timeout=30
        )


def _environment(tmp_path: Path, terraform: Path | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "COLUMNS", "LINES", "TMUX")}
    env["PATH"] = f"{APPC.parent}{os.pathsep}{env.get('PATH', '')}"
    env["PS1"] = "$ "
    if terraform is not None:
        env["COMPOSER_TERRAFORM"] = str(terraform)
    return env


def test_the_table_the_diff_and_the_prompt_read_well_at_80_and_200_columns(tmp_path, moto, kube_clean):
    from concurrent.futures import ThreadPoolExecutor

    (tmp_path / "80").mkdir()
    (tmp_path / "200").mkdir()
    with ThreadPoolExecutor(max_workers=2) as pool:  # two terminals side by side: half the wall time
        for f in [pool.submit(_tour_of_a_small_app, tmp_path / str(w), w) for w in (80, 200)]:
            f.result()


def _tour_of_a_small_app(tmp_path: Path, width: int) -> None:
    from tests.test_cli_newcomer import _slow_terraform

    namespace = f"tty-{width}"
    app = make_project(tmp_path, SLOW + WEB, env=cluster_env(namespace))
    write(tmp_path, {"without-web.yaml": app.read_text().replace(WEB, "")})
    screen = Screen(tmp_path, width, _environment(tmp_path, _slow_terraform(tmp_path, 2, '{"arn": "arn:aws:rds:x"}')))
    try:
        screen.type(f"cd {tmp_path}")
        # The live table, caught while the slow unit waits on its resource.
        screen.type("appc apply -e test --auto-approve --no-wait; echo applied-rc=$?")
        table = screen.wait_for(r"slow-database-unit .*running.*start", visible=True)
        row = next(line for line in table.splitlines() if line.lstrip().startswith("slow-database-unit"))
        assert len(row.rstrip()) <= width, row
        if width >= 120:
            assert "module.slow.aws_db_instance.this start" in row, table
        else:  # cut in the middle: both the module and the event stay readable
            assert re.search(r"module\.\S*…\S* start", row), table
        done = screen.wait_for(r"applied-rc=\d+")
        assert "applied-rc=0" in done, done
        assert f"workloads applied to cluster context/namespace standin/{namespace}" in done

        # The plan names the object and the field, old -> new.
        screen.run("sed -i 's/replicas: 2/replicas: 4/' app.yaml")
        plan = screen.run("appc plan -e test")
        assert f"~ Deployment {namespace}/web\n      spec.replicas: 2 → 4\n" in plan, plan
        assert "Plan: 0 to add, 1 to change, 0 to destroy." in plan

        # The prompt says what will be destroyed, by name; no cancels it.
        screen.run("cp without-web.yaml app.yaml")
        screen.type("appc apply -e test --no-wait; echo prompt-rc=$?")
        prompt = screen.wait_for(r"apply changes to web\? \[y/N\]:")
        assert (
            f"web is removed from the model: apply DESTROYS Deployment {namespace}/web, Service {namespace}/web"
            in prompt
        ), prompt
        assert f"- Deployment {namespace}/web" in prompt and "Plan: 0 to add, 0 to change, 2 to destroy." in prompt
        screen.type("n")
        cancelled = screen.wait_for(r"prompt-rc=\d+")
        assert "apply cancelled: nothing was changed" in cancelled and "prompt-rc=1" in cancelled
    finally:
        screen.close()


def _tour() -> list[str]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = readme.split("## A five-minute tour", 1)[1].split("```bash\n", 1)[1].split("```", 1)[0]
    return [
        line.split("#", 1)[0].rstrip() if not line.startswith("source") else line.split("  #", 1)[0].rstrip()
        for line in block.splitlines()
        if line.strip()
    ]


def test_the_readme_tour_is_the_one_tested():
    lines = _tour()
    assert (
        lines[0] == "source .venv/bin/activate"
        and lines[1] == "cd examples/webshop"
        and lines[-1] == "appc sandbox down"
    )
    assert "appc plan -e local" in lines and "appc outputs -e local --show-secrets db" in lines


@pytest.mark.slow
@pytest.mark.skipif(
    os.environ.get("APPC_TEST_TOUR") != "1",
    reason="the whole README tour (RDS apply and destroy, ~4 min): APPC_TEST_TOUR=1 scripts/test tests/test_terminal.py",
)
def test_the_readme_tour_pasted_line_by_line_runs_without_an_error(tmp_path):
    """Opt-in (APPC_TEST_TOUR=1): it applies and destroys RDS on the emulator, minutes, not seconds.
    A copy of the checkout's examples/webshop with the set-up's .venv: every tour line exits
    0, in order, at 200 columns; the screens show the plan's resources and the secret read from
    the sandbox is not an error."""
    clone = tmp_path / "clone"
    shutil.copytree(
        ROOT / "examples" / "webshop",
        clone / "examples" / "webshop",
        ignore=shutil.ignore_patterns(".composer", "deploy"),
    )
    (clone / ".venv").symlink_to(ROOT / ".venv")
    env = _environment(tmp_path)
    env["PATH"] = os.pathsep.join(
        p for p in env["PATH"].split(os.pathsep) if Path(p) != APPC.parent
    )  # only the tour's own set-up
    for k in [k for k in env if k.startswith("AWS_")]:
        env.pop(k)  # the sandbox needs no AWS credentials, and must not use any
    screen = Screen(tmp_path, 200, env)
    try:
        screen.type(f"cd {clone}")
        seen = ""
        for line in _tour():
            seen = screen.run(line, timeout=600)
        assert "+ module.db.aws_db_instance.this" in seen or "module.db." in seen, seen
        assert "no AWS credentials" not in seen and "internal error" not in seen
    finally:
        screen.close()
        subprocess.run(
            [str(APPC), "sandbox", "down", "-f", str(clone / "examples" / "webshop" / "app.yaml")],
            capture_output=True,
            timeout=60,
        )
