"""The engine: plan, apply and destroy over the unit DAG.

Pure orchestration over ports (engine/ports.py): Terraform, the workspace on disk, the
workload sink, the secret reader and the state store are passed in; the engine decides
what runs, in which order, what is skipped, and what state records.
"""
