"""`tonglian adapter new NAME`: writes the package and tells the user what to run next."""

from __future__ import annotations

import argparse

from hub.cli import exit_codes
from hub.cli.output import error, print_json
from tonglian_tools.scaffold import ScaffoldError, create_package


def run_new(args: argparse.Namespace) -> int:
    try:
        root = create_package(args.name, args.dir)
    except ScaffoldError as exc:
        error(str(exc))
        return exit_codes.CONFLICT if exc.conflict else exit_codes.USAGE
    if args.json:
        files = sorted(str(p) for p in root.rglob("*") if p.is_file())
        print_json({"created": str(root), "files": files})
        return exit_codes.OK
    print(f"created {root}")
    print(
        f"next: pip install -e {root}; tonglian adapter list; "
        f"pytest {root / 'tests'}  (see docs/adapters.md)"
    )
    return exit_codes.OK
