"""One reconcile with a catalog from a signed bundle (`Environment.spec.catalog.bundle`): the
bundle is verified and unpacked (composer/runners/controller_catalog_bundle.py) before the child
`appc` runs with `--catalog` on its definitions. A refused bundle fails an apply before anything
runs, with the Degraded reason `CatalogRefused`; a destroy goes on with the catalog it last
unpacked. The bundle's digest stands for the catalog in `lastAppliedRevision`."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from composer.controller import reconcile
from composer.runners.controller_catalog import CatalogReader
from composer.runners.controller_catalog_bundle import last_unpacked

REFUSED = "CatalogRefused"


def run_with_bundle(root: Path, job: reconcile.Job, verb: reconcile.Verb, catalogs: CatalogReader) -> reconcile.Outcome:
    assert job.catalog_bundle is not None
    if job.catalog is not None and verb == "apply":
        both = "spec.catalog names both a configMap and a bundle: name one"
        return reconcile.Outcome(exit_code=1, message=both, reason=REFUSED)
    directory = reconcile.write_project(root, job)
    got = catalogs.read_bundle(job.namespace, job.catalog_bundle, directory)
    definitions = got.definitions
    if got.problem is not None:
        if verb == "apply":
            return reconcile.Outcome(exit_code=1, message=got.problem, reason=REFUSED)
        definitions = last_unpacked(directory)
    extra = ("--catalog", str(definitions)) if definitions is not None else ()
    outcome = reconcile.run_child(directory, job, verb, extra)
    return dataclasses.replace(outcome, catalog=f"bundle {got.digest}" if got.digest else None)
