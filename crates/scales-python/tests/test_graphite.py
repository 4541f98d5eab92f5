"""Graphite: the lines, a periodic push to a local sink, and (SCALES_E2E=1, as
scripts/test.sh runs it) a push to the real carbon-cache read back from its whisper files."""

import os
import re
import socket
import subprocess
import threading
import time
import uuid

import pytest

from greplin import scales
from greplin.scales import graphite, meter


def _tree():
    stats = scales.collection('/web', scales.IntStat('success'), scales.PmfStat('latency'),
                              meter.MeterStat('hits'), scales.Stat('state', 'up'))
    stats.success += 7
    for v in (0.001, 0.002, 0.003):
        stats.latency = v
    stats.hits.mark(3)
    return stats


def _parse(text):
    out = {}
    for line in text.splitlines():
        name, value, stamp = line.split(' ')
        out[name] = (float(value), int(stamp))
    return out


def test_lines_and_rules():
    stats = _tree()
    pusher = graphite.GraphitePusher('127.0.0.1', 1, 'my.prefix')
    lines = _parse(pusher.lines(timestamp=1400000000))
    assert lines['my.prefix.web.success'] == (7.0, 1400000000)
    assert lines['my.prefix.web.latency.count'][0] == 3
    assert lines['my.prefix.web.latency.max'][0] == pytest.approx(0.003, rel=0.01)  # not 0.00
    assert 'my.prefix.web.hits.count' in lines
    assert not any(name.endswith('.state') for name in lines)  # strings are not sent
    pusher.forbid('web/latency/*')
    lines = _parse(pusher.lines(timestamp=1400000000))
    assert 'my.prefix.web.success' in lines
    assert not any('.latency.' in name for name in lines)
    with pytest.raises(TypeError, match='must be glob pattern or callable'):
        pusher.allow(42)
    with pytest.raises(TypeError):
        pusher.doNotLog(lambda path: True)
    del stats


def test_callable_rules():
    stats = _tree()
    seen = []

    def big(path, value):
        seen.append((path, value))
        return isinstance(value, int) and value > 2

    pusher = graphite.GraphitePusher('127.0.0.1', 1, 'p')
    pusher.forbid('*')
    pusher.allow(big)  # newest first: checked before the forbid
    lines = _parse(pusher.lines(timestamp=1))
    assert set(lines) == {'p.web.success', 'p.web.latency.count', 'p.web.hits.count'}
    # Called with the slash path without its leading / and the leaf's value.
    assert ('web/success', 7) in seen and ('web/latency/count', 3) in seen
    assert any(path == 'web/latency/max' and abs(value - 0.003) < 1e-4 for path, value in seen)
    # A newer callable forbid wins over the allow; prune callables get the path only.
    pusher.forbid(lambda path, value: path.startswith('web/hits'))
    pruned = []
    pusher.prune(lambda path: pruned.append(path) or path == 'web/latency')
    assert set(_parse(pusher.lines(timestamp=1))) == {'p.web.success'}
    assert 'web' in pruned and 'web/latency' in pruned and 'web/latency/count' not in pruned
    del stats


def test_callable_rule_gets_values_of_keys_with_slashes():
    stats = scales.collection('/handler', scales.IntDictStat('byPath'))
    stats.byPath['/index'] += 2
    seen = []
    pusher = graphite.GraphitePusher('127.0.0.1', 1, 'p')
    pusher.allow(lambda path, value: seen.append((path, value)) or True)
    assert _parse(pusher.lines(timestamp=1)) == {'p.handler.byPath._index': (2.0, 1)}
    assert seen == [('handler/byPath//index', 2)]
    del stats


def test_failing_rule_is_logged_and_matches_nothing(caplog):
    stats = _tree()
    pusher = graphite.GraphitePusher('127.0.0.1', 1, 'p')

    def broken(path, value):
        raise RuntimeError('boom')

    pusher.forbid(broken)
    with caplog.at_level('ERROR', logger='greplin.scales.graphite'):
        lines = _parse(pusher.lines(timestamp=1))
    assert 'p.web.success' in lines  # no match: the default (send) decides
    assert any('boom' in (r.exc_text or '') or 'failed' in r.getMessage() for r in caplog.records)
    del stats


class _Sink(object):
    """A carbon stand-in: accepts a connection and keeps what it sends until it closes (or,
    with `until`, until what was received matches that pattern)."""

    def __init__(self, until=None):
        self.until = until
        self.server = socket.socket()
        self.server.bind(('127.0.0.1', 0))
        self.server.listen(5)
        self.server.settimeout(20)
        self.port = self.server.getsockname()[1]
        self.received = []
        self.thread = threading.Thread(target=self._accept)
        self.thread.start()

    def _accept(self):
        conn, _ = self.server.accept()
        conn.settimeout(20)
        while not (self.until and re.search(self.until, b''.join(self.received))):
            chunk = conn.recv(65536)
            if not chunk:
                break
            self.received.append(chunk)
        conn.close()

    def text(self):
        self.thread.join(25)
        self.server.close()
        return b''.join(self.received).decode()


def test_periodic_pusher_runs_callable_rules():
    stats = _tree()
    sink = _Sink(until=rb'cb\.web\.success [^\n]*\n')
    calls = []
    pusher = graphite.GraphitePeriodicPusher('127.0.0.1', sink.port, 'cb', period=1)
    pusher.forbid(lambda path, value: calls.append(path) or path.startswith('web/latency'))
    pusher.start()
    text = sink.text()
    pusher.stop()
    names = set(_parse(text.rsplit('\n', 1)[0] + '\n'))
    assert 'cb.web.success' in names
    assert not any('.latency.' in name for name in names)
    assert 'web/latency/count' in calls  # called from the pusher's thread
    del stats


def test_push_with_the_originals_arguments():
    stats = _tree()
    sink = _Sink()
    pusher = graphite.GraphitePusher('127.0.0.1', sink.port, 'default')
    pusher.forbid('top/web/hits/*')  # rules see `path` as the root of statsDict
    pusher.forbid(lambda path, value: path == 'top/gauge' and value == 11)
    tree = scales.getStats()
    tree['gauge'] = lambda: 11
    tree['other'] = {'n': 4, 'flag': True, 'name': 'x', 'gauge': lambda: 12}
    pusher.push(tree, 'given.prefix.', '/top')
    lines = _parse(sink.text())
    assert lines['given.prefix.web.success'][0] == 7
    assert lines['given.prefix.other.n'][0] == 4
    assert lines['given.prefix.other.gauge'][0] == 12  # gauges are called
    assert 'given.prefix.gauge' not in lines  # forbidden by value
    assert not any('.hits.' in name for name in lines)
    assert not any(name.endswith(('.flag', '.name')) for name in lines)  # only numbers
    assert not any(name.startswith('default.') for name in lines)
    del stats


def test_push_defaults_push_the_registry():
    stats = _tree()
    sink = _Sink()
    graphite.GraphitePusher('127.0.0.1', sink.port, 'dflt').push()
    lines = _parse(sink.text())
    assert lines['dflt.web.success'][0] == 7
    assert lines['dflt.web.latency.count'][0] == 3
    del stats


def test_periodic_push_to_a_sink():
    stats = _tree()
    sink = _Sink(until=rb'sink\.web\.success [^\n]*\n')
    pusher = graphite.GraphitePeriodicPusher('127.0.0.1', sink.port, 'sink', period=1)
    pusher.allow('*')
    pusher.start()
    text = sink.text()
    pusher.stop()
    lines = _parse(text[:text.rindex('\n')])
    assert lines['sink.web.success'][0] == 7
    del stats


@pytest.mark.skipif(os.environ.get('SCALES_E2E') != '1', reason='SCALES_E2E=1 runs it against carbon')
def test_push_to_carbon_read_back_from_whisper():
    addr = os.environ.get('CARBON_ADDR')
    root = os.environ.get('CARBON_DIR')
    assert addr and root, 'SCALES_E2E=1 but CARBON_ADDR/CARBON_DIR are not set (scripts/services/carbon.sh)'
    host, port = addr.rsplit(':', 1)
    prefix = 'pytest.py%s' % uuid.uuid4().hex[:10]
    stats = _tree()
    pusher = graphite.GraphitePeriodicPusher(host, int(port), prefix, period=1)
    pusher.start()
    path = os.path.join(root, 'storage', 'whisper', *prefix.split('.'), 'web', 'success.wsp')
    script = ('import sys, time, whisper\n'
              '(start, end, step), values = whisper.fetch(sys.argv[1], int(time.time()) - 600)\n'
              'print([v for v in values if v is not None])\n')
    seen = None
    deadline = time.time() + 60
    try:
        while time.time() < deadline:
            if os.path.exists(path):
                out = subprocess.run(['/usr/bin/python3', '-c', script, path], check=True,
                                     capture_output=True, text=True).stdout
                seen = eval(out)  # a printed list of floats  # pylint: disable=eval-used
                if seen:
                    break
            time.sleep(0.5)
    finally:
        pusher.stop()
    assert seen and seen[-1] == 7.0, (path, seen)
    del stats


def _whisper_values(path):
    script = ('import sys, time, whisper\n'
              '(start, end, step), values = whisper.fetch(sys.argv[1], int(time.time()) - 600)\n'
              'print([v for v in values if v is not None])\n')
    out = subprocess.run(['/usr/bin/python3', '-c', script, path], check=True,
                         capture_output=True, text=True).stdout
    return eval(out)  # a printed list of floats  # pylint: disable=eval-used


@pytest.mark.skipif(os.environ.get('SCALES_E2E') != '1', reason='SCALES_E2E=1 runs it against carbon')
def test_push_dict_with_callable_rule_to_carbon():
    addr = os.environ.get('CARBON_ADDR')
    root = os.environ.get('CARBON_DIR')
    assert addr and root, 'SCALES_E2E=1 but CARBON_ADDR/CARBON_DIR are not set (scripts/services/carbon.sh)'
    host, port = addr.rsplit(':', 1)
    prefix = 'pytest.pyrules%s' % uuid.uuid4().hex[:10]
    pusher = graphite.GraphitePusher(host, int(port))
    pusher.forbid(lambda path, value: path.endswith('secret'))
    pusher.push({'app': {'kept': 42, 'secret': 7}}, prefix + '.', '/')
    whisper = os.path.join(root, 'storage', 'whisper', *prefix.split('.'), 'app')
    deadline = time.time() + 60
    seen = None
    while time.time() < deadline:
        if os.path.exists(os.path.join(whisper, 'kept.wsp')):
            seen = _whisper_values(os.path.join(whisper, 'kept.wsp'))
            if seen:
                break
        time.sleep(0.5)
    assert seen and seen[-1] == 42.0, (whisper, seen)
    assert not os.path.exists(os.path.join(whisper, 'secret.wsp'))
