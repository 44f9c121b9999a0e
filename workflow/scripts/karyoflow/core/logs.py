"""Logging set-up shared by the rule scripts: messages go to stderr (the rule's log)."""

from __future__ import annotations

import logging
import sys


def log_to_stderr(level: int = logging.INFO) -> None:
    """Log records to sys.stderr; where a rule script has pointed sys.stderr at its log
    file, file descriptor 2 follows, so C/C++ libraries (TensorFlow, OpenCV) log there too
    instead of onto Snakemake's console."""
    import os

    try:
        if sys.stderr.fileno() != 2:
            os.dup2(sys.stderr.fileno(), 2)
    except (AttributeError, OSError, ValueError):
        pass  # not a real file (pytest capture, notebooks): leave fd 2 alone
    logging.basicConfig(
        stream=sys.stderr,
        level=level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        force=True,
    )
    logging.captureWarnings(True)


class Progress:
    """Logs "<verb> done/total <unit> (rate, time left)" every `every` items and at the end."""

    def __init__(self, log: logging.Logger, verb: str, total: int, every: int = 50, unit="images"):
        import time

        self._clock = time.perf_counter
        self.log, self.verb, self.total, self.every, self.unit = log, verb, total, every, unit
        self.started = self._clock()
        self.reported = 0

    def update(self, done: int) -> None:
        if done < self.total and done // self.every == self.reported // self.every:
            return
        self.reported = done
        elapsed = self._clock() - self.started
        rate = done / elapsed if elapsed > 0 else float("inf")
        left = (self.total - done) / rate if rate and rate != float("inf") else 0.0
        self.log.info(
            "%s %d/%d %s (%.2f %s/s, about %.0f s left)",
            self.verb,
            done,
            self.total,
            self.unit,
            rate,
            self.unit,
            left,
        )
