"""ansible-playbook, through the warm interpreter (warm.py): what ansible-runner starts instead of
ansible-playbook itself. Standard library only, run as ``python -I -S``: it must start in a few
milliseconds.

Usage: warm_client.py SOCKET ANSIBLE_PLAYBOOK [ARGUMENTS...]

It hands the warm interpreter its arguments, environment, working directory and standard streams
(SCM_RIGHTS), and its terminal (see hand_over_the_terminal), so the run writes to and owns
ansible-runner's terminal as ansible-playbook would; then it waits and exits as the run did.
SIGTERM, SIGINT or SIGHUP (ansible-runner stopping the run at a deadline or cancel) ask the warm
interpreter to kill the run with every process it started, and are answered once that is done.
When the warm interpreter is not there or declines (its Python settings differ from this
environment's), it becomes ANSIBLE_PLAYBOOK itself (exec)."""

import contextlib
import json
import os
import signal
import socket
import struct
import sys


def hand_over_the_terminal() -> None:
    """As the session leader ansible-runner started on its terminal (pexpect), give the terminal
    up, so that the run takes it as its controlling terminal, as ansible-playbook would have had
    it (Ansible's prompts and pause compare process groups with it: lib/ansible/utils/display.py).
    Giving it up sends this process SIGHUP (tty_ioctl(4), TIOCNOTTY): ignored meanwhile."""
    if os.getsid(0) != os.getpid() or not os.isatty(0):
        return
    import fcntl  # noqa: PLC0415 - only on a terminal
    import termios  # noqa: PLC0415

    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    with contextlib.suppress(OSError):
        fcntl.ioctl(0, termios.TIOCNOTTY)


def main() -> None:
    sock_path, playbook_cli = sys.argv[1], sys.argv[2]
    argv = [playbook_cli, *sys.argv[3:]]
    request = json.dumps({"argv": argv, "cwd": os.getcwd(), "env": dict(os.environ)}).encode()
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        conn.connect(sock_path)
        hand_over_the_terminal()
        header = struct.pack("!I", len(request))
        socket.send_fds(conn, [header], [0, 1, 2])
        conn.sendall(request)
        replies = conn.makefile("rb")
        first = replies.readline()
    except OSError:
        first = b""
    if not first.startswith(b"pid "):  # not there, or declined: be ansible-playbook
        conn.close()
        os.execv(playbook_cli, argv)  # noqa: S606 - the program ansible-runner was to start

    def stop(signum: int, frame: object) -> None:
        try:
            conn.shutdown(socket.SHUT_WR)  # the warm interpreter kills the run, then answers
        except OSError:
            os._exit(128 + signum)

    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, stop)
    last = replies.readline()
    if not last.startswith(b"exit "):  # the warm interpreter went away: so did the run
        os._exit(255)
    code = int(last.split()[1])
    if code < 0:  # killed by a signal: end the same way
        signal.signal(-code, signal.SIG_DFL)
        os.kill(os.getpid(), -code)
    os._exit(code & 0xFF if code >= 0 else 128 - code)


if __name__ == "__main__":
    main()
