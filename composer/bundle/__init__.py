"""Bundles: an application, its environments, definitions, locked modules and Terraform providers
in one deterministic, signable OCI image layout archive (docs/packaging.md).

The parts here are pure (bytes and values in, bytes and values out):

- `layout.py`: the archive's tar framing, canonical byte for byte, and its strict reading;
- `manifest.py`: the OCI image layout (oci-layout, index.json, manifests, one blob per file);
- `statement.py`: keys, the in-toto Statement with SLSA-style provenance, DSSE envelopes;
- `requirements.py`: the environment contract a bundle carries, and its check;
- `inventory.py`: what each component creates, and the provenance Composer stamps on it.

Reading files, mirrors and archives is composer/runners/bundles.py.
"""
