"""`starpose bench` (transitional shim)."""
from starpose.bench import add_cli as add_parser  # noqa: F401
