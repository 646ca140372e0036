"""The warm interpreter (operator/dpf_hcp_operator/warm.py): runs forked from a process that has
imported the kubernetes client and the rest ahead, each exactly the run ansible-runner asked for,
and no way in for anyone else. Real ansible-playbook runs under ansible-runner and real
processes; no API server is needed."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from dpf_hcp_operator import warm
from dpf_hcp_operator.run_processes import RUN_MARKER, kill_run_processes, marked, run_name
from dpf_hcp_operator.runner import PlaybookRunner, RunResult, default_collections_path
from dpf_hcp_operator.warm import WarmInterpreter
from support import alive, descendants, wait_listening

WHO_RUNS = """---
- name: Where the run runs
  hosts: all
  gather_facts: false
  connection: local
  tasks:
    - name: Find the run's first process (its workers share its name, run-*) and its parent; and the environment
      ansible.builtin.shell: |
        p=$$
        while [ "$p" -gt 1 ]; do
          name=$(cat /proc/$p/comm)
          parent=$(cut -d' ' -f4 /proc/$p/stat)
          case "$name" in run-*) found="$p $parent $name";; esac
          p=$parent
        done
        ignored=$(sed -n 's/^SigIgn:[[:space:]]*//p' /proc/$$/status)
        to="{{ out }}/{{ inventory_hostname | replace('/', '_') }}"
        echo "${found:-none} ${DPF_HCP_ONLY_THE_SERVER:-unset} $ignored $(umask)" > "$to"
      changed_when: false
    - name: Ask to be looked at again
      dpf_hcp.provisioner.requeue_after:
        seconds: 7
"""
OBJECTS = [
    {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"o{i}", "namespace": "n", "uid": str(i)}}
    for i in range(3)
]


@pytest.fixture
def warm_interpreter(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[WarmInterpreter]:
    """A warm interpreter started with a variable in its environment that no run's has."""
    monkeypatch.setenv("DPF_HCP_ONLY_THE_SERVER", "leaked")
    interpreter = WarmInterpreter(tmp_path / "warm")
    interpreter.start()
    monkeypatch.delenv("DPF_HCP_ONLY_THE_SERVER")
    wait_listening(interpreter)
    yield interpreter
    interpreter.stop()


def run_who(tmp_path: Path, warm: WarmInterpreter | None) -> tuple[RunResult, Path]:
    """WHO_RUNS for OBJECTS through the operator's runner; the result and where each host wrote."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    playbook = tmp_path / "who.yml"
    playbook.write_text(WHO_RUNS)
    out = tmp_path / "out"
    out.mkdir(parents=True)
    runner = PlaybookRunner(tmp_path / "work", default_collections_path(), dict(os.environ), forks=3, warm=warm)
    return runner.run(playbook, OBJECTS, "obj", {"out": str(out)}), out


def test_a_run_is_forked_from_the_warm_interpreter_as_the_run_asked_and_its_results_are_read(
    tmp_path: Path, warm_interpreter: WarmInterpreter
):
    result, out = run_who(tmp_path, warm_interpreter)
    assert result.status == "successful", [h.message for h in result.hosts.values()]
    assert {h: r.requeue_after for h, r in result.hosts.items()} == {"n/o0": 7.0, "n/o1": 7.0, "n/o2": 7.0}
    assert warm_interpreter.process is not None
    for host in ("n_o0", "n_o1", "n_o2"):
        _pid, parent, name, leaked, _ignored, _umask = (out / host).read_text().split()
        assert int(parent) == warm_interpreter.process.pid, "the run was not forked from the warm interpreter"
        assert name.startswith("run-") and len(name) == 12, name
        assert leaked == "unset", "the run saw a variable of the warm interpreter's own environment"
    assert warm_interpreter.starts == 1


def test_without_a_warm_interpreter_ansible_playbook_is_a_program_of_its_own(tmp_path: Path):
    result, out = run_who(tmp_path, None)
    assert result.status == "successful"
    assert (out / "n_o0").read_text().split()[0] == "none"


def test_a_warm_interpreter_that_died_is_started_again_and_a_client_without_one_runs_ansible_playbook(
    tmp_path: Path, warm_interpreter: WarmInterpreter
):
    assert warm_interpreter.process is not None
    warm_interpreter.process.kill()
    warm_interpreter.process.wait()
    result, _out = run_who(tmp_path, warm_interpreter)
    assert result.status == "successful"  # from the one started again, or as a program of its own
    assert warm_interpreter.starts == 2

    client = warm_interpreter.binary()
    assert client is not None
    warm_interpreter.stop()
    shown = subprocess.run([client, "--version"], capture_output=True, text=True, timeout=60, check=True)
    assert shown.stdout.startswith("ansible-playbook [core "), shown


def test_an_idle_warm_interpreter_ends_and_the_next_run_starts_it_again(tmp_path: Path):
    """No run for ``idle_seconds``: it removes its socket and ends (its memory returned); the next
    run runs ansible-playbook itself while a new one starts."""
    interpreter = WarmInterpreter(tmp_path / "warm", idle_seconds=1)
    interpreter.start()
    wait_listening(interpreter)
    assert interpreter.process is not None
    assert interpreter.process.wait(30) == 0
    assert not interpreter.socket.exists()
    result, _out = run_who(tmp_path, interpreter)
    assert result.status == "successful"
    assert interpreter.starts == 2
    interpreter.stop()


def request(sock_path: Path, env: dict[str, str], argv: list[str] | None = None) -> tuple[socket.socket, bytes]:
    """What warm_client.py sends: the header with the three streams, then the request."""
    body = json.dumps(
        {"argv": argv or ["/bin/false", "--version"], "cwd": "/", "env": env, "umask": 0o022, "ignored": []}
    ).encode()
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    conn.settimeout(30)
    conn.connect(str(sock_path))
    socket.send_fds(conn, [struct.pack("!I", len(body))], [0, 1, 2])
    conn.sendall(body)
    return conn, conn.makefile("rb").readline()


def test_a_client_whose_python_settings_differ_is_declined_and_runs_ansible_playbook_itself(
    tmp_path: Path, warm_interpreter: WarmInterpreter, monkeypatch: pytest.MonkeyPatch
):
    conn, reply = request(warm_interpreter.socket, {**os.environ, "PYTHONWARNINGS": "error"})
    conn.close()
    assert reply == b"fallback\n"
    monkeypatch.setenv("PYTHONWARNINGS", "ignore::DeprecationWarning")  # the runs', not the server's
    result, out = run_who(tmp_path, warm_interpreter)
    assert result.status == "successful"
    assert (out / "n_o0").read_text().split()[0] == "none", "a run with other Python settings was forked"


def test_a_run_ignores_the_signals_ansible_runner_had_it_ignore_and_keeps_its_umask(
    tmp_path: Path, warm_interpreter: WarmInterpreter
):
    """pexpect starts ansible-playbook with SIGHUP ignored (ansible-runner's ignore_sighup): a
    forked run and what it starts ignore it as a program of its own does; and the umask is the
    client's."""
    warm, out_warm = run_who(tmp_path / "warm-run", warm_interpreter)
    cold, out_cold = run_who(tmp_path / "cold-run", None)
    assert warm.status == cold.status == "successful"
    seen_warm = (out_warm / "n_o0").read_text().split()
    seen_cold = (out_cold / "n_o0").read_text().split()
    assert seen_warm[0] != "none" and seen_cold[0] == "none"
    assert seen_warm[-2:] == seen_cold[-2:], (seen_warm, seen_cold)  # SigIgn and umask of the task's shell
    assert int(seen_warm[-2], 16) & 1, "SIGHUP (bit 0 of SigIgn) is not ignored"


@pytest.mark.parametrize(
    "garbage",
    [
        b"\xff\xff\xff\xff",  # a header announcing 4 GiB
        struct.pack("!I", 9) + b"not json!",
        struct.pack("!I", 13) + b'{"argv": "x"}',
        b"",  # nothing: the connection closed at once
        struct.pack("!I", 400_000) + b"[" * 400_000,  # nested past the parser's recursion limit
    ],
    ids=["huge", "not-json", "not-a-request", "nothing", "deeply-nested"],
)
def test_a_malformed_request_is_refused_and_the_warm_interpreter_serves_on(
    warm_interpreter: WarmInterpreter, garbage: bytes
):
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    conn.settimeout(30)
    conn.connect(str(warm_interpreter.socket))
    if garbage:
        socket.send_fds(conn, [garbage[:4]], [0, 1, 2])
        # The refusal may come before the rest is sent (a 4 GiB header is refused on reading it):
        # the server has closed, which is what is asked of it.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            conn.sendall(garbage[4:])
    with contextlib.suppress(OSError):
        conn.shutdown(socket.SHUT_WR)
    assert conn.recv(100) == b""
    conn.close()
    conn, reply = request(warm_interpreter.socket, dict(os.environ))
    assert reply.startswith(b"pid "), reply
    conn.close()


def as_nobody(code: str, *args: str) -> subprocess.CompletedProcess[str]:
    def drop() -> None:
        os.setgroups([])
        os.setgid(65534)
        os.setuid(65534)

    return subprocess.run(  # a Python that user may run (the venv's is under /root)
        ["/usr/bin/python3", "-I", "-S", "-c", code, *args],
        capture_output=True,
        text=True,
        preexec_fn=drop,
        timeout=60,
        check=False,
    )


CONNECT_AND_ASK = """
import json, os, socket, struct, sys
conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
conn.settimeout(20)
try:
    conn.connect(sys.argv[1])
except OSError as exc:
    print("refused at connect:", type(exc).__name__)
    sys.exit(0)
body = json.dumps({"argv": ["/bin/sh", "-c", "touch " + sys.argv[2]], "cwd": "/", "env": {}}).encode()
try:
    socket.send_fds(conn, [struct.pack("!I", len(body))], [0, 1, 2])
    conn.sendall(body)
    print("answer:", conn.makefile("rb").readline())
except OSError as exc:
    print("refused after connect:", type(exc).__name__)
"""


@pytest.mark.skipif(
    os.getuid() != 0 or not os.path.exists("/usr/bin/python3"), reason="plays another local user: needs root"
)
def test_another_user_cannot_reach_the_warm_interpreter_nor_get_a_run_from_it():
    """The attacker: a process of another user on the operator's machine. The socket's directory
    is the operator user's only; and were it opened up (a volume with the wrong mode), the server
    still refuses a peer of another user before reading a byte of what it asks."""
    work = Path(tempfile.mkdtemp(prefix="dpfhcp-warm-", dir="/tmp"))
    try:
        work.chmod(0o755)  # the attacker can reach the operator's work dir, not its warm/ inside
        interpreter = WarmInterpreter(work / "warm")
        interpreter.start()
        wait_listening(interpreter)
        proof = work / "proof"
        assert (interpreter.directory.stat().st_mode & 0o777) == 0o700
        blocked = as_nobody(CONNECT_AND_ASK, str(interpreter.socket), str(proof))
        assert "refused at connect: PermissionError" in blocked.stdout, blocked

        interpreter.directory.chmod(0o777)
        interpreter.socket.chmod(0o777)
        refused = as_nobody(CONNECT_AND_ASK, str(interpreter.socket), str(proof))
        assert "answer: b''" in refused.stdout or "refused after connect" in refused.stdout, refused
        time.sleep(0.5)
        assert not proof.exists()
        interpreter.stop()
    finally:
        shutil.rmtree(work, ignore_errors=True)


def test_the_run_ends_with_every_process_of_it_when_the_operator_is_gone(tmp_path: Path):
    """The operator dies (its end of the pipe closes): the warm interpreter kills the runs under
    way, their workers and what those started, and ends."""
    interpreter = WarmInterpreter(tmp_path / "warm")
    interpreter.start()
    wait_listening(interpreter)
    assert interpreter.process is not None
    playbook = tmp_path / "hangs.yml"
    playbook.write_text(
        "- hosts: all\n  gather_facts: false\n  connection: local\n  tasks:\n    - ansible.builtin.command: sleep 300\n"
    )
    client = interpreter.binary()
    assert client is not None
    env = {**os.environ, RUN_MARKER: "20261203T000000-0badc0de"}
    run = subprocess.Popen(
        [client, str(playbook), "-i", "a,b,", "-c", "local"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    seen: set[int] = set()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        seen |= descendants({interpreter.process.pid, run.pid})
        if sum(1 for pid in seen if alive(pid) and "sleep" in Path(f"/proc/{pid}/cmdline").read_text()) >= 2:
            break
        time.sleep(0.1)
    else:
        raise AssertionError("the run never started its two sleeps")
    interpreter._close_pipe()  # what the operator's death does
    interpreter.process.wait(30)
    run.wait(30)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(alive(p) for p in seen):
        time.sleep(0.1)
    assert not [p for p in seen if alive(p)], "processes of the run outlived the operator"


def test_a_forked_run_process_is_found_by_its_name_and_only_when_no_other_run_marks_it(tmp_path: Path):
    ident = "20261203T000000-feedf00d"
    sleeper = "import sys, time\nwith open('/proc/self/comm', 'w') as f: f.write(sys.argv[1])\ntime.sleep(300)"
    ours = subprocess.Popen([sys.executable, "-c", sleeper, run_name(ident)], env=dict(os.environ))
    other_run = subprocess.Popen(
        [sys.executable, "-c", sleeper, run_name(ident)], env={**os.environ, RUN_MARKER: "another"}
    )
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and ours.pid not in marked(ident):
            time.sleep(0.05)
        assert marked(ident) == {ours.pid}
        assert kill_run_processes(ident) == 1  # and reaped: it was this process's child
        assert not alive(ours.pid)
        assert other_run.poll() is None
    finally:
        for proc in (ours, other_run):
            proc.kill()
            proc.wait()


IMPORTED_AHEAD = """
import ast, json, sys
from dpf_hcp_operator import warm, warm_parsed
missing = warm.preload()
assert warm_parsed.parse_ansible_definitions() is not None
found = []
for name in sorted(m for m in sys.modules if m == "ansible" or m.startswith("ansible.")):
    path = getattr(sys.modules[name], "__file__", None) or ""
    if not path.endswith(".py"):
        continue
    source = open(path).read()

    def walk(body):
        for node in body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue  # read when called, in the run
            if isinstance(node, ast.ClassDef):
                walk(node.body)
                continue
            text = ast.get_source_segment(source, node) or ""
            if any(word in text for word in ("environ", "getenv", "is_controller", "import_controller_module")):
                found.append(name + ": " + text[:120])

    walk(ast.parse(source).body)
ansible = sorted(m for m in sys.modules if m.startswith("ansible") and not m.startswith("ansible.module_utils"))
print(json.dumps({"missing": missing, "ansible": ansible, "reads_at_import": found}))
"""


def test_what_the_warm_interpreter_imports_ahead_reads_nothing_of_a_run_at_import():
    """ansible.constants reads the run's environment when imported: of Ansible only module_utils
    are imported ahead, and what parses ansible-core's routing and settings definitions
    (warm_parsed.py: the collection loader, the config manager), none of which reads the
    environment at import. The controller's ``ansible._internal``, which the config manager
    imports, marks the process as Ansible's controller (ansible-core lib/ansible/_internal/
    __init__.py), as every run does at its start: no module_utils imported ahead reads that flag
    at import either (they read it when called, in the run)."""
    shown = subprocess.run(
        [sys.executable, "-c", IMPORTED_AHEAD], capture_output=True, text=True, timeout=60, check=False
    )
    assert shown.returncode == 0, shown.stderr
    seen = json.loads(shown.stdout)
    assert seen["missing"] == []
    assert "ansible.constants" not in seen["ansible"], seen["ansible"]
    run_only = ("ansible.cli", "ansible.executor", "ansible.playbook", "ansible.plugins", "ansible.template")
    assert not [m for m in seen["ansible"] if m.startswith(run_only)], seen["ansible"]
    assert seen["reads_at_import"] == [
        "ansible._internal: _internal.import_controller_module = import_controller_module",
        "ansible._internal: _internal.is_controller = True",
        "ansible.module_utils._internal: is_controller: bool = False",
    ]
    assert tuple(sorted(warm.PRELOAD)) == warm.PRELOAD


def test_a_client_that_sends_its_request_a_drip_at_a_time_is_dropped_within_the_request_deadline(
    warm_interpreter: WarmInterpreter,
):
    """One byte a second never ends a read's timeout; the whole request has REQUEST_SECONDS."""
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    conn.settimeout(30)
    conn.connect(str(warm_interpreter.socket))
    socket.send_fds(conn, [struct.pack("!I", 1000)], [0, 1, 2])
    started = time.monotonic()
    closed = False
    while time.monotonic() - started < warm.REQUEST_SECONDS + 5:
        try:
            conn.send(b" ")
        except OSError:
            closed = True
            break
        time.sleep(1)
    conn.close()
    assert closed, "the server still reads a request that drips"
    assert time.monotonic() - started < warm.REQUEST_SECONDS + 3
    conn, reply = request(warm_interpreter.socket, dict(os.environ))
    assert reply.startswith(b"pid "), reply
    conn.close()


def test_a_work_dir_another_user_may_change_is_not_used_for_the_warm_interpreter(tmp_path: Path):
    """The client script and the socket run as the operator: in a parent that others may write
    (and that is not sticky), another user could swap the folder for one of theirs. Then runs
    start as programs of their own."""
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    interpreter = WarmInterpreter(shared / "warm")
    with pytest.raises(OSError, match="another user"):
        interpreter.binary()
    assert interpreter.process is None
    result, out = run_who(tmp_path / "run", interpreter)
    assert result.status == "successful"
    assert (out / "n_o0").read_text().split()[0] == "none"


PARSED_AHEAD = """
import json, os
from pathlib import Path
import ansible
from ansible.config.manager import ConfigManager
from ansible.utils.collection_loader import _collection_finder
from dpf_hcp_operator import warm_parsed
config = Path(ansible.__file__).parent / "config"
routing = (config / "ansible_builtin_runtime.yml").read_bytes()
before = (_collection_finder._meta_yml_to_dict(routing, ("ansible.builtin", "runtime.yml")),
          ConfigManager._read_config_yaml_file(None, str(config / "base.yml")))
warm_parsed.parse_ansible_definitions()
first = (_collection_finder._meta_yml_to_dict(routing, ("ansible.builtin", "runtime.yml")),
         ConfigManager._read_config_yaml_file(None, str(config / "base.yml")))
first[1]["CHANGED_BY_THE_RUN"] = {"default": 1}  # as ConfigManager changes what it got
again = ConfigManager._read_config_yaml_file(None, str(config / "base.yml"))
pid = os.fork()
if pid == 0:  # a run
    in_run = ConfigManager._read_config_yaml_file(None, str(config / "base.yml"))
    os._exit(0 if in_run == before[1] else 1)
_, status = os.waitpid(pid, 0)
other = Path(os.environ["OTHER"])
other.write_text("A: {b: 1}")
print(json.dumps({
    "same": [first[0] == before[0], again == before[1]],
    "own_object": again is not first[1],
    "run_gets_the_same": status == 0,
    "other_content_parsed": ConfigManager._read_config_yaml_file(None, str(other)) == {"A": {"b": 1}},
}))
"""


def test_ansible_core_definitions_parsed_ahead_are_what_each_run_would_parse(tmp_path: Path):
    """What the warm interpreter parses once (warm_parsed.py) is what Ansible's own functions give,
    an object of its own for each call (Ansible changes the definitions it read), in the server
    and in a run forked from it; another file is parsed as Ansible parses it."""
    env = {**os.environ, "OTHER": str(tmp_path / "other.yml")}
    shown = subprocess.run(
        [sys.executable, "-c", PARSED_AHEAD], capture_output=True, text=True, timeout=120, check=False, env=env
    )
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout) == {
        "same": [True, True],
        "own_object": True,
        "run_gets_the_same": True,
        "other_content_parsed": True,
    }
