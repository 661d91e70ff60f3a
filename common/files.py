"""Files that survive a kill and writers that cannot collide.

Every file the study writes (checkpoints, records, tables, frame caches, videos) goes through
:func:`atomic_file`, a temporary file renamed over the target. What only one process may do at a time
(append to a grid's table, train into an output root) happens under :func:`exclusive`, an advisory lock
(``filelock``) on a hidden ``.<name>.lock`` file beside the target, released by the kernel when its
holder dies, so a kill -9 never leaves a lock behind. :func:`read_json` names the file and the line of
JSON that cannot be parsed.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import errno
import json
import os
import re
import shutil
import sys
import tempfile
from pathlib import Path

from filelock import FileLock, Timeout

# Seconds a run waits for another run's lock before it gives up; unset: as long as it takes; 0: not at all.
ENV_LOCK_WAIT = "SNN_LOCK_WAIT"
# The locks an ancestor process holds for us (os.pathsep-separated): a grid's pool workers and a study's
# notebook kernels work under their parent's lock instead of waiting for it forever.
ENV_HELD_LOCKS = "SNN_HELD_LOCKS"
LOW_SPACE_BYTES = 64 * 2**20   # a write that fails with less free than this failed for want of space


class StudyError(Exception):
    """An error of the study's own checks: its message is the whole story, the problem and the fix. The command
    line prints it as it is, without a traceback (common.runs.preflight.command_line)."""


class Busy(StudyError, RuntimeError):
    """Another run holds a lock this run needs, and the wait allowed by $SNN_LOCK_WAIT is over."""


class UnreadableFile(StudyError, ValueError):
    """A file the study wrote cannot be parsed; the message names the file and the line."""


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:   # another user's process: alive
        return True
    return True


# A temporary file's name carries its writer's PID, so another writer of the same target can tell
# a live write (leave it) from one a kill left behind (remove it).
_TEMP_PID = re.compile(r"\.pid(\d+)\.")


@contextlib.contextmanager
def atomic_file(path: str | Path, suffix: str = ".tmp"):
    """Yield a temporary path in ``path``'s folder; on success rename it over ``path``, else delete it.

    The rename is atomic, so a kill mid-write leaves the previous file intact. The file gets the
    mode any new file gets (mkstemp's 0600 would hide results from other users). Temporary files of
    the same target are removed first only when the process named in them is gone: two processes
    writing one target at once (two runs framing the same event cache) each finish their own write.
    A write that fails on a full disk says so, instead of torch's ``unexpected pos``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    prefix = f".{path.name}."
    for stale in path.parent.glob(f"{glob_escape(prefix)}*{glob_escape(suffix)}"):
        owner = _TEMP_PID.match(stale.name[len(prefix) - 1:])
        if owner and not _pid_alive(int(owner.group(1))):   # unnamed owners (older code) are left alone
            stale.unlink(missing_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f"{prefix}pid{os.getpid()}.", suffix=suffix)
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    except BaseException as error:
        if os.path.exists(tmp):
            os.unlink(tmp)
        free = shutil.disk_usage(path.parent).free
        if isinstance(error, (OSError, RuntimeError)) and (
                getattr(error, "errno", None) == errno.ENOSPC or free < LOW_SPACE_BYTES):
            raise OSError(errno.ENOSPC, f"No space left to write {path} ({free / 2**20:.0f} MB free on its disk): "
                                        f"free some space, or set SNN_OUTPUT_ROOT to a folder on another disk") from error
        raise


def glob_escape(text: str) -> str:
    return re.sub(r"([*?\[])", r"[\1]", text)


def atomic_write(path: str | Path, write) -> None:
    """``write(handle)`` into ``path`` through :func:`atomic_file`, flushed to disk before the rename."""
    with atomic_file(path) as tmp, open(tmp, "wb") as handle:
        write(handle)
        handle.flush()
        os.fsync(handle.fileno())


def write_json(path: str | Path, data: dict) -> None:
    atomic_write(path, lambda f: f.write(json.dumps(data, indent=2, default=str).encode()))


def read_json(path: str | Path, fix: str = "Delete it to have it written again, or restore it from git."):
    """The JSON in ``path``; a file that is not valid JSON raises :class:`UnreadableFile` naming the file,
    the line and the column (json's own error names neither the file nor, usefully, the line)."""
    path = Path(path)
    try:
        return json.loads(path.read_bytes().decode())
    except UnicodeDecodeError as error:
        raise UnreadableFile(f"{path} is not text (byte {error.start} is not UTF-8). {fix}") from None
    except json.JSONDecodeError as error:
        raise UnreadableFile(f"{path} line {error.lineno} column {error.colno} is not valid JSON "
                             f"({error.msg}). {fix}") from None


# ------------------------------------------------------------------------------ locks

# lock file -> depth, for the locks this process holds: re-entrant per process, not per thread (a process runs
# one grid or one run at a time; its nested calls, grid -> cell -> run, must not wait for themselves)
_held: dict[str, int] = {}


def _lock_file(path: Path) -> Path:
    return path if path.suffix == ".lock" else path.with_name(f".{path.name}.lock")


def _lock_wait() -> float | None:
    value = os.environ.get(ENV_LOCK_WAIT, "").strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if not seconds >= 0:
        raise ValueError(f"${ENV_LOCK_WAIT} is seconds to wait for another run's lock (0 or more), got {value!r}")
    return seconds


@contextlib.contextmanager
def exclusive(path: str | Path, what: str | None = None):
    """Hold the advisory lock of ``path`` (``.<name>.lock`` beside it; a path ending in ``.lock`` is the lock
    file itself) for the ``with`` block, so one process at a time does what the block does.

    Re-entrant: a process (or the child of one, see $SNN_HELD_LOCKS) that holds the lock already goes on.
    Another run's lock is waited for, with one sentence naming it and its holder, for as long as
    $SNN_LOCK_WAIT allows (unset: until it ends); then :class:`Busy` is raised.
    """
    path = Path(path)
    lock_file = _lock_file(path)
    name = str(lock_file.resolve())
    inherited = name in os.environ.get(ENV_HELD_LOCKS, "").split(os.pathsep)
    if inherited or _held.get(name):
        _held[name] = _held.get(name, 0) + 1
        try:
            yield
        finally:
            _held[name] -= 1
        return
    what = what or str(path)
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(lock_file)
    owner = lock_file.with_suffix(".owner")
    try:
        lock.acquire(timeout=0)
    except Timeout:
        wait = _lock_wait()
        holder = _holder(owner)
        if wait == 0:
            raise Busy(f"Another run{holder} holds {what}. Wait for it to finish, or give this run another "
                       f"output root (SNN_OUTPUT_ROOT).") from None
        print(f"Another run{holder} holds {what}; waiting for it to finish "
              f"({'up to ' + format(wait, 'g') + ' s' if wait else 'Ctrl-C to stop'}; ${ENV_LOCK_WAIT}=0 stops at once).",
              file=sys.stderr, flush=True)
        try:
            lock.acquire(timeout=-1 if wait is None else wait)
        except Timeout:
            raise Busy(f"Another run{_holder(owner)} still holds {what} after {wait:g} s. Wait for it to finish, "
                       f"or give this run another output root (SNN_OUTPUT_ROOT).") from None
    previous = os.environ.get(ENV_HELD_LOCKS)
    try:
        with contextlib.suppress(OSError):   # who holds it, for the message of a run that has to wait
            owner.write_text(json.dumps({"pid": os.getpid(), "command": " ".join(sys.argv)[:200],
                                         "since": dt.datetime.now(dt.timezone.utc).strftime("%H:%M:%S UTC")}))
        os.environ[ENV_HELD_LOCKS] = os.pathsep.join(filter(None, [previous, name]))
        _held[name] = 1
        yield
    finally:
        _held.pop(name, None)
        owner.unlink(missing_ok=True)
        if previous is None:
            os.environ.pop(ENV_HELD_LOCKS, None)
        else:
            os.environ[ENV_HELD_LOCKS] = previous
        lock.release()


def hold_root(output_root: str | Path):
    """The lock of an output root (``<root>/.snn-study.lock``): one run at a time trains into its ``models/``
    and writes its ``results/``; a second run on the same root waits (see :func:`exclusive`)."""
    return exclusive(Path(output_root) / ".snn-study.lock", f"the output root {output_root}")


def held_locks() -> str:
    """The value of $SNN_HELD_LOCKS for a process that works for this one but does not inherit its
    environment (a Ray worker)."""
    return os.environ.get(ENV_HELD_LOCKS, "")


def _holder(owner: Path) -> str:
    try:
        info = json.loads(owner.read_text())
        return f" (pid {info['pid']}, `{info['command']}`, since {info['since']})"
    except (OSError, ValueError, KeyError, TypeError):
        return ""
