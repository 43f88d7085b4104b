"""Log sessions as a normalcy data type: parsing (Drain3), sessions and log detectors.

Importing this package imports no detector module (see docs/architecture.md).
"""
