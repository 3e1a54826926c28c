"""`starpose synth` (transitional shim)."""
from starpose.data.synthetic import add_cli as add_parser  # noqa: F401
