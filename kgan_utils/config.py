"""Run-time switches of the book, read in one place.

The book has one switch: **smoke mode**. When the environment variable
``KGAN_SMOKE`` is set to ``1`` (or ``true``/``yes``), every notebook shrinks its
data and its number of epochs so that the whole book executes in CI in minutes.
The stored outputs of the book always come from a full run (``KGAN_SMOKE`` unset).
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile

SMOKE_ENV = "KGAN_SMOKE"
_TRUE = {"1", "true", "yes", "on"}


def smoke_mode() -> bool:
    """Return True when ``KGAN_SMOKE`` asks for the shrunken CI run.

    Examples
    --------
    >>> import os
    >>> os.environ.pop("KGAN_SMOKE", None) and None
    >>> smoke_mode()
    False
    """
    return os.environ.get(SMOKE_ENV, "").strip().lower() in _TRUE


def smoke_or_full(smoke, full):
    """Pick ``smoke`` in smoke mode and ``full`` otherwise.

    Notebooks write ``n_epochs = smoke_or_full(1, 30)`` so that the one switch
    controls every size in one visible place.
    """
    return smoke if smoke_mode() else full


@contextlib.contextmanager
def quiet_stderr():
    """Send the process's stderr (file descriptor 2) to /dev/null inside the block.

    TensorFlow's C++ start-up messages (CUDA probing, CPU feature notes) are
    written straight to descriptor 2 and ignore ``TF_CPP_MIN_LOG_LEVEL`` during
    start-up; notebooks wrap the first backend call in this so that the pages
    of the book show results, not driver noise. Errors raised inside still
    propagate normally.
    """
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


# An absl/TensorFlow C++ log line ("I0000 00:00:1795690093.375170   16744 port.cc:153] ..."), the line absl prints
# before its first ones, and the continuation line of TensorFlow's CPU-feature note.
_TF_LOG_LINE = re.compile(
    r"[IWE]\d{4} \d\d:\d\d:\d+\.\d+ +\d+ [^ \]]+:\d+\] "
    r"|WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR"
    r"|To enable the following instructions: .* rebuild TensorFlow with the appropriate compiler flags"
)


def is_tensorflow_log_line(line: str) -> bool:
    """True for an INFO, WARNING or ERROR line of TensorFlow's C++ (absl) logging, False for anything else.

    Examples
    --------
    >>> is_tensorflow_log_line("I0000 00:00:1795690093.375170   16744 port.cc:153] oneDNN custom operations are on.")
    True
    >>> is_tensorflow_log_line("Traceback (most recent call last):")
    False
    """
    return _TF_LOG_LINE.match(line) is not None


@contextlib.contextmanager
def filtered_stderr(drop=is_tensorflow_log_line):
    """Hold back what is written to stderr (file descriptor 2) inside the block; then write the lines ``drop`` keeps.

    Like :func:`quiet_stderr`, but only the lines for which ``drop(line)`` is
    true are lost (by default TensorFlow's C++ log lines, which are written
    straight to descriptor 2 during start-up, before ``TF_CPP_MIN_LOG_LEVEL`` is
    read); everything else, e.g. a warning or an error message, is written to
    stderr when the block ends, also when it ends with an exception. (A process
    that aborts inside the block loses the held-back lines.)
    """
    sys.stderr.flush()
    with tempfile.TemporaryFile() as held:
        saved = os.dup(2)
        try:
            os.dup2(held.fileno(), 2)
            yield
        finally:
            with contextlib.suppress(Exception):
                sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            held.seek(0)
            text = held.read().decode(errors="replace")
            kept = "".join(line for line in text.splitlines(keepends=True) if not drop(line))
            if kept:
                sys.stderr.write(kept)
                sys.stderr.flush()


def start_backend_quietly():
    """Import Keras and start its backend with start-up messages silenced; returns the ``keras`` module."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    with quiet_stderr():
        import keras

        keras.ops.zeros(1)  # the backend searches for devices on first use
    return keras
