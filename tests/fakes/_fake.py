"""Shared bits of the fake agent CLIs: argv logging, behaviour, line output."""

import json
import os
import signal
import subprocess
import sys
import time

MODE = os.environ.get("FAKE_HARNESS_MODE", "normal")
DELAY = float(os.environ.get("FAKE_DELAY", "0.2"))


def log_argv(name):
    path = os.environ.get("FAKE_ARGV_LOG")
    if path:
        with open(path, "a") as f:
            f.write(json.dumps({"harness": name, "argv": sys.argv[1:], "pid": os.getpid()}) + "\n")


def emit(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def setup_mode():
    """Side behaviours that do not depend on the CLI."""
    if MODE == "ignore_sigterm":
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if MODE == "escape":  # descendants that leave the process group
        pids = [subprocess.Popen(["setsid", "sleep", "300"]).pid]  # own session, same pid
        if os.fork() == 0:  # a classic daemon: fork, setsid, fork, parent exits
            os.setsid()
            if os.fork() == 0:
                with open(os.environ["FAKE_ESCAPE_PIDS"] + ".daemon", "w") as f:
                    f.write(str(os.getpid()))
                time.sleep(300)
            os._exit(0)
        with open(os.environ["FAKE_ESCAPE_PIDS"], "w") as f:
            f.write(" ".join(map(str, pids)))
    if MODE == "grandchild":
        child = subprocess.Popen(["sleep", "300"])
        path = os.environ.get("FAKE_GRANDCHILD_PID")
        if path:  # one line per harness, appended whole (O_APPEND): never read half-written
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            os.write(fd, f"{child.pid}\n".encode())
            os.close(fd)


def gate():
    """``gate`` mode: the turn goes on until the file ``$FAKE_GATE`` exists (a test opens
    the gate once it has done what it does during the turn)."""
    path = os.environ.get("FAKE_GATE")
    if MODE == "gate" and path:
        while not os.path.exists(path):
            time.sleep(0.01)


def wait_for_file(variable):
    """Until the file named by ``$variable`` exists, when it names one (a test creates it
    once it is ready for what the fake does next)."""
    path = os.environ.get(variable)
    while path and not os.path.exists(path):
        time.sleep(0.01)


def huge_line():
    size = int(os.environ.get("FAKE_HUGE_BYTES", str(20 * 1024 * 1024)))
    sys.stdout.write('{"type":"huge","blob":"' + "x" * size + '"}\n')
    sys.stdout.flush()


def hang_forever():
    while True:
        time.sleep(3600)


def remember(conversation, text):
    """Append ``text`` to a conversation's history (under FAKE_STATE_DIR); returns how
    many messages it held before, so a resumed conversation can say so."""
    folder = os.environ.get("FAKE_STATE_DIR")
    if not folder:
        return 0
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, conversation)
    try:
        with open(path) as f:
            before = len(f.read().splitlines())
    except FileNotFoundError:
        before = 0
    with open(path, "a") as f:
        f.write(text.replace("\n", " ") + "\n")
    return before
