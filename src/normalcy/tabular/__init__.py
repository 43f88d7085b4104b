"""Tabular detectors: PyOD's classics behind normalcy's API, and the methods of recent research.

Importing this package imports no detector: ``nc.create(name)`` imports the one module it
needs, ``nc.detectors()`` all of them (see ``core.registry``). ``modality.py`` describes
the data type to the rest of normalcy.
"""
