"""Terminal rendering of trainer events (``docs/trainer-protocol.md``) for ``likeness train``.

On a terminal: one progress line redrawn in place (step, bar, live loss and its running
average, lr, it/s, ETA, VRAM), with warnings, checkpoints and samples printed above it. When
the output is a file or a pipe: plain lines, a step line every ~1% of the run.
"""

from __future__ import annotations

import os
import shutil
import time
from typing import IO, Any

RESET, BOLD, DIM, RED, YELLOW, GREEN, CYAN = (
    "\033[0m", "\033[1m", "\033[2m", "\033[31m", "\033[33m", "\033[32m", "\033[36m",
)  # fmt: skip


def format_duration(seconds: float | None) -> str:
    if seconds is None or seconds != seconds or seconds < 0:
        return "--:--"
    seconds = int(round(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m:02d}:{s:02d}"


def _num(value: Any, fmt: str, missing: str = "-") -> str:
    return format(value, fmt) if isinstance(value, (int, float)) else missing


class TrainView:
    """Feed it events with ``handle``; call ``close`` at the end."""

    def __init__(self, stream: IO[str], *, tty: bool | None = None, color: bool | None = None):
        self.out = stream
        self.tty = stream.isatty() if tty is None else tty
        if color is None:
            color = self.tty and not os.environ.get("NO_COLOR")
        self.color = color
        self.name = ""
        self.total: int | None = None
        self.step = 0
        self.loss: float | None = None
        self.avg_loss: float | None = None
        self.last: dict[str, Any] = {}
        self.errors: list[dict[str, Any]] = []
        self.done: dict[str, Any] | None = None
        self.started: dict[str, Any] | None = None
        self._bar_shown = False
        self._cache_printed: dict[str, int] = {}
        self._last_plain = 0.0

    # -- output helpers ---------------------------------------------------------------------
    def _c(self, text: str, *codes: str) -> str:
        return "".join(codes) + text + RESET if self.color else text

    def _clear_bar(self) -> None:
        if self.tty and self._bar_shown:
            self.out.write("\r\033[K")
            self._bar_shown = False

    def line(self, text: str) -> None:
        """Print a whole line (above the progress bar on a terminal)."""
        self._clear_bar()
        self.out.write(text + "\n")
        self.out.flush()

    def _width(self) -> int:
        return shutil.get_terminal_size((100, 20)).columns

    def _draw(self, text: str) -> None:
        width = self._width()
        self.out.write("\r\033[K" + text[: max(width - 1, 20)])
        self.out.flush()
        self._bar_shown = True

    # -- events -----------------------------------------------------------------------------
    def handle(self, event: dict[str, Any]) -> None:
        kind = event.get("event")
        method = getattr(self, f"_on_{kind}", None)
        if method is not None and isinstance(kind, str):
            method(event)

    def raw(self, text: str) -> None:
        """A stdout line that is not an event (should not happen; shown, never lost)."""
        self.line(self._c(text, DIM))

    def _on_started(self, e: dict[str, Any]) -> None:
        self.started = e
        self.name = str(e.get("name", ""))
        self.total = e.get("total_steps")
        self.step = int(e.get("start_step") or 0)
        what = "resuming" if e.get("resumed") else "training"
        at = f" at step {self.step}" if e.get("resumed") else ""
        self.line(
            self._c(f"{what} {self.name}{at}", BOLD)
            + f" on {e.get('device', '?')}: {self.total} steps -> {e.get('run_dir', '?')}"
        )

    def _on_status(self, e: dict[str, Any]) -> None:
        self.line(self._c(f"· {e.get('message', '')}", DIM))

    def _on_cache_progress(self, e: dict[str, Any]) -> None:
        stage = "latents" if e.get("stage") == "latents" else "text embeddings"
        done, total = int(e.get("done") or 0), int(e.get("total") or 0)
        if self.tty:
            self._draw(
                f"caching {stage} {done}/{total}"
                + (f" {self._bar(done, total, 20)}" if total else "")
            )
            if total and done >= total:
                self.line(f"cached {stage}: {total}")
            return
        quarter = (4 * done // total) if total else 4
        if quarter > self._cache_printed.get(stage, -1) or done >= total:
            self._cache_printed[stage] = quarter
            self.line(f"caching {stage} {done}/{total}")

    def _bar(self, done: int, total: int, width: int) -> str:
        frac = min(max(done / total, 0.0), 1.0) if total else 0.0
        full = int(frac * width)
        return "[" + "#" * full + "-" * (width - full) + "]"

    def _on_step(self, e: dict[str, Any]) -> None:
        self.last = e
        self.step = int(e.get("step") or self.step)
        loss = e.get("loss")
        if isinstance(loss, (int, float)):
            self.loss = float(loss)
            self.avg_loss = (
                self.loss if self.avg_loss is None else 0.95 * self.avg_loss + 0.05 * self.loss
            )
        if self.tty:
            self._draw(self.progress_text(width=self._width()))
            return
        total = self.total or 0
        every = max(1, total // 100) if total else 10
        now = time.monotonic()
        if self.step in (1, total) or self.step % every == 0 or now - self._last_plain > 60:
            self._last_plain = now
            self.line(self.progress_text(bar=False))

    def progress_text(self, bar: bool = True, width: int | None = None) -> str:
        """The progress line; parts are dropped (bar first, then lr) to fit ``width``."""
        e = self.last
        total = self.total or 0
        head = f"step {self.step}/{total or '?'}"
        bar_s = self._bar(self.step, total, 20) if bar and total else ""
        pct = f"{100 * self.step / total:.0f}%" if total else ""
        loss = f"loss {_num(self.loss, '.4f')} (avg {_num(self.avg_loss, '.4f')})"
        lr = f"lr {_num(e.get('lr'), '.1e')}"
        speed = f"{_num(e.get('it_s'), '.2f')} it/s"
        eta = f"ETA {format_duration(e.get('eta_s'))}"
        vram = e.get("vram_gb")
        vram_s = f"VRAM {vram:.1f} GB" if isinstance(vram, (int, float)) else ""
        for drop in ((), ("bar",), ("bar", "lr"), ("bar", "lr", "vram")):
            parts = [
                head,
                "" if "bar" in drop else bar_s,
                pct,
                loss,
                "" if "lr" in drop else lr,
                speed,
                eta,
                "" if "vram" in drop else vram_s,
            ]
            text = "  ".join(p for p in parts if p)
            if width is None or len(text) < width:
                return text
        return text

    def _on_sample_saved(self, e: dict[str, Any]) -> None:
        self.line(
            f"sample  step {e.get('step')} #{e.get('index')} seed {e.get('seed')}: {e.get('path')}"
        )
        self._redraw()

    def _on_checkpoint_saved(self, e: dict[str, Any]) -> None:
        self.line(self._c(f"saved   step {e.get('step')}: {e.get('path')}", GREEN))
        self._redraw()

    def _on_warning(self, e: dict[str, Any]) -> None:
        self.line(self._c(f"warning: {e.get('message', '')}", YELLOW))
        self._redraw()

    def _on_error(self, e: dict[str, Any]) -> None:
        self.errors.append(e)
        self.line(self._c(f"error: {e.get('message', '')}", RED, BOLD))
        for detail in e.get("details") or []:
            if str(detail) not in str(e.get("message", "")):
                self.line(self._c(f"  {detail}", RED))

    def _on_done(self, e: dict[str, Any]) -> None:
        self.done = e
        if self.tty and self.last:  # keep the last progress line on screen
            self._draw(self.progress_text(width=self._width()))
            self.out.write("\n")
            self._bar_shown = False
        if e.get("reason") == "stopped":
            self.line(self._c(f"stopped at step {e.get('step')}", YELLOW, BOLD))
        else:
            self.line(self._c(f"done: step {e.get('step')} -> {e.get('final_path')}", GREEN, BOLD))

    def _redraw(self) -> None:
        if self.tty and self.last:
            self._draw(self.progress_text(width=self._width()))

    def note(self, text: str) -> None:
        """A message from the CLI itself (e.g. 'stopping...')."""
        self.line(self._c(text, CYAN))
        self._redraw()

    def close(self) -> None:
        if self._bar_shown:
            self.out.write("\n")
            self._bar_shown = False
        self.out.flush()
