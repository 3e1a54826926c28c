"""The command line's subcommands, one module per command.

Each module defines ``add_parser(subparsers)``, which builds the subcommand's parser and sets
``func`` to a function ``run(args) -> int``. A command module holds only its argparse definition
and the glue that turns parsed arguments into typed calls of the library (a ``TrainConfig``,
paths, tensors); it imports the heavy library modules (torch) inside ``run`` so that
``starpose --help`` and ``starpose COMMAND --help`` stay fast. What the parsers share (argument
types, ``--device``, the help layout with defaults and examples) is in :mod:`.common`.

Command-line flags are named only here: the library's errors speak of its own parameters.
"""

# In the order the commands appear in ``starpose --help``.
COMMANDS = (
    "info", "synth", "train", "evaluate", "demo", "lift", "render", "export", "mocap", "bench",
)
