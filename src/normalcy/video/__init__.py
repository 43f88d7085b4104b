"""Video: clips of frames (arrays, frame folders, video files), one score per frame.

Importing this package registers nothing (see docs/architecture.md); detectors live in
one module each and are found through the registry.
"""
