"""`starpose render` (transitional: registered together with lift by starpose.lift.add_cli)."""


def add_parser(subparsers) -> None:
    pass
