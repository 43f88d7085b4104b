"""Node-level anomaly detection on one attributed graph (one score per node).

Importing this package imports no detector module (see docs/architecture.md).
"""
