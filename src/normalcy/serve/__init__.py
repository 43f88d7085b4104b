"""``normalcy serve``: a REST service over saved model files (FastAPI).

``normalcy.serve.app`` builds the app (``create_app``) and runs it (``run_server``);
``inputs`` turns requests into detector input (rows, uploads, series, images) and maps into
JSON; ``streaming`` keeps bounded per-stream state and ``stream_routes`` serves it over
WebSocket and HTTP; ``settings`` holds and validates the settings; ``metrics`` writes the
Prometheus text exposition. Importing this package imports nothing heavy (FastAPI is
imported by ``app`` only).
"""
