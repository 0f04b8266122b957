"""The cluster sink's parts, one responsibility a module; `ClusterSink` itself, the engine's
`WorkloadSink` for clusters, is composer/runners/kubernetes.py (its docstring maps the modules)."""
