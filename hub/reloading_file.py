"""A config file the hub re-reads when it changes on disk, without a restart.

Each `current()` compares the file's mtime, size and inode with the last load
(one stat call). A new version that does not parse is logged and the previous
value stays in force, so a typo in a policy or CRL never opens or closes the hub
by accident. The first load must succeed: the hub does not start on a broken file.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Generic, TypeVar

from hub.errors import HubError, InvalidInput

log = logging.getLogger("tonglian.hub")

T = TypeVar("T")

Stamp = tuple[int, int, int]


class ReloadingFile(Generic[T]):
    def __init__(
        self,
        path: Path,
        parse: Callable[[bytes, Path], T],
        what: str,
        on_reload: Callable[[str, str | None], None] | None = None,
    ) -> None:
        """`parse` raises HubError (or ValueError) for a bad file; `on_reload(what, error)` is
        told about every reload attempt (error None when it took effect)."""
        self.path = path
        self._parse = parse
        self._what = what
        self._on_reload = on_reload
        stamp = self._stamp()
        if stamp is None:
            raise InvalidInput(f"cannot read {what} file {path}: no such file")
        self._value = self._load()
        self._stamp_loaded: Stamp = stamp
        self.last_error: str | None = None

    def _stamp(self) -> Stamp | None:
        try:
            st = os.stat(self.path)
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_size, st.st_ino)

    def _load(self) -> T:
        try:
            data = self.path.read_bytes()
        except OSError as exc:
            raise InvalidInput(
                f"cannot read {self._what} file {self.path}: {exc.strerror}"
            ) from exc
        try:
            return self._parse(data, self.path)
        except HubError:
            raise
        except ValueError as exc:
            raise InvalidInput(f"{self._what} file {self.path} does not load: {exc}") from exc

    def current(self) -> T:
        stamp = self._stamp()
        if stamp is None or stamp == self._stamp_loaded:
            return self._value
        self._stamp_loaded = stamp
        try:
            self._value = self._load()
        except HubError as exc:
            self.last_error = str(exc)
            log.error("%s; keeping the previous %s in force", exc, self._what)
            if self._on_reload:
                self._on_reload(self._what, str(exc))
            return self._value
        self.last_error = None
        log.info("reloaded %s from %s", self._what, self.path)
        if self._on_reload:
            self._on_reload(self._what, None)
        return self._value
