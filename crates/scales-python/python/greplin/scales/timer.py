"""Calls repeated on a background thread (``greplin.scales.timer``)."""

import logging
import threading

log = logging.getLogger(__name__)


class _RepeatTimerId(int):
    """What ``RepeatTimer`` returns: the thread's id (an int, as the original returned),
    which can also stop the timer and wait for it."""

    def stop(self):
        """Makes no further call (a call under way finishes)."""
        self._stopped.set()

    cancel = stop

    def join(self, timeout=None):
        """Waits for the thread to end (after its last call, or ``stop()``)."""
        self._thread.join(timeout)

    def is_alive(self):
        """Whether calls may still come."""
        return self._thread.is_alive()

    @property
    def calls(self):
        """How many calls were made."""
        return self._calls[0]


def RepeatTimer(interval, function, iterations=0, *args, **kwargs):  # pylint: disable=invalid-name
    """Calls ``function(*args, **kwargs)`` every ``interval`` seconds on a daemon thread, the
    first call one interval from now, ``iterations`` times (0 or less: until stopped).

    Returns the thread's id, an int with ``stop()``, ``join(timeout=None)``, ``is_alive()``
    and ``calls``. A call that raises is logged on ``greplin.scales.timer``; the calls go on.
    """
    stopped = threading.Event()
    calls = [0]

    def repeat():
        while iterations <= 0 or calls[0] < iterations:
            if stopped.wait(interval):
                return
            try:
                function(*args, **kwargs)
            except Exception:  # pylint: disable=broad-except
                log.exception('Repeated call of %r failed', function)
            calls[0] += 1

    thread = threading.Thread(target=repeat, name='scales-repeat-timer')
    thread.daemon = True
    thread.start()
    handle = _RepeatTimerId(thread.ident)
    handle._thread = thread  # pylint: disable=protected-access
    handle._stopped = stopped  # pylint: disable=protected-access
    handle._calls = calls  # pylint: disable=protected-access
    return handle
