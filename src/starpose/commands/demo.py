"""`starpose demo` (transitional shim)."""
from starpose.demo import add_cli as add_parser  # noqa: F401
