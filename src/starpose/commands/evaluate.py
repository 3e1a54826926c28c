"""`starpose evaluate` (transitional shim)."""
from starpose.evaluate import add_cli as add_parser  # noqa: F401
