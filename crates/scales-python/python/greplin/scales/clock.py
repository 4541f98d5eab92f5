"""Clocks (``greplin.scales.clock``): what the sample classes read the time from."""

import time


class BasicClock(object):
    """The wall clock, ``time.time()``."""

    def time(self):
        """Seconds since the epoch."""
        return time.time()


def getClock():
    """A new wall clock."""
    return BasicClock()
