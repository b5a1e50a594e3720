"""Holding a Ctrl-C over a step that must not be cut short."""
from __future__ import annotations

import contextlib
import signal
import threading


@contextlib.contextmanager
def deferred_interrupt():
    """Hold a Ctrl-C (SIGINT) that arrives during the block and raise it once the block is done.

    scipy builds its Sobol' direction-number tables once per process, in compiled code that
    does not pass an interrupt on: cut short, the tables stay incomplete and a seeded design
    silently differs afterwards.  Outside the main thread (where Python cannot set handlers)
    the block runs as it is."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: caught.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler if previous is None else previous)
    if caught:
        raise KeyboardInterrupt
