"""The trainer child process as seen from the CLI: start it, read its events, forward Ctrl+C.

The child runs in its own process group, so a Ctrl+C in the terminal reaches only the CLI,
which turns it into a ``stop`` command on the child's stdin (the child saves and exits
cleanly). A second Ctrl+C terminates the child without saving. SIGTERM / SIGHUP to the CLI
are forwarded as ``stop`` too, so the run is never left orphaned and unsaved.
"""

from __future__ import annotations

import collections
import json
import logging
import os
import signal
import subprocess
import sys
import threading
from typing import Any

from desktop.cli.train_view import TrainView

log = logging.getLogger(__name__)

EXIT_ABORTED = 130


class TrainerSession:
    stop_note = (
        "stopping: finishing this step and saving a checkpoint "
        "(Ctrl+C again to abort without saving)"
    )

    def __init__(self, argv: list[str], view: TrainView, *, echo_stderr: bool = False):
        self.argv = argv
        self.view = view
        self.echo_stderr = echo_stderr
        self.proc: subprocess.Popen[str] | None = None
        self.interrupts = 0
        self.aborted = False
        self.stderr_tail: collections.deque[str] = collections.deque(maxlen=40)
        self._stdin_lock = threading.Lock()
        self._output_gone = False

    # -- commands ---------------------------------------------------------------------------
    def send(self, command: str) -> bool:
        """Write one command line to the child's stdin; False when it is gone."""
        proc = self.proc
        if proc is None or proc.stdin is None:
            return False
        with self._stdin_lock:
            try:
                proc.stdin.write(command + "\n")
                proc.stdin.flush()
                return True
            except (BrokenPipeError, OSError, ValueError):
                return False

    def _on_signal(self, signum: int, frame: Any) -> None:
        self.interrupts += 1
        if self.interrupts == 1 or signum != signal.SIGINT:
            if self.send("stop"):
                self._note(self.stop_note)
            return
        self._note("aborting without saving")
        self.aborted = True
        self.terminate()

    def terminate(self) -> None:
        """Abort the trainer and anything it started, without saving.

        The trainer takes a first SIGTERM as ``stop`` and a second as "abort now"
        (``docs/trainer-protocol.md``), so it gets two, half a second apart (signals sent
        together may merge into one), then SIGKILL if it is still there after 10 s.
        """
        proc = self.proc
        if proc is None or proc.poll() is not None:
            return
        if os.name == "nt":
            proc.terminate()
            return
        self._signal_group(signal.SIGTERM)
        for delay, sig in ((0.5, signal.SIGTERM), (10.0, signal.SIGKILL)):
            timer = threading.Timer(delay, self._signal_group, args=(sig,))
            timer.daemon = True
            timer.start()

    def _signal_group(self, sig: int) -> None:
        proc = self.proc
        if proc is None or proc.poll() is not None:
            return
        try:
            os.killpg(proc.pid, sig)  # the child leads its own session
        except (ProcessLookupError, PermissionError):
            try:
                proc.send_signal(sig)
            except ProcessLookupError:
                pass

    def _note(self, text: str) -> None:
        try:
            self.view.note(text)
        except RuntimeError:  # re-entered a write in progress; the message is not essential
            pass

    # -- running ----------------------------------------------------------------------------
    def _popen(self) -> subprocess.Popen[str]:
        env = dict(os.environ, PYTHONUNBUFFERED="1", PYTHONIOENCODING="utf-8")
        kwargs: dict[str, Any] = {}
        if os.name == "nt":
            kwargs["creationflags"] = subprocess.CREATE_NEW_PROCESS_GROUP  # type: ignore[attr-defined]
        else:
            kwargs["start_new_session"] = True
        return subprocess.Popen(
            self.argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
            errors="replace",
            bufsize=1,
            env=env,
            **kwargs,
        )

    def _drain_stderr(self) -> None:
        assert self.proc is not None and self.proc.stderr is not None
        for line in self.proc.stderr:
            line = line.rstrip("\n")
            self.stderr_tail.append(line)
            if self.echo_stderr:
                print(line, file=sys.stderr, flush=True)

    def _install_handlers(self) -> dict[int, Any]:
        previous: dict[int, Any] = {}
        if threading.current_thread() is not threading.main_thread():
            return previous
        wanted = [signal.SIGINT, getattr(signal, "SIGTERM", None), getattr(signal, "SIGHUP", None)]
        for sig in wanted:
            if sig is None:
                continue
            try:
                previous[sig] = signal.signal(sig, self._on_signal)
            except (ValueError, OSError):
                continue
        return previous

    def run(self) -> int:
        try:
            self.proc = self._popen()
        except OSError as exc:
            self.view.line(f"error: cannot start the trainer ({exc}): {' '.join(self.argv)}")
            return 1
        stderr_thread = threading.Thread(target=self._drain_stderr, daemon=True)
        stderr_thread.start()
        previous = self._install_handlers()
        try:
            assert self.proc.stdout is not None
            for line in self.proc.stdout:
                self._handle_line(line)
            code = self.proc.wait()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            if self.proc.stdin is not None:
                try:
                    self.proc.stdin.close()
                except OSError:
                    pass
        stderr_thread.join(timeout=5)
        if self._output_gone:
            return code
        self.view.close()
        return self._exit_code(code)

    def _handle_line(self, line: str) -> None:
        text = line.strip()
        if not text or self._output_gone:
            return
        try:
            self._show(text)
        except BrokenPipeError:  # our stdout was closed (e.g. `| head`)
            self._output_gone = True
            self.send("stop")  # save and end cleanly rather than train unseen

    def _show(self, text: str) -> None:
        try:
            event = json.loads(text)
        except json.JSONDecodeError:
            self.view.raw(text)
            return
        if isinstance(event, dict) and "event" in event:
            self.view.handle(event)
        else:
            self.view.raw(text)

    def _exit_code(self, code: int) -> int:
        view = self.view
        if self.aborted:
            view.line("aborted: no checkpoint was saved for the last steps")
            return EXIT_ABORTED
        if code < 0:  # killed by a signal
            view.line(f"error: the trainer was killed (signal {-code})")
            self._show_tail()
            return 128 - code
        if code != 0 and not view.errors:
            view.line(f"error: the trainer stopped unexpectedly (exit status {code})")
            self._show_tail()
            return code
        if code == 0 and view.errors:
            return 1
        if code == 0 and view.done is None:
            view.line("error: the trainer ended without finishing the run")
            self._show_tail()
            return 1
        return code

    def _show_tail(self) -> None:
        lines = [ln for ln in self.stderr_tail if ln.strip()][-12:]
        if lines:
            self.view.line("last lines of the trainer's log:")
            for ln in lines:
                self.view.line(f"  {ln}")
