"""`starpose train` (transitional shim)."""
from starpose.train import add_cli as add_parser  # noqa: F401
