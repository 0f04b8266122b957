"""Composer state: one document per app and environment, and the stores that keep it.

`model.py` is the document (pure); `protocol.py` the store protocol; `local.py` and
`s3.py` the two stores. Every store passes tests/test_state_conformance.py.
"""
