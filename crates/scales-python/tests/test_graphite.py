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
    with pytest.raises(TypeError):
        pusher.allow(lambda path, value: True)
    del stats


def test_periodic_push_to_a_sink():
    stats = _tree()
    server = socket.socket()
    server.bind(('127.0.0.1', 0))
    server.listen(5)
    server.settimeout(20)
    received = []

    def accept():
        conn, _ = server.accept()
        conn.settimeout(20)
        while not re.search(rb'sink\.web\.success [^\n]*\n', b''.join(received)):
            chunk = conn.recv(65536)
            if not chunk:
                break
            received.append(chunk)
        conn.close()

    thread = threading.Thread(target=accept)
    thread.start()
    pusher = graphite.GraphitePeriodicPusher('127.0.0.1', server.getsockname()[1], 'sink', period=1)
    pusher.allow('*')
    pusher.start()
    thread.join(25)
    pusher.stop()
    server.close()
    text = b''.join(received).decode()
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
