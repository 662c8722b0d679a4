"""Verbs that other packages add to `tonglian`, found through the `tonglian.cli` entry points.

The way adapters join through `tonglian.adapters`: a package names a function
`register(subparsers)` under the verb it adds (`devnet`), or under `VERB.ACTION`
to add an action to a built-in verb (`adapter.new` gets the `adapter` verb's
actions). The function's docstring's first line is the verb's help. The CLI calls
a register function only when its verb is on the command line, so an extension's
heavy imports wait until its verb runs. Nothing here names an extension: the
server does not depend on the tooling (tonglian_tools) that uses this.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeAlias

if TYPE_CHECKING:
    from importlib.metadata import EntryPoint

GROUP = "tonglian.cli"

# A string: argparse's class is not subscriptable at run time.
Subparsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"
Register: TypeAlias = Callable[[Subparsers], None]


@dataclass(frozen=True)
class Extension:
    # "devnet" (a verb) or "adapter.new" (an action of the built-in verb `adapter`).
    name: str
    register: Register

    @property
    def verb(self) -> str:
        return self.name.partition(".")[0]

    @property
    def action(self) -> str:
        return self.name.partition(".")[2]

    @property
    def help(self) -> str:
        doc = (self.register.__doc__ or "").strip()
        return doc.splitlines()[0] if doc else ""


def discover(found: Iterable[EntryPoint] | None = None) -> list[Extension]:
    """The extensions of GROUP (or of `found`), in name order.

    One that fails to load is reported on stderr and left out: a broken plugin
    must not take the whole CLI down, and a missing one only removes its verb.
    """
    # Imported here: reading installed packages' metadata is slow, and fast verbs skip it.
    from importlib.metadata import entry_points

    eps = entry_points(group=GROUP) if found is None else found
    out: dict[str, Extension] = {}
    for ep in eps:
        try:
            fn = ep.load()
        except Exception as exc:
            print(
                f"tonglian: extension {ep.name} ({ep.value}) did not load: {exc}", file=sys.stderr
            )
            continue
        if callable(fn) and ep.name not in out:
            out[ep.name] = Extension(ep.name, fn)
    return [out[name] for name in sorted(out)]


def actions_of(parser: argparse.ArgumentParser) -> Subparsers | None:
    """The ACTION subparsers of a verb's parser, so an extension can add an action to it."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action
    return None


def lazy(module: str, name: str) -> Callable[[argparse.Namespace], Any]:
    """A verb function that imports `module` when the verb runs, not when parsers are built."""

    def run(args: argparse.Namespace) -> Any:
        return getattr(importlib.import_module(module), name)(args)

    run.__qualname__ = run.__name__ = f"{module}:{name}"
    return run
