"""Graphs as normalcy data types: graph-level detection (``graph``) and the shared graph
representation used by node-level detection (``normalcy.nodes``).

Importing this package imports no detector module (see docs/architecture.md).
"""
