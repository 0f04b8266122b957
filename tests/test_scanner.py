"""A standard policy scanner (checkov) over what Composer ships and renders.

Scans the rendered Kubernetes workloads of the examples (the webshop in its production and
development tiers, the platform catalog, the KubeVela example), the webshop's production
Terraform roots with their modules, and every module under modules/. The test fails on any
finding not in tests/scanner_allowlist.yaml, where each entry says why it is accepted, and on
an allowlist entry that no longer matches anything (the list stays short and true).

checkov lives in its own virtualenv (.venv-scan, pinned in tests/support/checkov.py), installed on
first use or ahead by .ci/run: its dependency pins conflict with ours. Without it (no package index reachable) the test is skipped,
saying so.
"""

from __future__ import annotations

import fnmatch
import json
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from composer.project import compile_project, open_project
from tests.helpers import ROOT
from tests.support import checkov

ALLOWLIST = ROOT / "tests" / "scanner_allowlist.yaml"
RENDERS = [("webshop", "prod"), ("webshop", "dev"), ("platform-catalog", "staging"), ("oam", "dev")]


def checkov_binary() -> Path:
    try:
        return checkov.install()
    except (subprocess.SubprocessError, OSError) as exc:
        pytest.skip(f"checkov could not be installed into {checkov.VENV}: {exc}")


def scan_tree(tmp_path: Path, registry) -> Path:
    root = tmp_path / "scan"
    for example, env in RENDERS:
        files = compile_project(open_project(ROOT / "examples" / example / "app.yaml"), env, registry).rendered.files
        for name, data in files.items():
            production_roots = (example, env) == ("webshop", "prod") and name.startswith(("terraform/", "modules/"))
            if name.startswith("kubernetes/") or production_roots and not name.endswith(".md"):
                target = root / f"{example}-{env}" / name
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data)
    shutil.copytree(ROOT / "modules", root / "modules", ignore=shutil.ignore_patterns("*.md"))
    return root


def findings(binary: Path, root: Path) -> list[dict]:
    run = subprocess.run(
        [
            str(binary),
            "-d",
            str(root),
            "--framework",
            "kubernetes",
            "terraform",
            "--quiet",
            "--compact",
            "-o",
            "json",
            "--skip-download",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.stdout.strip(), run.stderr[-2000:]
    reports = json.loads(run.stdout)
    out = []
    for report in reports if isinstance(reports, list) else [reports]:
        assert report["summary"]["parsing_errors"] == 0, report["summary"]
        for f in report["results"]["failed_checks"]:
            out.append(
                {
                    "check": f["check_id"],
                    "scope": report["check_type"],
                    "file": f["file_path"].lstrip("/"),
                    "resource": f["resource"],
                    "name": f["check_name"],
                }
            )
    return out


def checks_of(entry: dict) -> list[str]:
    """An entry's check ids: one, or a list that shares the entry's reason."""
    return [entry["check"]] if isinstance(entry["check"], str) else list(entry["check"])


def allowed(finding: dict, entry: dict) -> bool:
    return (
        finding["check"] in checks_of(entry)
        and entry["scope"] == finding["scope"]
        and fnmatch.fnmatch(finding["file"], entry.get("file", "*"))
        and fnmatch.fnmatch(finding["resource"], entry.get("resource", "*"))
    )


def test_allowlist_entries_each_give_a_reason():
    entries = yaml.safe_load(ALLOWLIST.read_text())
    assert entries and all({"check", "scope", "reason"} <= set(e) and len(e["reason"]) > 60 for e in entries)
    ids = [check for e in entries for check in checks_of(e)]
    assert all(isinstance(c, str) and c.startswith("CKV") for c in ids)
    # one reason per finding: a check accepted everywhere has no second, narrower entry
    everywhere = [c for e in entries if "file" not in e and "resource" not in e for c in checks_of(e)]
    narrowed = {c for e in entries if "file" in e or "resource" in e for c in checks_of(e)}
    assert len(everywhere) == len(set(everywhere)) and not set(everywhere) & narrowed


def test_scanner_finds_nothing_unexplained(tmp_path, registry):
    binary = checkov_binary()
    found = findings(binary, scan_tree(tmp_path, registry))
    entries = yaml.safe_load(ALLOWLIST.read_text())
    unexplained = [f for f in found if not any(allowed(f, e) for e in entries)]
    assert not unexplained, "findings not in tests/scanner_allowlist.yaml:\n" + "\n".join(
        f"{f['check']} {f['file']} {f['resource']}: {f['name']}" for f in unexplained
    )
    # every check of every entry must still be needed: a fixed check leaves the list
    stale = [
        f"{check} {e.get('file', '*')}"
        for e in entries
        for check in checks_of(e)
        if not any(allowed(f, {**e, "check": check}) for f in found)
    ]
    assert not stale, f"allowlist entries that match nothing (remove them): {stale}"
    # the secure pod defaults are what the scanner sees: no pod-security or requests finding is accepted
    assert not {f["check"] for f in found} & {
        "CKV_K8S_20",
        "CKV_K8S_23",
        "CKV_K8S_28",
        "CKV_K8S_37",
        "CKV_K8S_31",
        "CKV_K8S_38",
        "CKV_K8S_10",
        "CKV_K8S_12",
    }  # requests: always set
