"""`starpose export` (transitional shim)."""
from starpose.models.checkpoints import add_cli as add_parser  # noqa: F401
