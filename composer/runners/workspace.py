"""The workspace: where Terraform roots run, beside the app (.composer/).

    .composer/roots/<env>/terraform/<unit>/   rendered roots (+ .terraform/ kept between runs)
    .composer/roots/<env>/modules/<hash>/     module sources
    .composer/tfstate/<app>/<env>/<unit>.tfstate   local-backend Terraform state

Files are rewritten only when their bytes change, so `.terraform/` survives and an
unchanged unit needs no `terraform init`.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Mapping


class LocalWorkspace:
    def __init__(self, root: Path, tfstate_dir: Path):
        self.root = root
        self.tfstate_dir = tfstate_dir

    def sync(self, files: Mapping[str, bytes]) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        for rel, data in files.items():
            self.write(rel, data)
        modules = self.root / "modules"
        if modules.is_dir():
            keep = {rel.split("/")[1] for rel in files if rel.startswith("modules/")}
            for d in modules.iterdir():
                if d.name not in keep:
                    shutil.rmtree(d, ignore_errors=True)

    def write(self, rel: str, data: bytes) -> Path:
        path = self.root / rel
        if path.exists() and path.read_bytes() == data:
            return path
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_bytes(data)
        tmp.replace(path)
        return path

    def read(self, rel: str) -> bytes | None:
        path = self.root / rel
        return path.read_bytes() if path.is_file() else None

    def remove(self, rel: str) -> None:
        path = self.root / rel
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        elif path.exists():
            path.unlink()

    def state_path(self, key: str) -> Path:
        path = self.tfstate_dir / key
        path.parent.mkdir(parents=True, exist_ok=True)
        return path
