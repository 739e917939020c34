"""Run-time switches of the book, read in one place.

The book has one switch: **smoke mode**. When the environment variable
``KGAN_SMOKE`` is set to ``1`` (or ``true``/``yes``), every notebook shrinks its
data and its number of epochs so that the whole book executes in CI in minutes.
The stored outputs of the book always come from a full run (``KGAN_SMOKE`` unset).
"""

from __future__ import annotations

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
