import os

import pytest

from kgan_utils.config import quiet_stderr


def test_quiet_stderr_silences_descriptor_2_and_restores_it(capfd):
    with quiet_stderr():
        os.write(2, b"driver noise\n")
    os.write(2, b"after\n")
    assert capfd.readouterr().err == "after\n"


def test_quiet_stderr_lets_exceptions_through(capfd):
    with pytest.raises(RuntimeError, match="boom"):
        with quiet_stderr():
            raise RuntimeError("boom")
    os.write(2, b"still here\n")
    assert "still here" in capfd.readouterr().err
