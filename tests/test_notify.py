"""Notifications: the configuration, the command and webhook notifiers (against a real
receiver on 127.0.0.1), the never-waiting publish, and the followers."""

from __future__ import annotations

import hashlib
import hmac
import inspect
import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import h11
import pytest
import trio
import trio.testing

from coven_trio.notify import (
    ALL_KINDS,
    Dispatcher,
    FollowerDropped,
    Notification,
    NotificationKind,
)
from coven_trio.notify.command import CommandNotifier
from coven_trio.notify.config import (
    CommandSpec,
    NotifierSpec,
    NotifyConfigError,
    WebhookSpec,
    load_config,
    parse_config,
)
from coven_trio.notify.notifier import DeliveryError, Notifier, backoff_delay
from coven_trio.notify.webhook import WebhookNotifier, verify_signature

pytestmark = pytest.mark.timeout(30)

SECRET = "s3cret-for-tests"


def note(title: str = "fix the tests", kind: str = "needs_you", **fields: Any) -> Notification:
    facts: dict[str, Any] = {
        "session_id": "ses_01TEST",
        "project": "/work/project",
        "harness": "claude",
        "summary": "Approve `rm build/`?",
        **fields,
    }
    return Notification(kind=NotificationKind(kind), title=title, **facts)


# --- a webhook receiver: trio sockets + h11, answers from a script ----------------------

#: Script entries: a status to answer, or one of these.
HANG = -1  # never answer
HOLD = -2  # answer 200 once ``release`` is set


@attrs.define
class Received:
    target: str
    headers: dict[str, str]
    body: bytes


class Receiver:
    """Answers each request with the next status of ``script`` (then 200s)."""

    def __init__(
        self, script: list[int | tuple[int, str]] | None = None, tls: ssl.SSLContext | None = None
    ):
        self.script = list(script or [])
        self.tls = tls
        self.requests: list[Received] = []
        self.connections = 0
        self.arrivals_in, self.arrivals = trio.open_memory_channel[Received](1000)
        self.release = trio.Event()
        # bound now, so its url is known before it serves
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        self.port = sock.getsockname()[1]
        self.listener = trio.SocketListener(trio.socket.from_stdlib_socket(sock))

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}/hooks/coven?x=1"

    async def serve(self, *, task_status: trio.TaskStatus[Any] = trio.TASK_STATUS_IGNORED) -> None:
        await trio.serve_listeners(self._handle, [self.listener], task_status=task_status)

    async def _handle(self, raw: trio.SocketStream) -> None:
        self.connections += 1
        stream: trio.abc.Stream = raw
        if self.tls is not None:
            stream = trio.SSLStream(raw, self.tls, server_side=True)
        try:
            await self._exchange(stream)
        except (trio.BrokenResourceError, trio.ClosedResourceError, h11.ProtocolError):
            pass
        finally:
            await trio.aclose_forcefully(stream)

    async def _exchange(self, stream: trio.abc.Stream) -> None:
        conn = h11.Connection(h11.SERVER)
        request, body = None, b""
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA:
                conn.receive_data(bytes(await stream.receive_some(65536)))
            elif isinstance(event, h11.Request):
                request = event
            elif isinstance(event, h11.Data):
                body += event.data
            elif isinstance(event, h11.EndOfMessage):
                break
            else:
                return
        assert request is not None
        received = Received(
            target=request.target.decode(),
            headers={k.decode(): v.decode() for k, v in request.headers},
            body=body,
        )
        self.requests.append(received)
        self.arrivals_in.send_nowait(received)
        status = self.script.pop(0) if self.script else 200
        retry_after = None
        if isinstance(status, tuple):
            status, retry_after = status
        if status == HANG:
            await trio.sleep_forever()
        if status == HOLD:
            await self.release.wait()
            status = 200
        headers = [("content-length", "0")]
        if retry_after is not None:
            headers.append(("retry-after", retry_after))
        head = h11.Response(status_code=status, headers=headers)
        await stream.send_all(conn.send(head) + conn.send(h11.EndOfMessage()))


def webhook(url: str, **options: Any) -> WebhookSpec:
    return WebhookSpec(name="hook", url=url, secret=SECRET, **{"backoff": 0.0, **options})


# --- the webhook notifier ----------------------------------------------------------------


async def test_a_webhook_body_is_signed_with_the_secret_over_timestamp_and_body() -> None:
    receiver = Receiver()
    dispatcher = Dispatcher([WebhookNotifier(webhook(receiver.url))])
    async with trio.open_nursery() as nursery:
        await nursery.start(receiver.serve)
        await nursery.start(dispatcher.run)
        sent = dispatcher.publish(note("Ship it"))
        await dispatcher.flushed()
        nursery.cancel_scope.cancel()
    [got] = receiver.requests
    assert got.target == "/hooks/coven?x=1"
    assert got.headers["content-type"] == "application/json"
    assert got.headers["x-coven-event"] == "needs_you"
    assert got.headers["x-coven-delivery"] == sent.id
    body = json.loads(got.body)
    assert body == {**sent.as_json(), "seq": 1}
    assert body["title"] == "Ship it" and body["sessionId"] == "ses_01TEST"
    # the receiver's side, independently of the package: HMAC-SHA256("<t>." + body)
    timestamp = got.headers["x-coven-timestamp"]
    mac = hmac.new(SECRET.encode(), timestamp.encode() + b"." + got.body, hashlib.sha256)
    assert got.headers["x-coven-signature"] == "sha256=" + mac.hexdigest()
    assert verify_signature(SECRET, got.body, timestamp, got.headers["x-coven-signature"])
    assert not verify_signature("wrong", got.body, timestamp, got.headers["x-coven-signature"])
    assert not verify_signature(
        SECRET, got.body.replace(b"Ship", b"Sink"), timestamp, got.headers["x-coven-signature"]
    )
    stale = float(timestamp) + 301
    signature = got.headers["x-coven-signature"]
    assert not verify_signature(SECRET, got.body, timestamp, signature, now=stale)
    assert dispatcher.health()["notifiers"]["hook"] == {
        "type": "webhook",
        "queued": 0,
        "delivered": 1,
        "failed": 0,
        "dropped": 0,
        "lastError": None,
        "lastErrorAt": None,
    }


async def test_a_webhook_is_retried_after_a_500_and_then_delivered() -> None:
    receiver = Receiver([500, 503, 200])
    dispatcher = Dispatcher([WebhookNotifier(webhook(receiver.url, attempts=4))])
    async with trio.open_nursery() as nursery:
        await nursery.start(receiver.serve)
        await nursery.start(dispatcher.run)
        dispatcher.publish(note())
        await dispatcher.flushed()
        nursery.cancel_scope.cancel()
    assert len(receiver.requests) == 3
    assert len({r.headers["x-coven-delivery"] for r in receiver.requests}) == 1
    assert len({r.body for r in receiver.requests}) == 1
    health = dispatcher.health()["notifiers"]["hook"]
    assert (health["delivered"], health["failed"]) == (1, 0)
    assert "answered 503" in health["lastError"]


@pytest.mark.parametrize("status", [400, 401, 404, 410, 301])
async def test_a_4xx_or_a_redirect_fails_at_once_without_a_retry(status: int) -> None:
    receiver = Receiver([status, 200])
    dispatcher = Dispatcher([WebhookNotifier(webhook(receiver.url, attempts=5))])
    async with trio.open_nursery() as nursery:
        await nursery.start(receiver.serve)
        await nursery.start(dispatcher.run)
        dispatcher.publish(note())
        await dispatcher.flushed()
        nursery.cancel_scope.cancel()
    assert len(receiver.requests) == 1
    health = dispatcher.health()["notifiers"]["hook"]
    assert (health["delivered"], health["failed"]) == (0, 1)
    assert health["lastError"].endswith(f"answered {status}")
    assert health["lastErrorAt"].endswith("Z")


async def test_a_429_is_retried_and_giving_up_counts_one_failure() -> None:
    receiver = Receiver([429, 429, 429])
    dispatcher = Dispatcher([WebhookNotifier(webhook(receiver.url, attempts=3))])
    async with trio.open_nursery() as nursery:
        await nursery.start(receiver.serve)
        await nursery.start(dispatcher.run)
        dispatcher.publish(note())
        await dispatcher.flushed()
        nursery.cancel_scope.cancel()
    assert len(receiver.requests) == 3
    health = dispatcher.health()["notifiers"]["hook"]
    assert (health["delivered"], health["failed"], health["queued"]) == (0, 1, 0)


async def test_a_retry_after_in_seconds_is_passed_on_to_the_retry() -> None:
    receiver = Receiver([(503, "7"), (429, "Wed, 21 Oct 2037 07:28:00 GMT")])
    notifier = WebhookNotifier(webhook(receiver.url))
    async with trio.open_nursery() as nursery:
        await nursery.start(receiver.serve)
        with pytest.raises(DeliveryError) as first:
            await notifier.deliver(note())
        with pytest.raises(DeliveryError) as second:
            await notifier.deliver(note())
        nursery.cancel_scope.cancel()
    assert (first.value.retryable, first.value.retry_after) == (True, 7.0)
    assert (second.value.retryable, second.value.retry_after) == (True, None)  # a date: ignored


async def test_a_refused_connection_is_retried_then_counted_as_failed() -> None:
    listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
    port = listeners[0].socket.getsockname()[1]
    await listeners[0].aclose()  # nothing listens there now
    notifier = WebhookNotifier(webhook(f"http://127.0.0.1:{port}/", attempts=2))
    dispatcher = Dispatcher([notifier])
    async with trio.open_nursery() as nursery:
        await nursery.start(dispatcher.run)
        dispatcher.publish(note())
        await dispatcher.flushed()
        nursery.cancel_scope.cancel()
    health = dispatcher.health()["notifiers"]["hook"]
    assert (health["delivered"], health["failed"]) == (0, 1)
    assert f"http://127.0.0.1:{port}" in health["lastError"]


async def test_an_attempt_without_an_answer_in_time_fails_by_its_timeout() -> None:
    receiver = Receiver([HANG])
    dispatcher = Dispatcher([WebhookNotifier(webhook(receiver.url, attempts=1, timeout=0.2))])
    async with trio.open_nursery() as nursery:
        await nursery.start(receiver.serve)
        await nursery.start(dispatcher.run)
        dispatcher.publish(note())
        await dispatcher.flushed()
        nursery.cancel_scope.cancel()
    health = dispatcher.health()["notifiers"]["hook"]
    assert (health["failed"], health["lastError"]) == (1, "no answer within 0.2 s")


async def test_a_hanging_receiver_never_delays_publish_and_the_queue_drops_the_oldest() -> None:
    receiver = Receiver([HOLD])
    notifier = WebhookNotifier(webhook(receiver.url, queue=2, timeout=60))
    dispatcher = Dispatcher([notifier])
    assert not inspect.iscoroutinefunction(Dispatcher.publish)  # no await: no waiting
    async with trio.open_nursery() as nursery:
        await nursery.start(receiver.serve)
        await nursery.start(dispatcher.run)
        dispatcher.publish(note("n1"))
        # publish returned before the receiver was even contacted
        assert receiver.requests == []
        first = await receiver.arrivals.receive()  # the delivery of n1 now hangs
        assert json.loads(first.body)["title"] == "n1"
        for title in ("n2", "n3", "n4", "n5"):
            dispatcher.publish(note(title))
        health = dispatcher.health()["notifiers"]["hook"]
        assert (health["queued"], health["dropped"], health["delivered"]) == (3, 2, 0)
        receiver.release.set()
        await dispatcher.flushed()
        nursery.cancel_scope.cancel()
    assert [json.loads(r.body)["title"] for r in receiver.requests] == ["n1", "n4", "n5"]
    health = dispatcher.health()["notifiers"]["hook"]
    assert (health["queued"], health["delivered"], health["dropped"]) == (0, 3, 2)


async def test_cancelling_run_stops_a_delivery_in_progress_at_once() -> None:
    receiver = Receiver([HANG])
    dispatcher = Dispatcher([WebhookNotifier(webhook(receiver.url, timeout=60))])
    with trio.fail_after(30):  # a delivery left running would hold this for 60 s
        async with trio.open_nursery() as outer:
            await outer.start(receiver.serve)
            async with trio.open_nursery() as nursery:
                await nursery.start(dispatcher.run)
                dispatcher.publish(note())
                await receiver.arrivals.receive()
                nursery.cancel_scope.cancel()
            outer.cancel_scope.cancel()
    assert dispatcher.health()["notifiers"]["hook"]["delivered"] == 0


@pytest.fixture
def certificate(tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    """A self-signed certificate for 127.0.0.1 (and its key), made by openssl."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is not installed")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            *(openssl, "req", "-x509", "-nodes", "-days", "1", "-newkey", "ec"),
            *("-pkeyopt", "ec_paramgen_curve:prime256v1", "-keyout", str(key), "-out", str(cert)),
            *("-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"),
        ],
        check=True,
        capture_output=True,
        timeout=20,
    )
    yield cert, key


async def test_an_https_webhook_is_delivered_and_the_certificate_is_verified(
    certificate: tuple[Path, Path],
) -> None:
    cert, key = certificate
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(cert, key)
    receiver = Receiver(tls=server)
    trusting = ssl.create_default_context(cafile=str(cert))
    async with trio.open_nursery() as nursery:
        await nursery.start(receiver.serve)
        good = WebhookNotifier(webhook(receiver.url), ssl_context=trusting)
        # the system's trust: a self-signed certificate is refused, and not retried
        doubtful = WebhookNotifier(attrs.evolve(webhook(receiver.url), name="doubt", attempts=3))
        dispatcher = Dispatcher([good, doubtful])
        await nursery.start(dispatcher.run)
        dispatcher.publish(note())
        await dispatcher.flushed()
        nursery.cancel_scope.cancel()
    assert (len(receiver.requests), receiver.connections) == (1, 2)
    health = dispatcher.health()["notifiers"]
    assert health["hook"]["delivered"] == 1
    assert (health["doubt"]["failed"], health["doubt"]["delivered"]) == (1, 0)
    assert "TLS: certificate verify failed" in health["doubt"]["lastError"]


def test_backoff_doubles_from_its_base_up_to_the_cap() -> None:
    assert [backoff_delay(n, 0.5) for n in range(1, 6)] == [0.5, 1.0, 2.0, 4.0, 8.0]
    assert backoff_delay(12, 0.5) == 30.0
    assert backoff_delay(3, 0.0) == 0.0


# --- the command notifier ----------------------------------------------------------------

RECORDER = """\
import json, os, sys
record = {
    "argv": sys.argv[1:],
    "env": {k: v for k, v in os.environ.items() if k.startswith("COVEN_")},
    "stdin": sys.stdin.read(),
}
with open(sys.argv[1], "w") as f:
    json.dump(record, f)
"""


async def test_a_hostile_title_runs_nothing_but_the_configured_command(tmp_path: Path) -> None:
    script, out, canary = tmp_path / "recorder.py", tmp_path / "out.json", tmp_path / "canary"
    script.write_text(RECORDER)
    hostile = (
        f"$(touch {canary}) `touch {canary}` \"; touch {canary}; ' && touch {canary} #"
        "\nsecond line\x00after NUL\x1b]0;retitled\x07 ${HOME} %s {title}"
    )
    argv = (sys.executable, str(script), str(out))
    dispatcher = Dispatcher([CommandNotifier(CommandSpec(name="cmd", argv=argv))])
    async with trio.open_nursery() as nursery:
        await nursery.start(dispatcher.run)
        sent = dispatcher.publish(note(hostile, summary=hostile, project="/p; touch x"))
        await dispatcher.flushed()
        nursery.cancel_scope.cancel()
    assert dispatcher.health()["notifiers"]["cmd"]["delivered"] == 1
    record = json.loads(out.read_text())
    assert record["argv"] == [str(out)]  # exactly the configured arguments
    assert not canary.exists()  # and nothing of the title ran
    assert sorted(os.listdir(tmp_path)) == ["out.json", "recorder.py"]
    safe = hostile.replace("\x00", "\ufffd").replace("\x1b", "\ufffd").replace("\x07", "\ufffd")
    env = record["env"]
    assert env["COVEN_TITLE"] == env["COVEN_SUMMARY"] == safe
    assert "\n" in env["COVEN_TITLE"]  # newlines are kept: they are harmless in a value
    assert env["COVEN_EVENT"] == "needs_you"
    assert env["COVEN_SESSION"] == "ses_01TEST"
    assert "COVEN_SESSION_ID" not in env  # the marker of a session's own processes
    assert env["COVEN_PROJECT"] == "/p; touch x"
    assert env["COVEN_HARNESS"] == "claude"
    assert env["COVEN_NOTIFICATION_ID"] == sent.id and env["COVEN_SEQ"] == "1"
    assert env["COVEN_URL"] == ""
    assert json.loads(record["stdin"])["title"] == hostile  # the JSON holds it exactly


async def test_a_failing_or_missing_command_is_counted_with_its_reason() -> None:
    failing = CommandSpec(name="fails", argv=("sh", "-c", "echo boom >&2; exit 3"))
    missing = CommandSpec(name="missing", argv=("/nonexistent/notify",))
    dispatcher = Dispatcher([CommandNotifier(failing), CommandNotifier(missing)])
    async with trio.open_nursery() as nursery:
        await nursery.start(dispatcher.run)
        dispatcher.publish(note())
        await dispatcher.flushed()
        nursery.cancel_scope.cancel()
    health = dispatcher.health()["notifiers"]
    assert (health["fails"]["failed"], health["fails"]["lastError"]) == (
        1,
        "`sh` exited with 3: boom",
    )
    assert health["missing"]["failed"] == 1
    assert "failed to spawn `/nonexistent/notify`" in health["missing"]["lastError"]


# --- configuration -----------------------------------------------------------------------

VALID = """\
[[notifier]]
type = "command"
name = "desktop"
command = ["notify-send", "coven-trio"]
events = ["needs_you", "failed"]

[[notifier]]
type = "webhook"
url = "https://hooks.example.com/coven"
secret = "abc"
headers = { Authorization = "Bearer t0ken" }
quiet_when_attached = false
attempts = 3
backoff = 1
timeout = 5
queue = 10
"""


def test_a_valid_file_configures_each_notifier_with_defaults_for_the_rest() -> None:
    desktop, hook = parse_config(VALID)
    assert desktop == CommandSpec(
        name="desktop",
        argv=("notify-send", "coven-trio"),
        events=frozenset({NotificationKind.NEEDS_YOU, NotificationKind.FAILED}),
    )
    assert (desktop.quiet_when_attached, desktop.queue, desktop.timeout) == (True, 64, 10.0)
    assert desktop.attempts == 1
    assert hook == WebhookSpec(
        name="webhook-2",
        url="https://hooks.example.com/coven",
        secret="abc",
        headers=(("Authorization", "Bearer t0ken"),),
        events=ALL_KINDS,
        quiet_when_attached=False,
        attempts=3,
        backoff=1.0,
        timeout=5.0,
        queue=10,
    )
    assert "abc" not in repr(hook) and "t0ken" not in repr(hook)  # out of any log
    assert parse_config("") == []


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("notifiers = []", "unknown key `notifiers`"),
        ('[[notifier]]\ntype = "command"\ncommand = ["x"]\nurl = "http://a/"', "unknown key `url`"),
        ('[[notifier]]\ntype = "command"\ncomand = ["x"]', "unknown key `comand`"),
        ('[[notifier]]\ntype = "email"', "`type` must be `command` or `webhook`"),
        ('[[notifier]]\ntype = "command"\ncommand = "notify-send hi"', "`command` must be"),
        ('[[notifier]]\ntype = "command"\ncommand = ["x"]\nevents = ["done"]', "event `done`"),
        ('[[notifier]]\ntype = "command"\ncommand = ["x"]\nqueue = 0', "`queue`"),
        ('[[notifier]]\ntype = "command"\ncommand = ["x"]\nevents = []', "`events` is empty"),
        ('[[notifier]]\ntype = "command"\ncommand = ["x"]\ntimeout = true', "`timeout`"),
        ('[[notifier]]\ntype = "command"\ncommand = ["x\\u0000"]', "NUL"),
        ('[[notifier]]\ntype = "webhook"\nurl = "http://a/"', "`secret`"),
        ('[[notifier]]\ntype = "webhook"\nurl = "ftp://a/"\nsecret = "s"', "http or https"),
        ('[[notifier]]\ntype = "webhook"\nurl = "http://u:p@a/"\nsecret = "s"', "credentials"),
        (
            '[[notifier]]\ntype = "webhook"\nurl = "http://a/"\nsecret = "s"\n'
            'headers = { X-Coven-Signature = "forged" }',
            "header `X-Coven-Signature` is set by coven-trio",
        ),
        (
            '[[notifier]]\ntype = "webhook"\nurl = "http://a/"\nsecret = "s"\n'
            'headers = { A = "b\\r\\nInjected: 1" }',
            "printable ASCII",
        ),
        (
            '[[notifier]]\ntype = "command"\nname = "x"\ncommand = ["a"]\n'
            '[[notifier]]\ntype = "command"\nname = "x"\ncommand = ["b"]',
            "two notifiers are named `x`",
        ),
        ("[[notifier", "not TOML"),
    ],
)
def test_a_mistake_in_the_file_is_an_error_that_names_it(text: str, message: str) -> None:
    with pytest.raises(NotifyConfigError) as caught:
        parse_config(text)
    assert message in str(caught.value)


def test_the_file_is_read_from_the_home_and_a_missing_one_means_no_notifiers(
    tmp_path: Path,
) -> None:
    assert load_config(tmp_path) == []
    assert Dispatcher.from_home(tmp_path).notifiers == []
    (tmp_path / "notify.toml").write_text(VALID)
    os.chmod(tmp_path / "notify.toml", 0o600)
    dispatcher = Dispatcher.from_home(tmp_path)
    assert [(n.name, n.type) for n in dispatcher.notifiers] == [
        ("desktop", "command"),
        ("webhook-2", "webhook"),
    ]
    assert dispatcher.config_error is None


def test_a_file_others_may_write_a_symlink_or_a_foreign_one_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "notify.toml"
    path.write_text(VALID)
    os.chmod(path, 0o666)
    with pytest.raises(NotifyConfigError, match="writable by others"):
        load_config(tmp_path)
    dispatcher = Dispatcher.from_home(tmp_path)
    assert dispatcher.notifiers == []
    assert dispatcher.config_error is not None and "writable by others" in dispatcher.config_error
    assert "notifications are off" in caplog.text
    os.chmod(path, 0o600)
    assert len(load_config(tmp_path)) == 2

    real = tmp_path / "real.toml"
    path.rename(real)
    path.symlink_to(real)
    with pytest.raises(NotifyConfigError, match="symlink"):
        load_config(tmp_path)
    path.unlink()
    real.rename(path)

    monkeypatch.setattr(os, "geteuid", lambda: os.getuid() + 1)  # as if someone else's
    with pytest.raises(NotifyConfigError, match="owned by uid"):
        load_config(tmp_path)


def test_a_home_folder_in_place_of_the_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "notify.toml").mkdir()
    with pytest.raises(NotifyConfigError, match="not a regular file"):
        load_config(tmp_path)


# --- filters -----------------------------------------------------------------------------


class Recording(Notifier):
    type = "recording"

    def __init__(self, spec: NotifierSpec) -> None:
        super().__init__(spec)
        self.seen: list[str] = []

    async def deliver(self, notification: Notification) -> None:
        self.seen.append(notification.title)


async def test_events_filter_and_quiet_when_attached_choose_who_hears() -> None:
    loud = Recording(NotifierSpec(name="loud", quiet_when_attached=False))
    quiet = Recording(NotifierSpec(name="quiet", events=frozenset({NotificationKind.NEEDS_YOU})))
    dispatcher = Dispatcher([loud, quiet])
    async with trio.open_nursery() as nursery:
        await nursery.start(dispatcher.run)
        dispatcher.publish(note("asked, watched"), attached=True)
        dispatcher.publish(note("asked, alone"), attached=False)
        dispatcher.publish(note("done, alone", kind="finished"))
        dispatcher.publish(note("broke, watched", kind="failed"), attached=True)
        await dispatcher.flushed()
        nursery.cancel_scope.cancel()
    assert loud.seen == ["asked, watched", "asked, alone", "done, alone", "broke, watched"]
    assert quiet.seen == ["asked, alone"]
    # the followers' ring has every notification, whoever was told
    assert [n.title for n in dispatcher.snapshot()] == loud.seen


# --- followers ---------------------------------------------------------------------------


async def test_followers_read_the_ring_then_new_notifications_in_order() -> None:
    dispatcher = Dispatcher(ring_size=3)
    for title in ("a", "b", "c", "d"):
        dispatcher.publish(note(title))
    assert [(n.seq, n.title) for n in dispatcher.snapshot()] == [(2, "b"), (3, "c"), (4, "d")]
    assert [n.title for n in dispatcher.snapshot(3)] == ["d"]
    got: list[tuple[int, str]] = []
    with trio.fail_after(30):
        with dispatcher.follow(2) as follower:
            dispatcher.publish(note("e"))
            async for notification in follower:
                got.append((notification.seq, notification.title))
                if notification.seq == 4:
                    dispatcher.publish(note("f"))
                if notification.seq == 6:
                    break
    assert got == [(3, "c"), (4, "d"), (5, "e"), (6, "f")]
    assert dispatcher.health()["followers"] == 0  # a closed follower is no longer fed


async def test_a_slow_follower_is_dropped_without_blocking_publish() -> None:
    dispatcher = Dispatcher(follower_buffer=4)
    slow = dispatcher.follow()
    fast: list[int] = []

    async def read_fast(task_status: trio.TaskStatus[None]) -> None:
        with dispatcher.follow() as follower:
            task_status.started()
            async for notification in follower:
                fast.append(notification.seq)
                if notification.seq == 10:
                    return

    with trio.fail_after(30):
        async with trio.open_nursery() as nursery:
            await nursery.start(read_fast)
            for n in range(10):
                dispatcher.publish(note(f"n{n}"))  # synchronous: nothing can block it
                await trio.testing.wait_all_tasks_blocked()  # the fast reader keeps up
    assert fast == list(range(1, 11))
    # the slow one gets what it had buffered, then learns it was dropped, and where
    kept: list[int] = []
    with pytest.raises(FollowerDropped) as dropped:
        async for notification in slow:
            kept.append(notification.seq)
    assert kept == [1, 2, 3, 4]
    assert dropped.value.last_seq == 4
    assert [n.seq for n in dispatcher.snapshot(dropped.value.last_seq)] == list(range(5, 11))
    assert dispatcher.health()["followers"] == 0


async def test_followers_end_when_the_dispatcher_stops() -> None:
    dispatcher = Dispatcher()
    ended = trio.Event()
    seen: list[int] = []

    async def read(task_status: trio.TaskStatus[None]) -> None:
        with dispatcher.follow() as follower:
            task_status.started()
            async for notification in follower:
                seen.append(notification.seq)
        ended.set()

    with trio.fail_after(30):
        async with trio.open_nursery() as outer:
            await outer.start(read)
            async with trio.open_nursery() as nursery:
                await nursery.start(dispatcher.run)
                dispatcher.publish(note())
                nursery.cancel_scope.cancel()
            await ended.wait()
    assert seen == [1]
    # a follower that comes after the end reads what is left, then ends too
    assert [n.seq async for n in dispatcher.follow()] == [1]
