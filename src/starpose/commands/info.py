"""`starpose info` (transitional shim: the parser still lives in the library module)."""
from starpose.info import add_cli as add_parser  # noqa: F401
