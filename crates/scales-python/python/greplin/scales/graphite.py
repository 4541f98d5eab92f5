"""Graphite (``greplin.scales.graphite``): pushes through the Rust pusher (scales-graphite).

Rules are fnmatch globs on the slash path without its leading ``/`` (``web/latency/*``),
newest first, as in the original; callables are not supported. Unlike the original, a
pusher with no rule sends everything (the Rust library's default).
"""

import socket
import time

from greplin.scales import _rs


def _prefix(prefix):
    prefix = prefix or socket.gethostname().lower()
    return prefix.rstrip('.')


class GraphitePusher(object):
    """Pushes the whole tree once per ``push()``, in the caller's thread."""

    def __init__(self, host, port, prefix=None):
        self.host = host
        self.port = int(port)
        self.prefix = _prefix(prefix)
        self.rules = []

    def _rule(self, kind, rule):
        if callable(rule) or not isinstance(rule, str):
            raise TypeError('Graphite logging rules must be glob patterns. Invalid: %r' % (rule,))
        self.rules.append((kind, rule))

    def allow(self, rule):
        """Sends the stats whose path matches ``rule``."""
        self._rule('allow', rule)

    def forbid(self, rule):
        """Does not send the stats whose path matches ``rule``."""
        self._rule('forbid', rule)

    def prune(self, rule):
        """Does not descend into the branches whose path matches ``rule``."""
        self._rule('prune', rule)

    def doNotLog(self, rule):
        """Never sends the path ``rule`` (and what is below it)."""
        self._rule('doNotLog', rule)

    def lines(self, timestamp=None):
        """The plaintext lines a push sends."""
        stamp = int(time.time() if timestamp is None else timestamp)
        return _rs.graphite_text(self.prefix, list(self.rules), stamp)

    def push(self, statsDict=None, prefix=None, path=None):
        """Sends the tree now (one connection, one write)."""
        del statsDict, prefix, path
        data = self.lines().encode('utf-8')
        with socket.create_connection((self.host, self.port), timeout=5) as sock:
            sock.sendall(data)


class GraphitePeriodicPusher(GraphitePusher):
    """Pushes every ``period`` seconds from the Rust pusher's background thread."""

    def __init__(self, host, port, prefix=None, period=60):
        GraphitePusher.__init__(self, host, port, prefix)
        self.period = float(period)
        self._pusher = None
        self.daemon = True

    def start(self):
        """Starts pushing (the first push after one period)."""
        self._pusher = _rs.graphite_start('%s:%d' % (self.host, self.port), self.prefix,
                                          self.period, list(self.rules))

    def stop(self):
        """Stops after a last push."""
        if self._pusher is not None:
            self._pusher.stop()
            self._pusher = None

    def isAlive(self):
        """Whether it is pushing."""
        return self._pusher is not None

    is_alive = isAlive
