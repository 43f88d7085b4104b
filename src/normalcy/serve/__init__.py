"""``normalcy serve``: a REST service over saved model files (FastAPI).

``normalcy.serve.app.create_app`` builds the app; ``normalcy.serve.settings`` holds and
validates its settings; ``normalcy.serve.metrics`` writes the Prometheus text exposition.
Importing this package imports nothing heavy (FastAPI is imported by ``app`` only).
"""
