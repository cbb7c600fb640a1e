"""The ``coven-trio`` command line for people and programs: :func:`parse` the arguments,
:func:`run` a client command. The daemon itself (``serve``) is not here: ``coven_trio.main``
hands it to the daemon's side, so nothing of this package loads the daemon.

Exit codes: 0 success; 1 refused (the daemon answered an error); 2 usage error; 3 the
daemon is not reachable; 4 (``status``) a stale socket; 130 interrupted.
"""

from __future__ import annotations

import argparse
import errno
import json
import os
import sys
import types
from collections.abc import Sequence
from typing import Any

from .._defaults import default_home
from ..client import ClientError, DaemonUnreachable
from ._commands import EXIT_OK, EXIT_REFUSED, EXIT_UNREACHABLE
from ._parser import More, options_after_the_harness, parser


def parse(argv: Sequence[str] | None = None, more: More | None = None) -> argparse.Namespace:
    """The parsed command line (shell completion answers here and exits). ``more`` adds
    commands this package may not import (``coven_trio.main``'s ``fleet``)."""
    tree = parser(more)
    if "_ARGCOMPLETE" in os.environ:  # a shell asking for completions
        import argcomplete

        argcomplete.autocomplete(tree)
    args = tree.parse_args(argv)
    if args.command == "run":
        options_after_the_harness(args)
    if args.command not in ("serve", "completion"):
        args.home = args.home or default_home()
    return args


def run(args: argparse.Namespace) -> int:
    """Run one client command; print errors for a person (or as JSON) and map them to
    exit codes."""
    command = args.run
    try:
        done = command(args)
        if not isinstance(done, types.CoroutineType):
            return int(done)
        done.close()  # an async command runs on trio, which is imported only for it
        import trio

        code: int = trio.run(command, args)
        return code
    except DaemonUnreachable as exc:
        _report(args, {"code": exc.code, "message": exc.message})
        return EXIT_UNREACHABLE
    except ClientError as exc:
        error: dict[str, Any] = {"code": exc.code, "message": exc.message}
        if exc.details is not None:
            error["details"] = exc.details
        _report(args, error)
        return EXIT_REFUSED
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # `coven-trio tail … | head`: the reader left; that is not an error.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except OSError as exc:
        if exc.errno == errno.EPIPE:
            return EXIT_OK
        raise


def _report(args: argparse.Namespace, error: dict[str, Any]) -> None:
    if getattr(args, "json", False):
        print(json.dumps({"error": error}))
    else:
        print(f"coven-trio: {error['code']}: {error['message']}", file=sys.stderr)


__all__ = ["parse", "run"]
