"""The ``coven-trio`` program: the command line (:mod:`coven_trio.cli`), or — for
``serve`` — the daemon itself (:mod:`coven_trio._serve`). Each side is imported only
when it runs, so a client command never loads the daemon, and the command line's
package never imports the daemon's.
"""

from __future__ import annotations

from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    from .cli import parse

    args = parse(argv)
    if args.command == "serve":
        from ._serve import run as serve

        return serve(args)
    from .cli import run

    return run(args)
