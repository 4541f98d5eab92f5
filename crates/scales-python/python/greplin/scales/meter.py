"""Meters: counts and 1/5/15-minute rates (``greplin.scales.meter``), on the Rust core.

The rates are computed by the core when the tree is read; no ticker thread is started.
"""

from greplin.scales import _Proxy, _StructuredStat, _NamedPmfEntry  # noqa: F401

TICKERS = []  # the original's ticker list; nothing ticks from Python
TICKER_THREAD = None


class MeterStatDict(_Proxy):
    """A MeterStat's value: ``mark(n=1)``, and ``count``, ``m1``, ``m5``, ``m15``."""

    def mark(self, value=1):
        """Marks ``value`` events."""
        self._h.mark(value)


class MeterStat(_StructuredStat):
    """A meter: ``stat.mark()``, ``stat.mark(n)``, or assigning ``n`` marks n events."""

    _proxyClass = MeterStatDict

    def _declare(self, container):
        return container.scope.meter_stat(self._name)

    def __set__(self, instance, value):
        self._fastHandle(instance).mark(int(value))


class _MeterEntry(object):
    """One key of a MeterDictStat."""

    def __init__(self, handle, key):
        self._h = handle
        self._key = key

    def mark(self, value=1):
        """Marks ``value`` events under this key."""
        self._h.mark(self._key, int(value))


class MeterDict(_Proxy):
    """Meters by key: ``d[key].mark()``; ``d[key] = n`` marks n events."""

    def __getitem__(self, key):
        return _MeterEntry(self._h, str(key))

    def __setitem__(self, key, value):
        self._h.mark(str(key), int(value))


class MeterDictStat(_StructuredStat):
    """Meters by key."""

    _proxyClass = MeterDict

    def _declare(self, container):
        return container.scope.meter_dict_stat(self._name)
