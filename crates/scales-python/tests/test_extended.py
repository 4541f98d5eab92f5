"""Every other stat type, against the extended part of the original's golden output
(tests/data/all.json), where the original's numbers were right."""

import io
import json
import os
import time

from greplin import scales
from greplin.scales import formats
from greplin.scales.meter import MeterDictStat

DATA = os.path.join(os.path.dirname(__file__), 'data')


class Everything(object):
    dbl = scales.DoubleStat('double')
    strs = scales.StringDictStat('strings')
    named = scales.NamedPmfDictStat('namedPmf')
    stt = scales.StateTimeStat('stateTime')
    meters = MeterDictStat('meterDict')
    plain = scales.Stat('plain')
    auto = scales.IntDictStat('autoDeleted', autoDelete=True)
    zero = scales.IntStat('zero')

    def __init__(self):
        scales.init(self, '/extended')


class Parent(object):
    errs = scales.IntDictSumAggregationStat('errors')
    total = scales.SumAggregationStat('total')

    def __init__(self):
        scales.init(self, '/extended/aggregate')

    def child(self, name):
        return Kid(name)


class Kid(object):
    errs = scales.IntDictStat('errors')
    total = scales.IntStat('total')

    def __init__(self, name):
        scales.initChild(self, name)


class Hidden(object):
    count = scales.IntStat('count')

    def __init__(self):
        scales.init(self, '/extended/hidden')


def test_extended_matches_golden():
    golden = json.load(open(os.path.join(DATA, 'all.json')))['extended']
    e = Everything()
    e.dbl += 2.5
    e.strs['color'] = 'blue'
    e.strs['html'] = '<b>&"quoted"</b>\nsecond line'
    for v in (1.0, 2.0, 3.0):
        e.named['a'] = v
    e.named['b'] = 7.0
    e.stt = 'idle'
    time.sleep(0.2)
    e.stt = 'busy'
    time.sleep(0.3)
    e.stt = 'idle'
    e.meters['GET'].mark(10)
    e.meters['POST'].mark(1)
    e.plain = None
    e.zero = 0
    e.auto['x'] += 1
    e.auto['y'] += 1
    e.auto['y'] -= 1
    par = Parent()
    k1, k2 = par.child('k1'), par.child('k2')
    k1.errs['404'] += 2
    k2.errs['404'] += 3
    k2.errs['500'] += 1
    k1.total += 10
    k2.total += 5
    hidden = Hidden()
    hidden.count += 7
    scales.setCollapsed('/extended/hidden')
    gauges = scales.collection('/extended/gauges',
                               scales.Stat('dictGauge', lambda: {'a': 1, 'b': 'two'}),
                               scales.Stat('floatGauge', lambda: 0.1 + 0.2))
    out = io.StringIO()
    formats.jsonFormat(out)
    ours = json.loads(out.getvalue())['extended']
    for key in ('double', 'strings', 'plain', 'zero', 'autoDeleted', 'aggregate', 'gauges'):
        assert ours[key] == golden[key], key
    assert 'hidden' not in ours  # collapsed
    # Correct statistics where the original reported the first two values (its 20 s refresh)
    assert ours['namedPmf']['a']['count'] == 3
    assert ours['namedPmf']['a']['max'] == 3.0 and ours['namedPmf']['a']['mean'] == 2.0
    assert ours['namedPmf']['b']['count'] == 1 and ours['namedPmf']['b']['min'] == 7.0
    assert ours['meterDict']['GET']['count'] == 10 and ours['meterDict']['POST']['count'] == 1
    assert abs(ours['stateTime']['idle'] - 0.2) < 0.15 and abs(ours['stateTime']['busy'] - 0.3) < 0.15
    assert scales.getStats()['extended']['hidden'] == {'count': 7}  # still in the copy
    del e, par, k1, k2, hidden, gauges


class Pool(object):
    inUse = scales.StateTimeStat('inUse')

    def __init__(self):
        scales.init(self, '/pool')


def test_state_time_acquire():
    pool = Pool()
    with pool.inUse.acquire():
        time.sleep(0.05)
        with pool.inUse.acquire():
            time.sleep(0.05)
    data = scales.getStats()['pool']['inUse']
    assert set(data) >= {'1', '2'}
    assert data['1'] > 0.03 and data['2'] > 0.03


def test_timer_discard_and_logger():
    messages = []

    class Thing(object):
        latency = scales.PmfStat('latency')
        name = scales.Stat('name').logger(messages.append)
        count = scales.IntStat('count').logger(messages.append)

        def __init__(self):
            scales.init(self, '/thing')

    t = Thing()
    with t.latency.time() as timer:
        timer.discard()
    with t.latency.time():
        pass
    t.name = 'x'
    t.count += 2
    assert scales.getStats()['thing']['latency']['count'] == 1
    assert messages == ['Updated stat "name" with value: x', 'Updated stat "count" with value: 2']
    assert t.latency['count'] == 1


def test_int_dict_keys_of_every_kind_count_by_their_text():
    """str keys are read in place, other keys by their str(); equal text is one key."""

    class Handler(object):
        byKey = scales.IntDictStat("byKey")

        def __init__(self):
            scales.init(self, "/keyKinds")

    h = Handler()
    h.byKey["a"] += 1
    h.byKey[404] += 2
    h.byKey["404"] += 1
    first, second = "".join(["x", "y"]), "".join(["x", "y"])
    assert first is not second
    h.byKey[first] += 1
    h.byKey[second] = h.byKey[first] + 1  # the same key under another object: now 2
    h.byKey["é€"] += 3
    h.byKey["b"] = 5
    h.byKey["b"] -= 1
    assert dict(h.byKey._read()) == {"a": 1, "404": 3, "xy": 2, "é€": 3, "b": 4}
    assert h.byKey["404"] == 3 and h.byKey[404] == 3
    kept = h.byKey["a"]
    h.byKey["a"] += 10
    h.byKey["a"] = kept  # an unchanged read assigned back sets its value
    assert h.byKey["a"] == 1


def test_int_stat_reads_the_caller_keeps_keep_their_value():
    """Reads keep the value they read; an unchanged read assigned back sets it."""
    stats = scales.collection("/reuse", scales.IntStat("n"))
    stats.n += 1
    kept = stats.n
    stats.n += 1
    kept_too = stats.n
    stats.n += 5
    assert (kept, kept_too, stats.n) == (1, 2, 7)
    assert (int(kept), str(kept_too)) == (1, "2")
    ids = set()
    for _ in range(3):
        stats.n += 1
        ids.add(id(stats.n))
    assert stats.n == 10
    stats.n = kept_too  # a kept read assigned back sets its value
    assert stats.n == 2
