"""Run-time switches of the book, read in one place.

The book has one switch: **smoke mode**. When the environment variable
``KGAN_SMOKE`` is set to ``1`` (or ``true``/``yes``), every notebook shrinks its
data and its number of epochs so that the whole book executes in CI in minutes.
The stored outputs of the book always come from a full run (``KGAN_SMOKE`` unset).
"""

from __future__ import annotations

import contextlib
import os

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


def start_backend_quietly():
    """Import Keras and start its backend with start-up messages silenced; returns the ``keras`` module."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    with quiet_stderr():
        import keras

        keras.ops.zeros(1)  # the backend searches for devices on first use
    return keras
