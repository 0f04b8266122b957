"""A small project for file-system attacks, and the bookkeeping that proves what was touched.

The project has a Terraform unit whose module needs no provider (`terraform_data`, so a
plan costs about a second and no provider start) and a workload delivered to a GitOps
directory. It lives in `<tmp>/proj`; `<tmp>/decoy` is a tree outside the project that
planted links point at. `Snapshot` records every path under a directory with its bytes,
mode and inode, so a test can say exactly what changed there.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

from tests.helpers import write

THING = """
variable "name" { type = string }
resource "terraform_data" "this" { input = var.name }
output "id" { value = terraform_data.this.id }
"""

# Fails at plan: Terraform still writes its "errored plan" file (-out), which holds the
# root's variables; appc must remove it.
BROKEN = """
variable "name" { type = string }
resource "terraform_data" "this" {
  input = var.name
  lifecycle {
    postcondition {
      condition     = self.input == "never"
      error_message = "this module always fails at plan"
    }
  }
}
output "id" { value = terraform_data.this.id }
"""

# Plans fine, fails at apply (the postcondition is checked once the output is known).
FAILS_AT_APPLY = BROKEN.replace("self.input", "self.output").replace("at plan", "at apply")


def environment(directory: str = "deploy", state: str = "") -> str:
    return (
        "apiVersion: composer.dev/v1alpha1\nkind: Environment\nmetadata: {name: test}\nspec:\n"
        f"  kubernetes: {{directory: {directory}, namespace: t}}\n" + (f"  state: {{path: {state}}}\n" if state else "")
    )


def cluster_environment(namespace: str) -> str:
    """Terraform units need a cluster (the stand-in, `kube` fixture): a GitOps directory would
    need a cloud secret store to publish their connections."""
    return f"apiVersion: composer.dev/v1alpha1\nkind: Environment\nmetadata: {{name: test}}\nspec:\n  kubernetes: {{context: standin, namespace: {namespace}}}\n"


def namespace_for(tmp: Path) -> str:
    return "fs-" + "".join(c if c.isalnum() else "-" for c in tmp.name.lower())[-40:].strip("-")


def make_fs_project(tmp: Path, module: str | None = "thing", workload: bool = True, env: str | None = None) -> Path:
    """`<tmp>/proj/app.yaml`, plus `<tmp>/decoy` with a file and a directory. `module`: the
    Terraform unit's module (thing, broken, late) or None for no Terraform unit. With a
    Terraform unit the default environment `test` is the cluster stand-in; without one, a
    GitOps directory. `web.yaml` (the workload alone) and environment `gitops` (a GitOps
    directory) are always there."""
    if env is None:
        env = cluster_environment(namespace_for(tmp)) if module else environment()
    components = (
        f"    - {{name: thing, type: terraform-module, properties: {{source: modules/{module}, inputs: {{name: x}}, outputs: {{id: {{}}}}}}}}\n"
        if module
        else ""
    )
    if workload:
        components += '    - {name: web, type: webservice, properties: {image: "nginx:1.27", port: 80}}\n'
    write(
        tmp,
        {
            "proj/app.yaml": f"apiVersion: composer.dev/v1alpha1\nkind: Application\nmetadata: {{name: fs}}\nspec:\n  components:\n{components}",
            "proj/environments/test.yaml": env,
            "proj/environments/gitops.yaml": environment().replace("name: test", "name: gitops"),
            "proj/web.yaml": "apiVersion: composer.dev/v1alpha1\nkind: Application\nmetadata: {name: fsweb}\nspec:\n  components:\n"
            '    - {name: web, type: webservice, properties: {image: "nginx:1.27", port: 80}}\n',
            "proj/modules/thing/main.tf": THING,
            "proj/modules/broken/main.tf": BROKEN,
            "proj/modules/late/main.tf": FAILS_AT_APPLY,
            "decoy/file.txt": "the decoy's own bytes\n",
            "decoy/dir/inner.txt": "inner\n",
        },
    )
    return tmp / "proj" / "app.yaml"


@dataclass(frozen=True)
class Entry:
    kind: str  # file | dir | link | fifo | other
    mode: int
    inode: int
    data: bytes | str | None  # bytes of a file, target of a link


def snapshot(root: Path) -> dict[str, Entry]:
    """Every path under root (links not followed)."""
    out: dict[str, Entry] = {}
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        for name in [*dirnames, *filenames]:
            path = Path(dirpath, name)
            st = os.lstat(path)
            rel = str(path.relative_to(root))
            if stat.S_ISLNK(st.st_mode):
                out[rel] = Entry("link", 0, st.st_ino, os.readlink(path))
            elif stat.S_ISDIR(st.st_mode):
                out[rel] = Entry("dir", stat.S_IMODE(st.st_mode), st.st_ino, None)
            elif stat.S_ISREG(st.st_mode):
                out[rel] = Entry("file", stat.S_IMODE(st.st_mode), st.st_ino, path.read_bytes())
            elif stat.S_ISFIFO(st.st_mode):
                out[rel] = Entry("fifo", stat.S_IMODE(st.st_mode), st.st_ino, None)
            else:
                out[rel] = Entry("other", stat.S_IMODE(st.st_mode), st.st_ino, None)
    return out


def changes(before: dict[str, Entry], after: dict[str, Entry]) -> dict[str, list[str]]:
    """Paths removed, added and changed (bytes, link target, kind or mode) between two snapshots."""
    return {
        "removed": sorted(set(before) - set(after)),
        "added": sorted(set(after) - set(before)),
        "changed": sorted(
            p
            for p in set(before) & set(after)
            if (before[p].kind, before[p].data, before[p].mode) != (after[p].kind, after[p].data, after[p].mode)
        ),
    }
