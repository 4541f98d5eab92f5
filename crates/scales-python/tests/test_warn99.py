"""warn99: a timer warns when its block took at least the distribution's 99th percentile."""

import time

from greplin import scales


class Recorder(object):
    """A logger that keeps what it was asked to warn."""

    def __init__(self):
        self.messages = []

    def warning(self, msg, *args):
        self.messages.append(msg % args)


class OldLogger(object):
    """Only the original's ``warn`` (what it called)."""

    def __init__(self):
        self.messages = []

    def warn(self, msg, *args):
        self.messages.append(msg % args)


def _stats():
    return scales.collection('/warn', scales.PmfStat('latency'), scales.NamedPmfDictStat('byName'))


def test_percentile99_none_before_two_values():
    stats = _stats()
    assert stats.latency.percentile99 is None
    stats.latency = 0.5
    assert stats.latency.percentile99 is None
    stats.latency = 0.5
    assert abs(stats.latency.percentile99 - 0.5) < 0.5 * 0.01


def test_no_warning_before_two_values():
    stats = _stats()
    log = Recorder()
    stats.latency = 0.000001
    with stats.latency.time() as t:
        t.warn99(log, 'slow %s', 'request')
        time.sleep(0.005)
    assert log.messages == []
    assert scales.getStats()['warn']['latency']['count'] == 2


def test_warns_at_or_over_p99_only():
    stats = _stats()
    log = Recorder()
    for _ in range(10):
        stats.latency = 0.001
    with stats.latency.time() as t:
        t.warn99(log, 'slow %s took %d', 'GET /', 42)
        time.sleep(0.01)
    assert log.messages == ['slow GET / took 42']
    # Now p99 is about 10 ms: a fast block does not warn, and still records.
    with stats.latency.time() as t:
        t.warn99(log, 'fast')
    assert log.messages == ['slow GET / took 42']
    assert scales.getStats()['warn']['latency']['count'] == 12


def test_discarded_block_neither_records_nor_warns():
    stats = _stats()
    log = Recorder()
    stats.latency = 0.0001
    stats.latency = 0.0001
    with stats.latency.time() as t:
        t.warn99(log, 'slow')
        time.sleep(0.002)
        t.discard()
    assert log.messages == []
    assert scales.getStats()['warn']['latency']['count'] == 2


def test_logger_with_only_warn_and_named_pmf():
    stats = _stats()
    log = OldLogger()
    stats.byName['db'] = 0.0001
    stats.byName['db'] = 0.0001
    assert stats.byName['db'].percentile99 is not None
    with stats.byName['db'].time() as t:
        t.warn99(log, 'slow db')
        time.sleep(0.002)
    assert log.messages == ['slow db']
