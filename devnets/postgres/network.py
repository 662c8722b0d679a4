"""PostgresDevnet: a throwaway PostgreSQL server as a local process, for hub replicas.

`initdb` makes a cluster with one trusted superuser (`tonglian`, on 127.0.0.1
only), the server runs from PostgreSQL's own binaries (on PATH, else Debian's
/usr/lib/postgresql/VERSION/bin), and `up` prints the URL to give
`tonglian serve --store`. Started as root, everything runs as the unprivileged
`postgres` user, with the data folder owned by it (in /tmp, since the state
folder may not be reachable for that user). Test fixtures bind the server to
the test process, so it dies with it whatever kills the tests.
"""

from __future__ import annotations

import asyncio
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import asyncpg

from devnets.base import DevnetInfo, DevnetStatus, ProcessInfo, Progress, load_info, save_info
from devnets.process import DevnetError, free_port, is_alive, read_pid, spawn, stop, wait_until

PROCESS = "postgres"
SUPERUSER = "tonglian"
DATABASE = "tonglian"
# Who runs the server when we are root (PostgreSQL refuses root).
OWNER = "postgres"
_REPO_ROOT = Path(__file__).resolve().parents[2]


# Where Debian's packages put each major version's server programs (not on PATH).
DEBIAN_ROOT = Path("/usr/lib/postgresql")
SERVER_PROGRAMS = ("initdb", "postgres")


def server_bin_dir(path: str | None = None, debian_root: Path | None = None) -> Path:
    """The one folder that holds both `initdb` and `postgres` (never two versions mixed):
    the first on PATH, else the newest of Debian's /usr/lib/postgresql/VERSION/bin.
    `path` and `debian_root` replace $PATH and DEBIAN_ROOT (tests)."""
    root = DEBIAN_ROOT if debian_root is None else debian_root

    def complete(folder: Path) -> bool:
        return all(os.access(folder / p, os.X_OK) and (folder / p).is_file()
                   for p in SERVER_PROGRAMS)  # fmt: skip

    found = shutil.which("initdb", path=path)
    if found and complete(Path(found).parent):
        return Path(found).parent
    versions = sorted(
        (v for v in root.glob("*") if v.name.isdigit() and complete(v / "bin")),
        key=lambda v: int(v.name),
    )
    if versions:
        return versions[-1] / "bin"
    raise DevnetError(
        "PostgreSQL's server programs (initdb and postgres, side by side) were not found "
        f"on PATH or in {root}/VERSION/bin; install the server "
        "(Debian: apt-get install postgresql)"
    )


def server_binary(name: str) -> str:
    """`initdb` or `postgres`, from the folder `server_bin_dir` finds."""
    return str(server_bin_dir() / name)


def url_of(port: int, database: str = DATABASE) -> str:
    return f"postgresql://{SUPERUSER}@127.0.0.1:{port}/{database}"


class PostgresDevnet:
    kind = "postgres"

    def __init__(self, state_dir: Path, *, bind_to_parent: bool = False) -> None:
        """`bind_to_parent`: the server dies with this process (test fixtures)."""
        self.state_dir = state_dir
        self._bind = bind_to_parent

    def _owner(self) -> str | None:
        if os.geteuid() != 0:
            return None
        try:
            pwd.getpwnam(OWNER)
        except KeyError:
            raise DevnetError(
                f"running as root, PostgreSQL needs an unprivileged user {OWNER!r}: "
                "create it (useradd --system postgres) or run as another user"
            ) from None
        return OWNER

    def _launch(self, program: str, *args: str, parent: bool) -> list[str]:
        """argv that runs `program` as the cluster's owner (and bound to us if asked)."""
        argv = [sys.executable, "-m", "devnets.postgres.launch"]
        owner = self._owner()
        if owner:
            argv += ["--user", owner]
        if parent:
            argv += ["--parent", str(os.getpid())]
        return [*argv, "--", server_binary(program), *args]

    def _env(self) -> dict[str, str]:
        path = os.environ.get("PYTHONPATH", "")
        return {"PYTHONPATH": os.pathsep.join(filter(None, [str(_REPO_ROOT), path]))}

    def _data_dir(self, info: DevnetInfo | None) -> Path:
        if info is not None and info.extra.get("data_dir"):
            return Path(info.extra["data_dir"])
        if self._owner() is None:
            return self.state_dir / "data"
        made = Path(tempfile.mkdtemp(prefix="tonglian-pg-"))
        entry = pwd.getpwnam(OWNER)
        os.chown(made, entry.pw_uid, entry.pw_gid)
        return made / "data"

    async def _initdb(self, data: Path) -> None:
        if (data / "PG_VERSION").exists():
            return
        data.parent.mkdir(parents=True, exist_ok=True)
        argv = self._launch(
            "initdb", "-D", str(data), "-U", SUPERUSER, "--auth=trust", "--encoding=UTF8",
            "--no-sync", parent=True,
        )  # fmt: skip
        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env={**os.environ, **self._env()},
            cwd=str(data.parent),
        )
        out, _ = await proc.communicate()
        if proc.returncode != 0:
            raise DevnetError(f"initdb failed: {out.decode(errors='replace')[-2000:]}")

    def _running(self) -> bool:
        pid = read_pid(self.state_dir, PROCESS)
        return pid is not None and is_alive(pid)

    async def up(self, progress: Progress) -> DevnetInfo:
        info = load_info(self.state_dir)
        if info is not None and self._running():
            progress(f"postgres already running at {info.endpoints.get('url')}")
            return info
        server_bin_dir()  # no server programs: say so before making anything
        self.state_dir.mkdir(parents=True, exist_ok=True)
        data = self._data_dir(info)
        progress(f"initdb {data}")
        await self._initdb(data)
        port = int(info.extra["port"]) if info is not None else free_port()
        info = DevnetInfo(
            kind=self.kind,
            endpoints={"url": url_of(port)},
            extra={
                "data_dir": str(data),
                "port": port,
                "hint": f"serve replicas with `tonglian serve --store {url_of(port)}`",
            },
        )
        save_info(self.state_dir, info)
        await self.start(progress)
        return load_info(self.state_dir) or info

    async def start(self, progress: Progress = lambda _line: None) -> None:
        """Starts the server on the cluster `up` made (again, after `kill`)."""
        info = load_info(self.state_dir)
        if info is None:
            raise DevnetError("postgres devnet has no cluster yet: run `devnet up postgres`")
        data, port = Path(info.extra["data_dir"]), int(info.extra["port"])
        progress(f"starting postgres on 127.0.0.1:{port}")
        argv = self._launch(
            "postgres", "-D", str(data), "-h", "127.0.0.1", "-p", str(port),
            "-c", "unix_socket_directories=", "-c", "fsync=off",
            "-c", "max_connections=200", parent=self._bind,
        )  # fmt: skip
        handle = spawn(
            PROCESS,
            argv,
            self.state_dir,
            env=self._env(),
            cwd=data.parent,
            # Bound to us by its launcher; else, for a test run, by spawn's lifeline.
            binds_itself=self._bind,
        )

        async def probe() -> bool:
            conn = await asyncpg.connect(url_of(port, "postgres"), timeout=2)
            try:
                if not await conn.fetchval(
                    "SELECT 1 FROM pg_database WHERE datname = $1", DATABASE
                ):
                    await conn.execute(f'CREATE DATABASE "{DATABASE}"')
            finally:
                await conn.close()
            return True

        try:
            await wait_until(probe, timeout=60, what=f"postgres on port {port}", process=handle)
        except DevnetError:
            stop(self.state_dir, PROCESS)
            raise
        info.processes = [ProcessInfo(name=PROCESS, pid=handle.pid, log=str(handle.log_path))]
        save_info(self.state_dir, info)

    async def down(self) -> bool:
        """Stops the server (fast shutdown: clients are disconnected); keeps the cluster."""
        pid = read_pid(self.state_dir, PROCESS)
        running = pid is not None and is_alive(pid)
        if pid is not None and running:
            os.kill(pid, signal.SIGINT)  # PostgreSQL's "fast" shutdown
            for _ in range(200):
                if not is_alive(pid):
                    break
                await asyncio.sleep(0.05)
        stop(self.state_dir, PROCESS)
        return running

    async def destroy(self) -> None:
        """Stops the server and deletes its cluster (test fixtures)."""
        info = load_info(self.state_dir)
        await self.down()
        if info is not None and info.extra.get("data_dir"):
            data = Path(info.extra["data_dir"])
            shutil.rmtree(data.parent if data.parent.name.startswith("tonglian-pg-") else data,
                          ignore_errors=True)  # fmt: skip
        (self.state_dir / "devnet.json").unlink(missing_ok=True)

    async def status(self) -> DevnetStatus:
        info = load_info(self.state_dir)
        if info is None or not self._running():
            return DevnetStatus(kind=self.kind, running=False, detail="not running")
        return DevnetStatus(kind=self.kind, running=True, detail=info.endpoints["url"])
