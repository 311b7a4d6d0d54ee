"""llmobserve proxy: forwards calls to paid APIs untouched and emits one priced span per call.

Run it with ``llmobserve-proxy --port 9000`` or ``uvicorn proxy.main:app --port 9000``.
Importing this package has no side effects; ``proxy.main`` builds the ASGI app.
"""
