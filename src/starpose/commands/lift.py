"""`starpose lift` and (transitionally) `starpose render`."""
from starpose.lift import add_cli as add_parser  # noqa: F401
