"""Utilities of the original ``greplin.scales.util`` that user code and its tests touch."""

import threading


def lookup(source, keys, fallback=None):
    """Chained ``[]``: ``lookup(d, ['a', 'b'])`` is ``d['a']['b']``, or ``fallback`` when missing."""
    try:
        for key in keys:
            source = source[key]
        return source
    except (KeyError, AttributeError, TypeError):
        return fallback


class AtomicValue(object):
    """A value guarded by a lock."""

    def __init__(self, val):
        self._value = val
        self._lock = threading.RLock()

    def update(self, function):
        """Atomically replaces the value with ``function(value)``; returns ``(old, new)``."""
        with self._lock:
            old = self._value
            self._value = function(old)
            return old, self._value

    def getAndSet(self, newVal):
        """Sets the value and returns the old one."""
        return self.update(lambda _: newVal)[0]

    def addAndGet(self, val):
        """Adds to the value and returns the new one."""
        return self.update(lambda x: x + val)[1]

    @property
    def value(self):
        """The current value."""
        return self._value
