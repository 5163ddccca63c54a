"""Writing files without ever destroying what is at the path.

A file is written to a temporary file beside its target, flushed and fsynced, then renamed
over the target, so a crash mid-write leaves the old file intact. Before that, the target
is checked: a symbolic link is followed (the link's target is written, the link kept); a
path that is a directory, a FIFO, a device or a socket is refused (renaming a regular file
over it would replace the node, and writing into a FIFO or a device is no save). The
temporary file is removed on any exception and on SIGTERM (in the main thread); those a
SIGKILL leaves behind, `.fastnn-<name>.<pid>.*.tmp`, are removed by the next successful
write to the same target once their process is gone. Errors name the target, not the
temporary file.
"""
import contextlib
import glob
import os
import signal
import stat
import tempfile
import threading

_KINDS = {stat.S_ISDIR: "a directory", stat.S_ISFIFO: "a named pipe (FIFO)",
          stat.S_ISCHR: "a character device", stat.S_ISBLK: "a block device",
          stat.S_ISSOCK: "a socket"}


def target_of(path):
    """The regular file a write to `path` goes to (a symbolic link's target), or ValueError
    naming the path when it is not, or cannot become, a regular file."""
    path = os.fspath(path)
    if not path:
        raise ValueError("the path is empty")
    target = os.path.realpath(path)
    try:
        mode = os.stat(target).st_mode
    except FileNotFoundError:
        mode = None
    except OSError as exc:
        raise ValueError(f"cannot write {path}: {exc.strerror}") from None
    if mode is not None and not stat.S_ISREG(mode):
        kind = next((name for test, name in _KINDS.items() if test(mode)), "not a regular file")
        raise ValueError(f"cannot write {path}: it is {kind}, not a regular file")
    folder = os.path.dirname(target)
    if not os.path.isdir(folder):
        raise ValueError(f"cannot write {path}: no folder {folder}")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ValueError(f"cannot write {path}: the folder {folder} is not writable")
    return target


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


class _Terminated(BaseException):
    """SIGTERM arrived during a write (raised by the handler installed meanwhile)."""


class _TermGuard:
    """Where a SIGTERM may interrupt a write: only once the temporary file is in hand (armed);
    one arriving before is noted and raised by arm(). Raised at most once, so the cleanup is
    never itself interrupted."""
    armed = pending = raised = False

    def arm(self):
        self.armed = True
        if self.pending and not self.raised:
            self.raised = True
            raise _Terminated()


@contextlib.contextmanager
def _terminate_by_exception():
    """In the main thread, SIGTERM raises _Terminated inside the armed part of a write, so the
    temporary file is removed before the process ends (with the status SIGTERM gives)."""
    guard = _TermGuard()
    if threading.current_thread() is not threading.main_thread():
        yield guard
        return
    previous = signal.getsignal(signal.SIGTERM)
    if previous is not signal.SIG_DFL:  # someone else handles SIGTERM: leave it to them
        yield guard
        return

    def handler(signum, frame):
        guard.pending = True
        if guard.armed and not guard.raised:
            guard.raised = True
            raise _Terminated()

    signal.signal(signal.SIGTERM, handler)
    try:
        yield guard  # a _Terminated from the handler or arm() has set guard.pending already
    finally:
        signal.signal(signal.SIGTERM, previous)
        if guard.pending:  # end as SIGTERM would have
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            os.kill(os.getpid(), signal.SIGTERM)


def _prefix(target):
    """Temporary files for `target` are named <prefix><pid>.<random>.tmp beside it."""
    return f".fastnn-{os.path.basename(target)}."


def _remove_stale(target):
    """Remove temporary files of earlier writes to `target` whose process is gone."""
    folder, prefix = os.path.dirname(target), _prefix(target)
    for stale in glob.glob(os.path.join(glob.escape(folder), glob.escape(prefix) + "*.tmp")):
        pid = os.path.basename(stale)[len(prefix):].split(".", 1)[0]
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            os.kill(int(pid), 0)
            continue  # that process still runs: its write may be in progress
        except ProcessLookupError:
            pass
        except OSError:  # another user's process: not ours to judge
            continue
        with contextlib.suppress(OSError):
            os.unlink(stale)


def write_atomically(path, write, binary=True):
    """Write a file at `path` by calling write(handle) on a temporary file beside its target,
    then renaming it over the target. Returns the target written."""
    target = target_of(path)
    with _terminate_by_exception() as guard:
        descriptor, temporary = tempfile.mkstemp(prefix=f"{_prefix(target)}{os.getpid()}.",
                                                 suffix=".tmp", dir=os.path.dirname(target))
        try:
            guard.arm()
            with os.fdopen(descriptor, "wb" if binary else "w") as handle:
                # mkstemp makes 0600; a saved file is a normal file, following the umask
                os.chmod(temporary, 0o666 & ~_umask())
                write(handle)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, target)
        except BaseException as exc:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            if isinstance(exc, OSError):
                raise OSError(exc.errno, f"cannot write {os.fspath(path)}: "
                                         f"{exc.strerror or exc}") from None
            raise
    _remove_stale(target)
    return target
