"""The warm interpreter: a process that has already imported what every ansible-playbook run
imports besides Ansible (the kubernetes client and its dependencies, Jinja2, PyYAML,
cryptography, ...) and forks one child per run, which then runs ansible-playbook's own main.
A run so starts in a few tens of milliseconds instead of paying those imports again (about a
third of a second a run on a 2-CPU machine; see the README's "Speed").

Ansible itself is not imported ahead: ``ansible.constants`` reads the run's environment when it
is imported, and that environment (ansible-runner's callback, artifact and cache paths) is the
run's own. Of Ansible, only module_utils are imported ahead (they read nothing of the run at
import), and what parses ansible-core's own routing and settings definitions, which the server
parses once for every run (warm_parsed.py). What else is read from the environment at import
(``INTERPRETER_ENV``: the PYTHON* settings, the locale, TZ, OpenSSL's configuration, KUBECONFIG)
must be the same for the run as it was for the server, or the client runs ansible-playbook itself.

ansible-runner starts ``warm_client.py`` in ansible-playbook's place (its ``binary``); the client
hands over its arguments, environment, working directory and standard streams, and exits as the
run does. The socket is in a directory only the operator's user can enter, and a peer of any
other user is refused (SO_PEERCRED). A child becomes the run exactly: the client's
environment and nothing of the server's, its working directory, umask, streams and terminal,
the signals it ignored ignored and the others at their defaults, a session of its own, and the
name ``run_processes.run_name(ident)`` so that it and its workers are found when the run is
stopped.

The server ends when the operator does (the read end of a pipe only the operator holds reaches
end of file), killing the runs under way first; and when no run came for a while
(``--warm-interpreter-idle``), so that an operator with nothing to do holds no more memory than
without it. The operator starts it again for the next run, which meanwhile runs ansible-playbook
as a program of its own."""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import gc
import importlib
import io
import json
import logging
import os
import selectors
import shlex
import shutil
import signal
import socket
import stat
import struct
import subprocess
import sys
import termios
import threading
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dpf_hcp_operator import logs
from dpf_hcp_operator.logs import log
from dpf_hcp_operator.run_processes import RUN_MARKER, kill_run_processes, run_name
from dpf_hcp_operator.warm_parsed import parse_ansible_definitions

LOG = logging.getLogger("dpf_hcp_operator.warm")
# Imported ahead: what an ansible-playbook run of the collection imports besides Ansible and the
# collection (measured with python -X importtime on a reconcile run; the README's "Speed").
PRELOAD = (
    "ansible.module_utils.basic",  # the one part of Ansible that reads nothing of the environment at import
    "ansible.module_utils.common.arg_spec",
    "ansible.module_utils.common.yaml",
    "cryptography.hazmat.backends.openssl",
    "cryptography.x509",
    "email.message",
    "http.client",
    "importlib.metadata",
    "inspect",
    "jinja2",
    "jinja2.nativetypes",
    "jinja2.sandbox",
    "jmespath",
    "json",
    "kubernetes.client",
    "kubernetes.config",
    "multiprocessing",
    "packaging.specifiers",
    "pkgutil",
    "ssl",
    "subprocess",
    "urllib3",
    "xml.etree.ElementTree",
    "yaml",
)
# A run's interpreter must be configured as the server's was: these are read at its start only.
INTERPRETER_ENV = (
    "KUBECONFIG",  # kubernetes.config.kube_config reads it at import (KUBE_CONFIG_DEFAULT_LOCATION)
    "TZ",  # the time module's at import
    "OPENSSL_CONF",  # OpenSSL's, when ssl is imported
    "OPENSSL_MODULES",
    "PYTHONUNBUFFERED",
    "PYTHONMALLOC",
    "PYTHONFAULTHANDLER",
    "PYTHONDEBUG",
    "PYTHONVERBOSE",
    "PYTHONINSPECT",
    "PYTHONTRACEMALLOC",
    "PYTHONPROFILEIMPORTTIME",
    "PYTHONNODEBUGRANGES",
    "PYTHONWARNDEFAULTENCODING",
    "PYTHONPYCACHEPREFIX",
    "PYTHONCOERCECLOCALE",
    "PYTHONPATH",
    "PYTHONHOME",
    "PYTHONSAFEPATH",
    "PYTHONWARNINGS",
    "PYTHONUTF8",
    "PYTHONIOENCODING",
    "PYTHONDONTWRITEBYTECODE",
    "PYTHONOPTIMIZE",
    "PYTHONDEVMODE",
    "PYTHONHASHSEED",
    "PYTHONNOUSERSITE",
    "PYTHONUSERBASE",
    "PYTHONPLATLIBDIR",
    "PYTHONINTMAXSTRDIGITS",
    "LC_ALL",
    "LC_CTYPE",
    "LANG",
)
REQUEST_LIMIT = 4 << 20  # bytes: arguments and environment of one run
# Signals a client may have found ignored (ansible-runner starts ansible-playbook with SIGHUP
# ignored: pexpect.spawn(..., ignore_sighup=True) in ansible/ansible-runner
# src/ansible_runner/runner.py, Runner.run): the run ignores them too, as ansible-playbook would have.
IGNORABLE = frozenset({signal.SIGHUP, signal.SIGINT, signal.SIGQUIT, signal.SIGTERM, signal.SIGUSR1, signal.SIGUSR2})
REQUEST_SECONDS = 5.0  # for a client to send its request (it is local: it sends at once)


def preload() -> list[str]:
    """Import PRELOAD; the names of those not installed (a run imports them if it needs them)."""
    missing = []
    for name in PRELOAD:
        try:
            importlib.import_module(name)
        except ImportError:
            missing.append(name)
    return missing


def interpreter_settings(env: dict[str, str]) -> dict[str, str | None]:
    return {name: env.get(name) for name in INTERPRETER_ENV}


@dataclass
class _Run:
    conn: socket.socket
    pid: int
    pidfd: int
    ident: str
    hung_up: bool = False
    status: int | None = None  # the wait status, once reaped


class Server:
    """The warm interpreter's loop: one thread (it forks), one selector over the listening
    socket, each client's connection, each run's pidfd and the operator's pipe."""

    def __init__(self, sock_path: str, parent_fd: int, idle_seconds: float = 0.0):
        self.sock_path = sock_path
        self.idle_seconds = idle_seconds  # with no run for this long, end (0: never)
        self.settings = interpreter_settings(dict(os.environ))
        self.uid = os.getuid()
        self.parent_fd = parent_fd
        self.selector = selectors.DefaultSelector()
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(sock_path)
        self.listener.bind(sock_path)
        os.chmod(sock_path, 0o600)
        self.listener.listen(64)
        self.runs: dict[int, _Run] = {}  # by a number of their own (not a descriptor's, which is reused)
        self._next = 0
        self.selector.register(self.listener, selectors.EVENT_READ, "accept")
        self.selector.register(parent_fd, selectors.EVENT_READ, "parent")
        # A run's workers outlive a run killed first (they are in sessions of their own): they
        # become this process's children, not the operator's, and are reaped here.
        _become_subreaper()

    def serve(self) -> None:
        """Until the operator ends, or no run came for ``idle_seconds`` (the socket is removed
        first: a client then runs ansible-playbook itself, and the operator starts a new one)."""
        busy = time.monotonic()
        while True:
            events = self.selector.select(timeout=1.0)
            self._reap()
            if self.runs or events:
                busy = time.monotonic()
            elif self.idle_seconds and time.monotonic() - busy >= self.idle_seconds:
                with contextlib.suppress(OSError):
                    os.unlink(self.sock_path)
                return
            for key, _ in events:
                if key.data == "parent":
                    self._stop_all()
                    return
                if key.data == "accept":
                    self._accept()
                elif key.data[0] == "conn":
                    self._client_said(key.data[1])
                else:
                    self._run_ended(key.data[1])

    def _accept(self) -> None:
        try:
            conn, _ = self.listener.accept()
        except OSError:
            return
        try:
            request, fds = self._receive(conn)
        except EOFError:  # connected and closed: asked nothing
            conn.close()
            return
        except Exception as exc:  # whatever a client sends, the server serves on
            reason = f"{type(exc).__name__}: {exc}"[:200]
            log(LOG, logging.WARNING, "warm interpreter refused a client", reason=reason)
            conn.close()
            return
        try:
            if interpreter_settings(request["env"]) != self.settings:
                conn.sendall(b"fallback\n")
                return
            self._fork(conn, request, fds)
            conn = None  # the run's now
        except Exception as exc:
            reason = f"{type(exc).__name__}: {exc}"[:200]
            log(LOG, logging.WARNING, "warm interpreter could not start a run", reason=reason)
        finally:
            for fd in fds:
                os.close(fd)
            if conn is not None:
                conn.close()  # the client reads no pid: it fails the run, and does not run it again

    def _fork(self, conn: socket.socket, request: dict[str, Any], fds: list[int]) -> None:
        """Fork the run and follow it; whatever fails after the fork kills the child first, so a
        run is never both here and in the client's own ansible-playbook."""
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child ends in os._exit
            self._become_run(request, fds)
        run = _Run(conn, pid, -1, request["env"].get(RUN_MARKER, ""))
        try:
            run.pidfd = os.pidfd_open(pid)
            self._next += 1
            key = self._next
            self.selector.register(run.pidfd, selectors.EVENT_READ, ("run", key))
            self.runs[key] = run
        except BaseException:
            run.hung_up = True
            self._kill(run)
            if run.pidfd >= 0:
                os.close(run.pidfd)
            raise
        try:
            conn.sendall(f"pid {pid}\n".encode())
            self.selector.register(conn, selectors.EVENT_READ, ("conn", key))
        except OSError:  # the client is gone already: so is the run
            run.hung_up = True
            self._kill(run)

    def _receive(self, conn: socket.socket) -> tuple[dict[str, Any], list[int]]:
        """The client's request and its three standard streams, from a peer of this user only."""
        deadline = time.monotonic() + REQUEST_SECONDS  # for the whole request, however slowly it comes
        conn.settimeout(REQUEST_SECONDS)
        creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
        _, uid, _ = struct.unpack("3i", creds)
        if uid != self.uid:
            raise ValueError(f"a peer of user {uid} is not this operator's user")
        header, fds, _, _ = socket.recv_fds(conn, 4, 3)
        if not header and not fds:
            raise EOFError
        try:
            if len(header) != 4 or len(fds) != 3:
                raise ValueError("a request without its header or its three streams")
            (size,) = struct.unpack("!I", header)
            if size > REQUEST_LIMIT:
                raise ValueError(f"a request of {size} bytes")
            data = bytearray()
            while len(data) < size:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise ValueError(f"a request not sent within {REQUEST_SECONDS:g}s")
                conn.settimeout(left)
                chunk = conn.recv(min(65536, size - len(data)))
                if not chunk:
                    raise ValueError("a request cut short")
                data += chunk
            request = json.loads(data)
            if not (
                isinstance(request, dict)
                and isinstance(request.get("argv"), list)
                and request["argv"]
                and all(isinstance(a, str) for a in request["argv"])
                and isinstance(request.get("cwd"), str)
                and isinstance(request.get("env"), dict)
                and all(isinstance(k, str) and isinstance(v, str) for k, v in request["env"].items())
                and isinstance(request.get("umask"), int)
                and 0 <= request["umask"] <= 0o777
                and isinstance(request.get("ignored"), list)
                and all(isinstance(n, int) and n in IGNORABLE for n in request["ignored"])
            ):
                raise ValueError("a request not of argv, cwd, env, umask and ignored signals")
        except BaseException:
            for fd in fds:
                os.close(fd)
            raise
        conn.settimeout(None)
        return request, fds

    def _become_run(self, request: dict[str, Any], fds: list[int]) -> None:
        """In the child: become ``ansible-playbook`` as the client would have started it, run it,
        and exit with its code (atexit handlers run, as at a normal end)."""
        code = 1
        try:
            os.setsid()
            for target, fd in enumerate(fds):
                os.dup2(fd, target)
            if os.isatty(0):  # the terminal the client gave up: the run's, as ansible-playbook's
                with contextlib.suppress(OSError):
                    fcntl.ioctl(0, termios.TIOCSCTTY, 0)
            os.closerange(3, os.sysconf("SC_OPEN_MAX"))
            for signum in (*IGNORABLE - {signal.SIGINT}, signal.SIGCHLD):
                signal.signal(signum, signal.SIG_DFL)
            signal.signal(signal.SIGINT, signal.default_int_handler)
            for signum in request["ignored"]:
                signal.signal(signum, signal.SIG_IGN)
            os.umask(request["umask"])
            _forget_the_servers_logging()
            os.environ.clear()
            os.environ.update(request["env"])
            os.chdir(request["cwd"])
            ident = request["env"].get(RUN_MARKER)
            if ident:
                with open("/proc/self/comm", "w") as comm:
                    comm.write(run_name(ident))
            sys.argv = list(request["argv"])
            if not sys.flags.safe_path:  # a script's directory first, as Python puts it
                sys.path[0] = os.path.dirname(os.path.abspath(sys.argv[0]))
            _reopen_standard_streams()
            from ansible.cli.playbook import main  # noqa: PLC0415 - in the run, with its environment

            main()
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 0 if exc.code is None else 1
            if isinstance(exc.code, str):
                sys.stderr.write(exc.code + "\n")
        except BaseException:
            traceback.print_exc()
        finally:
            with contextlib.suppress(BaseException):
                atexit._run_exitfuncs()
            for stream in (sys.stdout, sys.stderr):
                with contextlib.suppress(BaseException):
                    stream.flush()
            os._exit(code)

    def _client_said(self, key: int) -> None:
        """End of file from a client: it was told to stop the run (or died): kill the run."""
        run = self.runs.get(key)
        if run is None or run.hung_up:
            return
        try:
            if run.conn.recv(1, socket.MSG_DONTWAIT):
                return  # nothing is expected from a client but end of file
        except BlockingIOError:
            return
        except OSError:
            pass
        run.hung_up = True
        self.selector.unregister(run.conn)
        self._kill(run)

    def _kill(self, run: _Run) -> None:
        if run.status is None:  # not reaped yet: the pid is still the run's
            with contextlib.suppress(ProcessLookupError):
                os.kill(run.pid, signal.SIGKILL)
        if run.status is None:
            with contextlib.suppress(ChildProcessError):
                run.status = os.waitpid(run.pid, 0)[1]
        if run.ident:
            kill_run_processes(run.ident, reap_seconds=0.5)

    def _reap(self) -> None:
        """Reap every child that ended: a run (its status kept for its client) or an orphan."""
        by_pid = {run.pid: run for run in self.runs.values()}
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            if pid in by_pid:
                by_pid[pid].status = status

    def _run_ended(self, key: int) -> None:
        run = self.runs.pop(key)
        self.selector.unregister(run.pidfd)
        if run.status is None:
            try:
                run.status = os.waitpid(run.pid, 0)[1]
            except ChildProcessError:  # reaped with what it left when it was killed
                run.status = signal.SIGKILL
        os.close(run.pidfd)
        code = os.waitstatus_to_exitcode(run.status)
        if code != 0 and run.ident:  # what the run left (its workers are in sessions of their own)
            kill_run_processes(run.ident, reap_seconds=0.5)
        with contextlib.suppress(OSError):
            run.conn.sendall(f"exit {code}\n".encode())
        if not run.hung_up:
            self.selector.unregister(run.conn)
        run.conn.close()

    def _stop_all(self) -> None:
        for run in list(self.runs.values()):
            self._kill(run)
        for key in list(self.runs):
            self._run_ended(key)


def _forget_the_servers_logging() -> None:
    """A run logs as ansible-playbook does, not as the warm interpreter (logs.setup) does."""
    logging.root.handlers.clear()
    logging.root.setLevel(logging.WARNING)
    logging.captureWarnings(False)
    sys.excepthook = sys.__excepthook__
    threading.excepthook = threading.__excepthook__


def _become_subreaper() -> None:
    """prctl(PR_SET_CHILD_SUBREAPER): orphaned descendants become this process's children."""
    import ctypes  # noqa: PLC0415 - the server's only

    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)


def _reopen_standard_streams() -> None:
    """Python's standard streams on the run's descriptors, made as Python makes them at its
    start (CPython Python/pylifecycle.c, create_stdio): the same encoding and error handlers,
    newline "\\n", line buffering on a terminal and on stderr, none with -u/PYTHONUNBUFFERED."""
    unbuffered = bool(getattr(sys.__stdout__, "write_through", False))  # -u or PYTHONUNBUFFERED at the start

    def stream(fd: int, mode: str, like: Any) -> io.TextIOWrapper:
        return io.TextIOWrapper(
            open(fd, mode, closefd=False),
            encoding=getattr(like, "encoding", None) or "utf-8",
            errors=getattr(like, "errors", None) or "strict",
            newline="\n",
            line_buffering=not unbuffered and mode == "wb" and (fd == 2 or os.isatty(fd)),
            write_through=unbuffered,
        )

    sys.stdin = sys.__stdin__ = stream(0, "rb", sys.__stdin__)
    sys.stdout = sys.__stdout__ = stream(1, "wb", sys.__stdout__)
    sys.stderr = sys.__stderr__ = stream(2, "wb", sys.__stderr__)


def _check_private(directory: Path) -> None:
    """OSError unless ``directory`` is this user's own (not a link, mode 0700) in a parent no other
    user can swap it in (this user's or root's, and not writable by others unless sticky): the
    client script and the socket in it are what runs as the operator."""
    own = os.lstat(directory)
    parent = os.lstat(directory.parent)
    if not stat.S_ISDIR(own.st_mode) or own.st_uid != os.getuid() or stat.S_IMODE(own.st_mode) != 0o700:
        raise OSError(f"{directory} is not a directory of this user's only (mode 0700)")
    open_to_others = parent.st_mode & (stat.S_IWGRP | stat.S_IWOTH) and not parent.st_mode & stat.S_ISVTX
    if parent.st_uid not in (os.getuid(), 0) or open_to_others:
        raise OSError(f"{directory.parent} may be changed by another user: the warm interpreter is not used")


class WarmInterpreter:
    """The operator's handle on its warm interpreter: started on demand, again when it died;
    ``binary()`` is what ansible-runner starts in ansible-playbook's place."""

    def __init__(
        self,
        directory: Path,
        ansible_playbook: str | None = None,
        log_level: str = "info",
        idle_seconds: float = 0.0,
    ):
        self.directory = directory
        self.log_level = log_level
        self.idle_seconds = idle_seconds
        self.socket = directory / "warm.sock"
        self.ansible_playbook = ansible_playbook or shutil.which(
            "ansible-playbook", path=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
        )
        self.process: subprocess.Popen[bytes] | None = None
        self._pipe: int | None = None
        self._lock = threading.Lock()
        self.starts = 0

    def start(self) -> None:
        """Start the warm interpreter unless it is running (again, when it died)."""
        with self._lock:
            if self.process is None or self.process.poll() is not None:
                self._start()

    def binary(self) -> str | None:
        """The client to start instead of ansible-playbook, with a live warm interpreter behind
        it (started now if need be); None when there is no ansible-playbook to fall back to."""
        if not self.ansible_playbook:
            return None
        self.start()
        return str(self.directory / "ansible-playbook")

    def _start(self) -> None:
        if self.process is not None:
            if self.process.returncode == 0:
                log(LOG, logging.DEBUG, "warm interpreter ended when idle; starting it again")
            else:
                log(LOG, logging.WARNING, "warm interpreter ended; starting it again", code=self.process.returncode)
            self._close_pipe()
        self.directory.mkdir(parents=True, exist_ok=True)
        os.chmod(self.directory, 0o700)  # only the operator's user reaches the socket
        _check_private(self.directory)
        client = self.directory / "ansible-playbook"
        script = (
            "#!/bin/sh\n"
            f"exec {shlex.quote(sys.executable)} -I -S {shlex.quote(str(Path(__file__).with_name('warm_client.py')))} "
            f'{shlex.quote(str(self.socket))} {shlex.quote(str(self.ansible_playbook))} "$@"\n'
        )
        if not client.exists() or client.read_text() != script:
            tmp = client.with_suffix(".tmp")
            tmp.write_text(script)
            tmp.chmod(0o700)
            tmp.replace(client)
        read_end, self._pipe = os.pipe()
        try:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "dpf_hcp_operator.warm",
                    str(self.socket),
                    str(read_end),
                    self.log_level,
                    str(self.idle_seconds),
                ],
                pass_fds=(read_end,),
                stdin=subprocess.DEVNULL,
                cwd=self.directory,
                close_fds=True,
            )
        finally:
            os.close(read_end)
        self.starts += 1

    def stop(self, seconds: float = 5.0) -> None:
        """End the warm interpreter (and the runs under way)."""
        with self._lock:
            self._close_pipe()
            if self.process is not None:
                try:
                    self.process.wait(seconds)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait()
                self.process = None

    def _close_pipe(self) -> None:
        if self._pipe is not None:
            os.close(self._pipe)
            self._pipe = None


def main(argv: list[str]) -> int:
    sock_path, parent_fd, log_level, idle_seconds = argv[0], int(argv[1]), argv[2], float(argv[3])
    os.set_inheritable(parent_fd, False)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the operator's Ctrl-C ends it through the pipe
    logs.setup(log_level)
    missing = preload()
    parse_ansible_definitions()  # Ansible's own YAML, once for every run (warm_parsed.py)
    gc.collect()
    gc.freeze()  # what every run shares: never traversed by a run's collections, nor copied by them
    if missing:
        log(LOG, logging.INFO, "warm interpreter: not installed, imported by each run", modules=",".join(missing))
    Server(sock_path, parent_fd, idle_seconds).serve()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
