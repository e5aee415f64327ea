"""The partners' HTTP matching API (FastAPI on uvicorn): a face, like the dashboard and the CLI."""
