#!/usr/bin/env python3
"""Checkpoint on the spot 2-minute warning: wrap a training command, and on the warning tell it — once.

    python3 spot_watch.py --signal USR1 -- python train.py --resume-from s3://...

It polls IMDSv2 /latest/meta-data/spot/instance-action (404: nothing pending) and, on a notice, delivers the
signal to the training process (its handler saves a checkpoint). The same happens when cost-janitor's
Lambda runs the checkpoint command through SSM (`kill -USR1 $(cat /run/cost-janitor/spot-watch.pid)`, the
watcher's pid), or when the watcher gets SIGTERM. In Python code, use SpotWatch(callback=...) directly.
stdlib only.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

IMDS = os.environ.get("AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://169.254.169.254").rstrip("/")
PIDFILE = Path("/run/cost-janitor/spot-watch.pid")


class SpotWatch:
    """Polls IMDSv2 for a spot interruption notice and calls `callback(notice)` exactly once."""

    def __init__(self, callback: Callable[[dict[str, Any]], None], *, imds: str = IMDS, interval: float = 5.0,
                 max_backoff: float = 60.0) -> None:
        self._callback = callback
        self._imds = imds
        self._interval = interval
        self._max_backoff = max_backoff
        self._token: str | None = None
        self._fired = threading.Event()
        self._lock = threading.Lock()
        self.polls = 0

    @property
    def fired(self) -> bool:
        return self._fired.is_set()

    def trigger(self, notice: dict[str, Any]) -> bool:
        """Call the callback unless it already ran; True when this call ran it."""
        with self._lock:
            if self._fired.is_set():
                return False
            self._fired.set()
        self._callback(notice)
        return True

    def _token_now(self) -> str:
        if self._token is None:
            request = urllib.request.Request(f"{self._imds}/latest/api/token", method="PUT",
                                             headers={"X-aws-ec2-metadata-token-ttl-seconds": "21600"})
            with urllib.request.urlopen(request, timeout=2) as response:
                self._token = response.read().decode()
        return self._token

    def check(self) -> dict[str, Any] | None:
        """One poll: the notice, or None when nothing is pending (404). Token errors refresh the token."""
        self.polls += 1
        request = urllib.request.Request(f"{self._imds}/latest/meta-data/spot/instance-action",
                                         headers={"X-aws-ec2-metadata-token": self._token_now()})
        try:
            with urllib.request.urlopen(request, timeout=2) as response:
                notice: dict[str, Any] = json.loads(response.read().decode())
                return notice
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                return None
            if exc.code == 401:
                self._token = None  # expired: fetch a new one next time
            raise

    def run(self, stop: threading.Event | None = None) -> dict[str, Any] | None:
        """Poll until a notice (then call back and return it) or until `stop` is set. Errors back off."""
        stop = stop or threading.Event()
        delay = self._interval
        while not stop.is_set() and not self.fired:
            try:
                notice = self.check()
                delay = self._interval
            except (urllib.error.URLError, OSError, ValueError):
                delay = min(delay * 2, self._max_backoff)
                notice = None
            if notice is not None:
                self.trigger(notice)
                return notice
            stop.wait(delay)
        return None


def wrap(command: list[str], *, sig: signal.Signals, imds: str = IMDS, interval: float = 5.0,
         pidfile: Path | None = PIDFILE) -> int:
    """Run the training command; on a notice, SIGUSR1 from SSM or SIGTERM, send it `sig` once; return its code."""
    child = subprocess.Popen(command)
    watch = SpotWatch(lambda notice: child.send_signal(sig), imds=imds, interval=interval)
    stop = threading.Event()
    previous = {incoming: signal.signal(incoming, lambda signum, frame: watch.trigger(
        {"action": "signal", "signal": signum})) for incoming in (signal.SIGUSR1, signal.SIGTERM)}
    if pidfile is not None:
        try:
            pidfile.parent.mkdir(parents=True, exist_ok=True)
            pidfile.write_text(str(os.getpid()))
        except OSError:
            pidfile = None  # not root: the SSM path needs the pidfile, IMDS polling still works
    poller = threading.Thread(target=watch.run, args=(stop,), daemon=True)
    poller.start()
    try:
        while True:
            try:
                return child.wait()
            except InterruptedError:
                continue
    finally:
        stop.set()
        for incoming, handler in previous.items():
            signal.signal(incoming, handler)
        if pidfile is not None:
            pidfile.unlink(missing_ok=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--signal", default="USR1", help="signal for the training process (default USR1)")
    parser.add_argument("--interval", type=float, default=5.0, help="seconds between IMDS polls")
    parser.add_argument("--pidfile", default=str(PIDFILE))
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- training command and its arguments")
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("give the training command after --")
    sig = signal.Signals[f"SIG{args.signal.upper().removeprefix('SIG')}"]
    return wrap(command, sig=sig, interval=args.interval, pidfile=Path(args.pidfile))


if __name__ == "__main__":
    sys.exit(main())
