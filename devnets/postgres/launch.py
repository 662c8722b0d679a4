"""Runs a PostgreSQL program as its unprivileged owner, optionally bound to our parent.

    python -m devnets.postgres.launch [--user NAME] [--parent PID] PROGRAM ARGS...

PostgreSQL refuses to run as root, and the kernel clears a parent-death signal
when a process changes its user: so the user is changed first, the signal set
after, and only then is PROGRAM exec'd (the signal survives exec).
"""

from __future__ import annotations

import argparse
import os
import pwd

from hub.lifeline import bind_to_parent


def main() -> None:
    parser = argparse.ArgumentParser(prog="devnets.postgres.launch")
    parser.add_argument("--user", help="become this user first (when started as root)")
    parser.add_argument("--parent", type=int, help="die when this process (our parent) dies")
    parser.add_argument("argv", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    if args.user:
        entry = pwd.getpwnam(args.user)
        os.initgroups(args.user, entry.pw_gid)
        os.setgid(entry.pw_gid)
        os.setuid(entry.pw_uid)
        os.environ.update(HOME=entry.pw_dir, USER=args.user, LOGNAME=args.user)
    if args.parent:
        bind_to_parent(args.parent)
    argv = args.argv[1:] if args.argv[:1] == ["--"] else args.argv
    os.execv(argv[0], argv)


if __name__ == "__main__":
    main()
