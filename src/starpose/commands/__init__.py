"""The command line's subcommands, one module per command.

Each module defines ``add_parser(subparsers)``, which builds the subcommand's parser and sets
``func`` to a function ``run(args) -> int``. A command module holds only its argparse definition
and the glue that turns parsed arguments into calls of the library; it imports the heavy library
modules (torch) inside ``run`` so that ``starpose --help`` stays fast.
"""

# In the order the commands appear in ``starpose --help``.
COMMANDS = ("info", "synth", "train", "evaluate", "demo", "lift", "render", "export", "bench")
