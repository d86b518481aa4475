"""Atomic file writes: every file the project publishes appears under its final name in one step.

A writer puts the bytes in a uniquely named hidden temp file in the same
folder, fsyncs it, then renames (or links) it into place and fsyncs the folder.
A reader therefore sees the old file or the new one, never a torn one, and a
writer killed at any moment leaves at most a temp file (named with
:data:`TMP_MARK`) that the next writer under the same lock removes.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path

#: Marks temp files in a published folder; nothing else carries it.
TMP_MARK = ".tmp."


def fsync_dir(folder: str | os.PathLike[str]) -> None:
    """Make a rename or link in ``folder`` durable (skipped where directories cannot be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def temp_name(final: Path) -> Path:
    # pid and random suffix: concurrent writers of one name never share a temp file.
    return final.with_name(f".{final.name}{TMP_MARK}{os.getpid()}.{secrets.token_hex(4)}")


def _write_temp(final: Path, data: bytes) -> Path:
    tmp = temp_name(final)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(tmp)  # disk full, say: leave no debris behind
        raise
    os.close(fd)
    return tmp


def _replace(tmp: Path, final: Path) -> None:
    """Rename ``tmp`` onto ``final`` (removing ``tmp`` if that fails) and make it durable."""
    try:
        os.replace(tmp, final)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    fsync_dir(final.parent)


def atomic_write(path: str | os.PathLike[str], data: bytes | str) -> Path:
    """Write ``data`` (text is UTF-8 encoded) under ``path`` atomically, replacing what is there."""
    final = Path(path)
    _replace(_write_temp(final, data.encode("utf-8") if isinstance(data, str) else data), final)
    return final


def atomic_create(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` under ``path`` atomically; raise FileExistsError if the name exists.

    ``os.link`` refuses an existing target, so even a writer that bypassed
    every lock could not overwrite the file.
    """
    final = Path(path)
    tmp = _write_temp(final, data)
    try:
        try:
            os.link(tmp, final)
        except FileExistsError:
            raise
        except OSError:
            # Filesystems without hard links: the caller's lock still excludes other writers.
            if final.exists():
                raise FileExistsError(f"{final} already exists") from None
            os.replace(tmp, final)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
    fsync_dir(final.parent)
    return final


def atomic_symlink(path: str | os.PathLike[str], target_name: str) -> bool:
    """Point ``path`` at ``target_name`` (relative, same folder) atomically.

    Returns False when the platform cannot make symlinks; the caller then copies.
    """
    final = Path(path)
    tmp = temp_name(final)
    try:
        os.symlink(target_name, tmp)
    except (OSError, NotImplementedError):
        return False
    _replace(tmp, final)
    return True
