import os

import pytest

# Before Qt is imported anywhere: tests never need a screen.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# numpy's BLAS threads fight torch's for the two cores.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


_exit_status = 0


def pytest_sessionfinish(session, exitstatus):
    global _exit_status
    _exit_status = int(exitstatus)


@pytest.hookimpl(trylast=True)  # after every other plugin has finished its work
def pytest_unconfigure(config):
    # The summary is printed by now. Interpreter teardown then destroys Qt's application
    # and torch's native state in no defined order, and once segfaulted after a green run
    # of the whole suite (exit 139, so CI would fail a passing run). Leave before it.
    import sys
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(_exit_status)
