"""Graphite (``greplin.scales.graphite``): pushes through the Rust pusher (scales-graphite).

A rule is an fnmatch glob on the slash path without its leading ``/`` (``web/latency/*``)
or, as in the original, a callable: ``allow``/``forbid`` callables are called as
``rule(path, value)`` on each numeric leaf, ``prune`` callables as ``rule(path)`` on every
node; a true result is a match. Rules are checked newest first. Unlike the original, a
pusher with no allow/forbid rule sends everything (the Rust library's default), and a rule
that raises is logged and counts as no match (the original's exception stopped the push).
"""

import fnmatch
import json
import logging
import socket
import time

from greplin.scales import _rs

log = logging.getLogger(__name__)


def _prefix(prefix):
    prefix = prefix or socket.gethostname().lower()
    return prefix.rstrip('.')


def _plain(value):
    """A tree to push as nested dicts of plain values (gauges called, as the original)."""
    if callable(value) and not hasattr(value, 'keys'):
        try:
            value = value()
        except Exception:  # pylint: disable=broad-except
            log.exception('Error when calling stat function for graphite')
            return None
    if isinstance(value, _rs.IntRef):
        return int(value)
    if hasattr(value, 'keys'):
        return dict((str(k), _plain(value[k])) for k in list(value.keys()))
    return value


def _treeValue(tree, path):
    """The value at ``path`` (``web/latency/count``; keys may hold ``/``) in nested dicts."""
    node, rest = tree, path
    while rest:
        if not isinstance(node, dict):
            return None
        if rest in node:
            return node[rest]
        head, _, rest = rest.partition('/')
        if head not in node:
            return None
        node = node[head]
    return node


def _registryValue(path):
    """The value at ``path`` in the registry now."""
    cut = len(path)
    while cut > 0:
        text = _rs.json_text('/' + path[:cut], False)
        if text is not None:
            rest = path[cut + 1:]
            value = json.loads(text)
            value = _treeValue(value, rest) if rest else value
            if value is not None:
                return value
        # A key holding `/` (`byPath//index`): try the shorter paths.
        cut = path.rfind('/', 0, cut)
    return None


class _Matcher(object):
    """A rule as the Rust renderer calls it: ``matcher(path) -> bool``."""

    def __init__(self, kind, rule, valueOf, root):
        self.kind = kind
        self.rule = rule
        self.valueOf = valueOf
        self.root = root

    def __call__(self, path):
        full = self.root + '/' + path if self.root else path
        rule = self.rule
        try:
            if isinstance(rule, str):
                if self.kind == 'doNotLog':
                    literal = rule.strip('/')
                    return full == literal or full.startswith(literal + '/')
                return fnmatch.fnmatchcase(full, rule.lstrip('/'))
            if self.kind == 'prune':
                return bool(rule(full))
            return bool(rule(full, self.valueOf(path)))
        except Exception:  # pylint: disable=broad-except
            log.exception('Graphite rule %r failed on %s', rule, full)
            return False


class GraphitePusher(object):
    """Pushes the whole tree once per ``push()``, in the caller's thread."""

    def __init__(self, host, port, prefix=None):
        self.host = host
        self.port = int(port)
        self.prefix = _prefix(prefix)
        self.rules = []

    def _rule(self, kind, rule):
        if not (isinstance(rule, str) or (callable(rule) and kind != 'doNotLog')):
            raise TypeError('Graphite logging rules must be glob pattern or callable. Invalid: %r'
                            % (rule,))
        self.rules.append((kind, rule))

    def allow(self, rule):
        """Sends the stats whose path matches ``rule`` (a glob, or ``rule(path, value)``)."""
        self._rule('allow', rule)

    def forbid(self, rule):
        """Does not send the stats whose path matches ``rule`` (a glob, or ``rule(path, value)``)."""
        self._rule('forbid', rule)

    def prune(self, rule):
        """Does not descend into the nodes whose path matches ``rule`` (a glob, or ``rule(path)``)."""
        self._rule('prune', rule)

    def doNotLog(self, rule):
        """Never sends the path ``rule`` (and what is below it)."""
        self._rule('doNotLog', rule)

    def _rustRules(self, valueOf, root=''):
        """The rules for the Rust renderer: globs as they are, callables (and every rule when
        the paths start below ``root``) wrapped."""
        out = []
        for kind, rule in self.rules:
            if root or not isinstance(rule, str):
                out.append((kind, _Matcher(kind, rule, valueOf, root)))
            else:
                out.append((kind, rule))
        return out

    def lines(self, timestamp=None, statsDict=None, prefix=None, path=None):
        """The plaintext lines a push sends (see ``push`` for the arguments)."""
        stamp = int(time.time() if timestamp is None else timestamp)
        prefix = self.prefix if prefix is None else prefix
        root = (path or '').strip('/')
        if statsDict is None:
            return _rs.graphite_text(prefix, self._rustRules(_registryValue, root), stamp)
        tree = _plain(statsDict)
        if not isinstance(tree, dict):
            return ''
        rules = self._rustRules(lambda p: _treeValue(tree, p), root)
        return _rs.graphite_text(prefix, rules, stamp, tree)

    def push(self, statsDict=None, prefix=None, path=None):
        """Sends the tree now (one connection, one write).

        As the original: ``statsDict`` is the tree to send (nested dicts, such as
        ``getStats()['web']``; the whole registry when None), ``prefix`` the names' prefix
        (this pusher's when None) and ``path`` the slash path the rules see for
        ``statsDict``'s root (``'/web'``; the root when None).
        """
        data = self.lines(statsDict=statsDict, prefix=prefix, path=path).encode('utf-8')
        if not data:
            return
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
                                          self.period, self._rustRules(_registryValue))

    def stop(self):
        """Stops after a last push."""
        if self._pusher is not None:
            self._pusher.stop()
            self._pusher = None

    def isAlive(self):
        """Whether it is pushing."""
        return self._pusher is not None

    is_alive = isAlive
