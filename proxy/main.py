"""`uvicorn proxy.main:app`: the proxy configured from the environment."""

from proxy.app import create_app

app = create_app()
