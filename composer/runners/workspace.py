"""The workspace: where Terraform roots run, beside the app (.composer/).

    .composer/roots/<env>/terraform/<unit>/   rendered roots (+ .terraform/ kept between runs)
    .composer/roots/<env>/modules/<hash>/     module sources (each with a .appc-module marker)
    .composer/tfstate/<app>/<env>/<unit>.tfstate   local-backend Terraform state

Files are rewritten only when their bytes change, so `.terraform/` survives and an
unchanged unit needs no `terraform init`.

`.composer/` may have been committed by someone else (a fork's pull request), so nothing
in it is trusted because it is there:

- every file operation goes through composer/safefs.py from the vetted `.composer`
  directory down: a planted link is refused, never followed; directories are 0700, because
  roots, plan files and Terraform state can hold secrets;
- a module directory is removed only when its marker proves appc wrote it, and Terraform
  never runs on a module or root directory holding a file appc did not write there;
- a unit's `.terraform/` (providers, module paths) is reused only when its init marker is
  sealed with this machine's workspace key (kept outside the project, in the user's cache);
  one appc did not make here is refused, because Terraform would run the providers it names.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import stat
from collections.abc import Iterable, Mapping
from pathlib import Path

from composer import safefs
from composer.diagnostics import Diagnostic, DiagnosticError

MODULE_MARKER = ".appc-module"
MODULE_MARKER_TEXT = b"written by appc; the directory is removed when no unit uses it\n"
INIT_MARKER = ".terraform/appc-init"
PENDING = "pending"

# What Terraform writes in place in a unit's directory: each must be absent or a plain file
# (directory) of its own, or Terraform would write through a planted link.
TERRAFORM_FILES = (
    ".terraform.lock.hcl",
    "appc.tfplan",
    "errored.tfstate",
    ".terraform/terraform.tfstate",
    ".terraform/environment",
    INIT_MARKER,
    ".terraform/modules/modules.json",
)
TERRAFORM_DIRS = (".terraform", ".terraform/modules", ".terraform/providers")
# What may sit in a unit's directory besides those: appc's root, temp files of appc's own
# writes and of its Terraform runs' output. Anything else (a *.tf, *.tfvars, override file)
# would be loaded by Terraform as part of the root.
# appc_override.tf.json / appc_import.tf.json: appc's own overlays (engine/rotate.py, engine/adopt.py),
# rewritten or removed before every Terraform run.
_UNIT_ENTRIES = {"main.tf.json", "appc_override.tf.json", "appc_import.tf.json", ".terraform/", *TERRAFORM_FILES}
_TEMP_PREFIXES = (".appc-terraform-",)


class LocalWorkspace:
    def __init__(self, base: Path, environment: str):
        self.base = base  # the vetted .composer directory (real path)
        self.prefix = f"roots/{environment}"
        self.root = base / self.prefix
        self.tfstate_dir = base / "tfstate"

    def _rel(self, rel: str) -> str:
        return f"{self.prefix}/{rel}"

    def sync(self, files: Mapping[str, bytes]) -> None:
        safefs.private_dir(self.base, self.prefix)
        modules = {rel.split("/")[1] for rel in files if rel.startswith("modules/")}
        for rel, data in files.items():
            self.write(rel, data)
        for name in sorted(modules):
            self.write(f"modules/{name}/{MODULE_MARKER}", MODULE_MARKER_TEXT)
            extra = self._foreign_entries(name, files)
            if extra:
                raise _foreign(self.root / "modules" / name / extra[0], "Terraform would load it as part of the module")
        for name in safefs.list_dir(self.base, self._rel("modules")):
            if name not in modules:
                safefs.remove_owned_tree(self.base, self._rel(f"modules/{name}"), MODULE_MARKER)

    def _foreign_entries(self, name: str, files: Iterable[str]) -> list[str]:
        """What module directory `name` holds beyond its files (paths of the render tree), the
        marker and the directories between them."""
        expected = {rel.removeprefix(f"modules/{name}/") for rel in files if rel.startswith(f"modules/{name}/")}
        expected |= {MODULE_MARKER} | {p.rsplit("/", i)[0] + "/" for p in expected for i in range(1, p.count("/") + 1)}
        return [
            e for e in safefs.walk(self.base, self._rel(f"modules/{name}")) if e not in expected and not _own_temp(e)
        ]

    def holds(self, digests: Mapping[str, str]) -> bool:
        """True when `sync` of files with these sha256 digests would write, remove and refuse
        nothing: the no-op fast path (composer/cli/fastpath.py) hands over to it otherwise."""
        modules = {rel.split("/")[1] for rel in digests if rel.startswith("modules/")}
        marker = hashlib.sha256(MODULE_MARKER_TEXT).hexdigest()
        wanted = {**digests, **{f"modules/{name}/{MODULE_MARKER}": marker for name in modules}}
        try:
            with safefs.opened_dir(self.base, self.prefix) as fd:
                if fd is None or stat.S_IMODE(os.fstat(fd).st_mode) != safefs.PRIVATE_DIR:
                    return False
            return (
                all(self._holds(rel, digest) for rel, digest in wanted.items())
                and not any(self._foreign_entries(name, digests) for name in modules)
                and set(safefs.list_dir(self.base, self._rel("modules"))) == modules
            )
        except (DiagnosticError, OSError):
            return False

    def _holds(self, rel: str, digest: str) -> bool:
        return written_as(self.base, self._rel(rel), digest)

    def write(self, rel: str, data: bytes) -> Path:
        safefs.write_file(self.base, self._rel(rel), data)
        return self.root / rel

    def write_private(self, rel: str, data: bytes) -> Path:
        safefs.write_file(self.base, self._rel(rel), data, mode=safefs.PRIVATE_FILE, if_changed=False)
        return self.root / rel

    def read(self, rel: str) -> bytes | None:
        return safefs.read_file(self.base, self._rel(rel))

    def remove(self, rel: str) -> None:
        safefs.remove_file(self.base, self._rel(rel))

    def workdir(self, unit: str) -> Path:
        """The unit's Terraform directory, after checking that nothing Terraform writes there
        is a planted link, FIFO or hard link, and that it holds nothing appc did not put there."""
        rel = self._rel(f"terraform/{unit}")
        safefs.check_plain(
            self.base, [f"{rel}/{f}" for f in TERRAFORM_FILES], dirs=[rel, *(f"{rel}/{d}" for d in TERRAFORM_DIRS)]
        )
        for name in safefs.list_dir(self.base, rel):
            is_dir = name == ".terraform"
            if (
                (name + "/" if is_dir else name) not in _UNIT_ENTRIES
                and not name.startswith(_TEMP_PREFIXES)
                and not _own_temp(name)
            ):
                raise _foreign(self.root / "terraform" / unit / name, "Terraform would load it as part of the root")
        return self.root / "terraform" / unit

    # -- terraform init, sealed -------------------------------------------------------------
    def _seal(self, unit: str, fingerprint: str) -> bytes:
        mac = hmac.new(machine_key(), f"{unit}\0{fingerprint}".encode(), hashlib.sha256).hexdigest()
        return f"{fingerprint} {mac}\n".encode()

    def init_needed(self, unit: str, fingerprint: str) -> bool:
        """False when the unit's .terraform/ was initialised by appc on this machine for
        exactly `fingerprint`. Otherwise it is marked pending (so a run killed during init is
        still known as appc's) and True; a .terraform/ appc did not make is refused."""
        marker = self.read(f"terraform/{unit}/{INIT_MARKER}")
        if marker == self._seal(unit, fingerprint):
            return False
        recorded = (marker or b"").decode(errors="replace").split(" ")[0]
        ours = marker is not None and marker == self._seal(unit, recorded)
        made = [n for n in safefs.list_dir(self.base, self._rel(f"terraform/{unit}/.terraform")) if not _own_temp(n)]
        if not ours and made:  # (a temp file of a marker write killed before its rename is appc's own)
            raise _foreign(
                self.root / "terraform" / unit / ".terraform",
                "Terraform would run the providers and modules it names",
                "It was not initialised by appc on this machine; remove it and run again (appc runs terraform init itself).",
            )
        self.write(f"terraform/{unit}/{INIT_MARKER}", self._seal(unit, PENDING))
        return True

    def initialized(self, unit: str, fingerprint: str) -> None:
        self.write(f"terraform/{unit}/{INIT_MARKER}", self._seal(unit, fingerprint))

    def state_path(self, key: str) -> Path:
        """The local backend's state file for `key`, in 0700 directories; the state file, its
        backup and Terraform's lock-info file beside it are checked like workdir's files."""
        parent, _, name = f"tfstate/{key}".rpartition("/")
        safefs.private_dir(self.base, "tfstate")
        safefs.private_dir(self.base, parent)
        safefs.check_plain(self.base, [f"{parent}/{name}", f"{parent}/{name}.backup", f"{parent}/.{name}.lock.info"])
        for existing in (name, f"{name}.backup"):  # Terraform rewrites state in place, keeping the mode
            safefs.make_private(self.base, f"{parent}/{existing}")
        return self.base / parent / name


def written_as(base: Path, rel: str, digest: str) -> bool:
    """safefs.write_file(base, rel, data) of bytes with this sha256 would leave base/rel as it is
    (a regular 0644 file holding them). Raises OSError or DiagnosticError when it cannot tell."""
    parent, _, name = rel.rpartition("/")
    with safefs.opened_dir(base, parent) as fd:
        st = None if fd is None else os.stat(name, dir_fd=fd, follow_symlinks=False)
    if st is None or not stat.S_ISREG(st.st_mode) or stat.S_IMODE(st.st_mode) != safefs.PUBLIC_FILE:
        return False
    data = safefs.read_file(base, rel)
    return data is not None and hashlib.sha256(data).hexdigest() == digest


def _own_temp(rel: str) -> bool:
    """A temp file of an interrupted safefs write (`.NAME.HEX.tmp`)."""
    name = rel.rsplit("/", 1)[-1]
    return name.startswith(".") and name.endswith(".tmp")


def _foreign(path: Path, why: str, fix: str = "") -> DiagnosticError:
    return DiagnosticError(
        [
            Diagnostic(
                f"refusing to run Terraform: {path} was not written by appc",
                f"{why}. " + (fix or "Remove it and run again; appc writes everything this directory needs."),
            )
        ]
    )


def machine_key() -> bytes:
    """This user's workspace key, outside every project ($XDG_CACHE_HOME/appc/workspace.key,
    0600), created once with a random value. It seals init markers, so a `.terraform/`
    committed into a repository is never mistaken for one appc made."""
    directory = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "appc"
    directory.mkdir(parents=True, exist_ok=True, mode=safefs.PRIVATE_DIR)
    directory = Path(os.path.realpath(directory))
    key = safefs.read_file(directory, "workspace.key")
    if key is None:
        tmp = f".workspace.key.{secrets.token_hex(6)}"
        safefs.write_file(directory, tmp, secrets.token_hex(32).encode(), mode=safefs.PRIVATE_FILE, if_changed=False)
        try:
            os.link(directory / tmp, directory / "workspace.key")  # the first writer wins, never replaced
        except FileExistsError:
            pass
        finally:
            os.unlink(directory / tmp)
        key = safefs.read_file(directory, "workspace.key")
    if not key or len(key) < 32:
        raise safefs.refusal(
            directory / "workspace.key",
            "it is empty or too short to be appc's workspace key",
            "remove it; appc creates a new one",
        )
    return key


def forget_terraform_states(base: Path, app: str, environment: str) -> int:
    """Remove the local-backend Terraform state files of app/environment (a sandbox reset):
    only regular files named like Terraform state, one by one; no tree is removed."""
    rel = f"tfstate/{app}/{environment}"
    return sum(
        safefs.remove_file(base, f"{rel}/{name}")
        for name in safefs.list_dir(base, rel)
        if name.endswith((".tfstate", ".tfstate.backup"))
    )
