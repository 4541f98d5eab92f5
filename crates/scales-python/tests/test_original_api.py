"""The rest of the original's API: util.EWMA, util.GraphiteReporter, formats._utf8str,
timer.RepeatTimer, loop.installStatsLoop, PmfStatDict(sample=...) / PmfStat(sample=...)."""

import io
import json
import socket
import threading
import time

import pytest

from greplin import scales
from greplin.scales import formats, loop, samplestats, timer, util


def _until(predicate, timeout=5.0):
    """Polls ``predicate`` every 5 ms until true (False after ``timeout`` seconds)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.005)
    return predicate()


def test_ewma_rates_after_ticks():
    # The original's verified numbers: 60 events then a tick give 12/s on all three; after
    # 11 quiet ticks (a minute) the averages have decayed at their own speeds.
    meters = [util.EWMA.oneMinute(), util.EWMA.fiveMinute(), util.EWMA.fifteenMinute()]
    assert [m.rate for m in meters] == [0, 0, 0]
    assert meters[0].alpha == pytest.approx(0.07995558537067671, rel=1e-15)
    assert meters[1].alpha == pytest.approx(0.01652854617838251, rel=1e-15)
    assert meters[2].alpha == pytest.approx(0.005540151995103271, rel=1e-15)
    for m in meters:
        m.update(60)
        m.tick()
    assert [m.rate for m in meters] == [12.0, 12.0, 12.0]
    for _ in range(11):
        for m in meters:
            m.tick()
    expected = [4.798195852138171, 9.98988735133923, 11.288624516013778]
    for m, want in zip(meters, expected):
        assert m.rate == pytest.approx(want, rel=1e-12)
    # The first tick sets the rate even when it is 0; later ones move by alpha.
    e = util.EWMA(0.5, 2)
    e.tick()
    e.update(8)
    e.tick()
    assert e.rate == 2.0 and util.EWMA.TICK_RATE == 5


class _Carbon(object):
    """A one-connection plaintext listener collecting what it receives."""

    def __init__(self):
        self.server = socket.socket()
        self.server.bind(('127.0.0.1', 0))
        self.server.listen(1)
        self.server.settimeout(5)
        self.port = self.server.getsockname()[1]
        self.data = b''
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        conn, _ = self.server.accept()
        conn.settimeout(5)
        with conn:
            while True:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                self.data += chunk

    def close(self):
        self.thread.join(5)
        self.server.close()


def test_graphite_reporter_sends_lines_now_and_from_its_queue():
    carbon = _Carbon()
    reporter = util.GraphiteReporter('127.0.0.1', carbon.port, maxQueueSize=2)
    assert reporter.daemon
    reporter.log('web.hits', 3, stamp=100)
    reporter.log('web lat', 0.000123, 'mean', stamp=100)  # full precision, space -> '-'
    reporter.log('skipped', float('nan'), stamp=100)
    reporter.log('skipped', True, stamp=100)
    reporter.enqueue('q.a', 1, '.count', stamp=200)
    reporter.enqueue('q.b', 2.5, stamp=200)
    reporter.enqueue('q.dropped', 3, stamp=200)  # the queue holds 2
    assert reporter.dropped == 1
    reporter.start()
    reporter.flush()
    reporter.shutdown()
    assert not reporter.is_alive() and reporter.sock is None
    carbon.close()
    assert carbon.data.decode() == ('web.hits 3 100\n'
                                    'web-lat.mean 0.000123 100\n'
                                    'q.a.count 1 200\n'
                                    'q.b 2.5 200\n')


def test_utf8str():
    assert formats._utf8str('萬知堂') == '萬知堂'
    assert formats._utf8str('萬'.encode('utf-8')) == '萬'
    assert formats._utf8str(b'\xc2\xc2 ROAR') == '\ufffd\ufffd ROAR'
    assert formats._utf8str(1.5) == '1.5' and formats._utf8str(None) == 'None'


def test_repeat_timer_fires_n_times_and_stops():
    calls = []
    done = threading.Event()

    def record(tag, extra=None):
        calls.append((tag, extra))
        if len(calls) == 3:
            done.set()

    started = time.monotonic()
    tid = timer.RepeatTimer(0.01, record, 3, 'tick', extra=1)
    assert isinstance(tid, int) and tid == tid._thread.ident
    assert done.wait(5)
    tid.join(5)
    assert not tid.is_alive()
    assert calls == [('tick', 1)] * 3 and tid.calls == 3
    assert time.monotonic() - started >= 0.025  # each call an interval after the last

    # Forever (iterations=0) until stopped; a call that raises does not end it.
    count = [0]

    def flaky():
        count[0] += 1
        if count[0] == 1:
            raise RuntimeError('first call fails')

    forever = timer.RepeatTimer(0.005, flaky)
    assert _until(lambda: count[0] >= 3)
    forever.stop()
    forever.join(5)
    assert not forever.is_alive()
    stopped_at = count[0]
    time.sleep(0.02)
    assert count[0] == stopped_at


def test_install_stats_loop_dumps_periodically(tmp_path):
    target = tmp_path / 'stats.json'
    stats = scales.collection('/loop', scales.IntStat('n'))
    stats.n = 1

    def dumped_n():
        try:
            return json.loads(target.read_text())['loop']['n']
        except (OSError, ValueError, KeyError):
            return None

    handle = loop.installStatsLoop(str(target), 0.02)
    try:
        assert _until(lambda: dumped_n() == 1)
        stats.n = 2  # a later dump writes the new value
        assert _until(lambda: dumped_n() == 2)
        assert _until(lambda: handle.calls >= 2)
    finally:
        handle.stop()
        handle.join(5)
    assert not handle.is_alive()


def test_pmf_stat_dict_with_a_sample():
    # Made directly, as the original's PmfStatDict(sample): values go to the sampler.
    sample = samplestats.UniformSample()
    d = scales.PmfStatDict(sample=sample)
    assert d['count'] == 0 and dict(d) == {'count': 0} and d.percentile99 is None
    for v in (1, 2, 3, 4):
        d.addValue(v)
    assert len(sample) == 4 and d['count'] == 4
    assert d['min'] == 1.0 and d['max'] == 4.0 and d['mean'] == 2.5
    assert d['median'] == sample.percentiles([0.5])[0] == 2.5
    assert d['999percentile'] == 4.0 and d['nope'] == 0.0
    assert list(d.keys()) == ['count', 'min', 'max', 'mean', 'stddev', 'median', '75percentile',
                              '95percentile', '98percentile', '99percentile', '999percentile']
    with d.time() as t:
        pass
    assert d['count'] == 5 and t.elapsed() >= 0
    with d.time() as t:
        t.discard()
    assert d['count'] == 5
    assert scales.PmfStatDict()['count'] == 0  # default: a Sketch

    # On a class: one sampler per object from a factory; the tree shows its summary.
    class Server(object):
        latency = scales.PmfStat('latency', sample=lambda: samplestats.UniformSample(size=2))

        def __init__(self, name):
            scales.init(self, '/servers/' + name)

    a, b = Server('a'), Server('b')
    for v in (10, 20, 30):
        a.latency = v
    b.latency.addValue(7)
    assert a.latency.sample is not b.latency.sample and len(a.latency.sample) == 2
    tree = scales.getStats()['servers']
    assert tree['a']['latency']['count'] == 3 and tree['a']['latency']['min'] == 10.0
    assert tree['b']['latency'] == dict(b.latency)
    assert json.loads(_json())['servers']['b']['latency']['max'] == 7.0

    # warn99 against the sampler's p99 of the earlier values.
    class Log(object):
        def __init__(self):
            self.messages = []

        def warning(self, msg, *args):
            self.messages.append(msg % args)

    logger = Log()
    fast = scales.PmfStatDict(samplestats.UniformSample())
    with fast.time() as t:
        t.warn99(logger, 'no p99 yet')
    fast.addValue(0.0)
    fast.addValue(0.0)
    with fast.time() as t:
        t.warn99(logger, 'slow %s', 'b')
        time.sleep(0.002)
    assert logger.messages == ['slow b'] and fast['count'] == 4


def _json():
    out = io.StringIO()
    formats.jsonFormat(out)
    return out.getvalue()
