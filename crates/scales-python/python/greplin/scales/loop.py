"""Periodic stat dumps (``greplin.scales.loop``)."""

from greplin import scales
from greplin.scales import timer


def installStatsLoop(statsFile, statsDelay):  # pylint: disable=invalid-name
    """Writes the stats to ``statsFile`` (``scales.dumpStatsTo``) every ``statsDelay``
    seconds, the first time ``statsDelay`` seconds from now, from a daemon thread.

    Returns the timer (``timer.RepeatTimer``'s id): ``.stop()`` ends the dumps. A dump that
    fails (a missing directory) is logged and the next one is tried.
    """
    return timer.RepeatTimer(statsDelay, scales.dumpStatsTo, 0, statsFile)
