"""ansible-playbook, through the warm interpreter (warm.py): what ansible-runner starts instead of
ansible-playbook itself. Standard library only, run as ``python -I -S``: it must start in a few
milliseconds.

Usage: warm_client.py SOCKET ANSIBLE_PLAYBOOK [ARGUMENTS...]

It hands the warm interpreter its arguments, environment, working directory and standard streams
(SCM_RIGHTS), and its terminal (see hand_over_the_terminal), so the run writes to and owns
ansible-runner's terminal as ansible-playbook would; then it waits and exits as the run did.
SIGTERM, SIGINT, SIGHUP and SIGQUIT are passed on to the run (ansible-runner stopping it at a
deadline or cancel); when this process is killed (ansible-runner's last resort), the warm
interpreter kills the run with every process it started. When there is no warm interpreter of
this user at SOCKET, or it declines (its Python settings differ from this environment's), this
process becomes ANSIBLE_PLAYBOOK itself (exec); when it took the request and then failed, the run
fails (exit 255) rather than run twice."""

import contextlib
import json
import os
import signal
import socket
import struct
import sys

IGNORABLE = (signal.SIGHUP, signal.SIGINT, signal.SIGQUIT, signal.SIGTERM, signal.SIGUSR1, signal.SIGUSR2)


def hand_over_the_terminal() -> bool:
    """As the session leader ansible-runner started on its terminal (pexpect), give the terminal
    up, so that the run takes it as its controlling terminal, as ansible-playbook would have had
    it (Ansible's prompts and pause compare process groups with it: lib/ansible/utils/display.py).
    Giving it up sends this process SIGHUP (tty_ioctl(4), TIOCNOTTY): ignored meanwhile. True
    when it was given up."""
    if os.getsid(0) != os.getpid() or not os.isatty(0):
        return False
    import fcntl  # noqa: PLC0415 - only on a terminal
    import termios  # noqa: PLC0415

    before = signal.signal(signal.SIGHUP, signal.SIG_IGN)
    try:
        fcntl.ioctl(0, termios.TIOCNOTTY)
    except OSError:
        return False
    finally:
        signal.signal(signal.SIGHUP, before)
    return True


def take_back_the_terminal() -> None:
    import fcntl  # noqa: PLC0415
    import termios  # noqa: PLC0415

    with contextlib.suppress(OSError):
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)


def main() -> None:
    sock_path, playbook_cli = sys.argv[1], sys.argv[2]
    argv = [playbook_cli, *sys.argv[3:]]
    mask = os.umask(0)
    os.umask(mask)
    request = {
        "argv": argv,
        "cwd": os.getcwd(),
        "env": dict(os.environ),
        "umask": mask,
        "ignored": [int(n) for n in IGNORABLE if signal.getsignal(n) == signal.SIG_IGN],
    }
    body = json.dumps(request).encode()
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        conn.connect(sock_path)
        creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
        if struct.unpack("3i", creds)[1] != os.getuid():  # not the operator's own: say nothing to it
            raise ConnectionRefusedError
    except OSError:
        conn.close()
        os.execv(playbook_cli, argv)  # noqa: S606 - the program ansible-runner was to start
    gave_up = hand_over_the_terminal()
    try:
        socket.send_fds(conn, [struct.pack("!I", len(body))], [0, 1, 2])
        conn.sendall(body)
        replies = conn.makefile("rb")
        first = replies.readline()
    except OSError:
        first = b""
    if first == b"fallback\n":  # declined: be ansible-playbook
        conn.close()
        if gave_up:
            take_back_the_terminal()
        os.execv(playbook_cli, argv)  # noqa: S606
    if not first.startswith(b"pid "):  # refused, or it failed: the run may have started, do not start another
        sys.stderr.write("warm interpreter: the run was not started\n")
        os._exit(255)
    pid = int(first.split()[1])

    def forward(signum: int, frame: object) -> None:
        """To the run, as ansible-playbook would have had it; if this process is killed
        instead, the warm interpreter kills the run."""
        with contextlib.suppress(OSError):
            os.kill(pid, signum)

    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT):
        if signal.getsignal(signum) != signal.SIG_IGN:
            signal.signal(signum, forward)
    last = replies.readline()
    if not last.startswith(b"exit "):  # the warm interpreter went away: so did the run
        os._exit(255)
    code = int(last.split()[1])
    if code < 0:  # killed by a signal: end the same way
        with contextlib.suppress(OSError, ValueError):
            signal.signal(-code, signal.SIG_DFL)  # not possible for SIGKILL, nor needed
        os.kill(os.getpid(), -code)
    os._exit(code & 0xFF if code >= 0 else 128 - code)


if __name__ == "__main__":
    main()
