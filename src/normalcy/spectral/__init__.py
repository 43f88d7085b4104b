"""Spectral cubes (hyperspectral images, EELS spectrum images) as a normalcy data type.

Input: one ``H x W x B`` cube or a list of cubes sharing ``B`` bands; one score per pixel.
See ``normalcy.spectral.base`` for the policies and docs/spectral.md for the protocol.
"""
