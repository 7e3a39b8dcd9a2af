"""The spot checkpoint helper against a fake IMDSv2 server on loopback."""

from __future__ import annotations

import json
import signal
import sys
import threading
import urllib.error
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from agent.spot_watch import SpotWatch, wrap


class FakeImds:
    """IMDSv2: PUT a token, then GET spot/instance-action with it (404 until a notice is set)."""

    def __init__(self) -> None:
        self.notice: dict[str, Any] | None = None
        self.fail_with: list[int] = []
        self.tokens = 0
        self.valid = "token-1"
        imds = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_PUT(self) -> None:
                imds.tokens += 1
                imds.valid = f"token-{imds.tokens}"
                self._send(200, imds.valid.encode())

            def do_GET(self) -> None:
                if imds.fail_with:
                    self._send(imds.fail_with.pop(0), b"")
                elif self.headers.get("X-aws-ec2-metadata-token") != imds.valid:
                    self._send(401, b"")
                elif imds.notice is None:
                    self._send(404, b"")
                else:
                    self._send(200, json.dumps(imds.notice).encode())

            def _send(self, code: int, body: bytes) -> None:
                self.send_response(code)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"


@pytest.fixture
def imds() -> Iterator[FakeImds]:
    fake = FakeImds()
    yield fake
    fake.server.shutdown()


NOTICE = {"action": "terminate", "time": "2026-11-28T03:16:00Z"}


def test_nothing_pending_is_a_404_and_no_callback(imds: FakeImds) -> None:
    calls: list[dict[str, Any]] = []
    watch = SpotWatch(calls.append, imds=imds.url, interval=0.01)
    assert watch.check() is None and calls == []


def test_a_notice_calls_back_exactly_once(imds: FakeImds) -> None:
    calls: list[dict[str, Any]] = []
    watch = SpotWatch(calls.append, imds=imds.url, interval=0.01)
    threading.Timer(0.05, lambda: setattr(imds, "notice", NOTICE)).start()
    assert watch.run() == NOTICE
    assert not watch.trigger({"action": "signal"})  # SIGTERM or SSM afterwards: already done
    assert calls == [NOTICE] and watch.polls >= 2


def test_an_expired_token_is_refreshed(imds: FakeImds) -> None:
    watch = SpotWatch(lambda n: None, imds=imds.url, interval=0.01)
    assert watch.check() is None
    imds.valid = "rotated"  # the old token is refused once
    with pytest.raises(urllib.error.HTTPError, match="401"):
        watch.check()
    imds.notice = NOTICE
    assert watch.check() == NOTICE and imds.tokens == 2


def test_errors_back_off_and_polling_goes_on(imds: FakeImds) -> None:
    imds.fail_with = [500, 500, 503]
    imds.notice = NOTICE
    calls: list[dict[str, Any]] = []
    assert SpotWatch(calls.append, imds=imds.url, interval=0.01, max_backoff=0.05).run() == NOTICE
    assert calls == [NOTICE]


TRAINER = """
import signal, sys, time
def checkpoint(signum, frame):
    open(sys.argv[1], "a").write("checkpoint\\n")
    sys.exit(0)
signal.signal(signal.SIGUSR1, checkpoint)
open(sys.argv[1] + ".ready", "w").close()
time.sleep(30)
sys.exit(3)
"""


def test_wrap_tells_the_training_process_once_on_the_notice(imds: FakeImds, tmp_path: Path) -> None:
    script, out = tmp_path / "train.py", tmp_path / "checkpoints.txt"
    script.write_text(TRAINER)

    def notice_when_ready() -> None:
        while not Path(str(out) + ".ready").exists():
            threading.Event().wait(0.02)
        imds.notice = NOTICE

    threading.Thread(target=notice_when_ready, daemon=True).start()
    code = wrap([sys.executable, str(script), str(out)], sig=signal.SIGUSR1, imds=imds.url, interval=0.02,
                pidfile=tmp_path / "spot-watch.pid")
    assert code == 0 and out.read_text() == "checkpoint\n"
    assert not (tmp_path / "spot-watch.pid").exists()


def test_the_ssm_checkpoint_command_reaches_the_training_process(imds: FakeImds, tmp_path: Path) -> None:
    """cost-janitor's default command signals the watcher's pid; the watcher passes it on once."""
    import os

    script, out, pidfile = tmp_path / "train.py", tmp_path / "checkpoints.txt", tmp_path / "spot-watch.pid"
    script.write_text(TRAINER)

    def ssm_command_when_ready() -> None:
        while not Path(str(out) + ".ready").exists():
            threading.Event().wait(0.02)
        os.kill(int(pidfile.read_text()), signal.SIGUSR1)  # kill -USR1 $(cat /run/cost-janitor/spot-watch.pid)

    threading.Thread(target=ssm_command_when_ready, daemon=True).start()
    before = signal.getsignal(signal.SIGUSR1)
    code = wrap([sys.executable, str(script), str(out)], sig=signal.SIGUSR1, imds=imds.url, interval=0.05,
                pidfile=pidfile)
    assert code == 0 and out.read_text() == "checkpoint\n"
    assert signal.getsignal(signal.SIGUSR1) == before  # the wrapper puts the process's handlers back
