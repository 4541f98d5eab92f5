"""aggregation: the original's results on multi-server dumps (reference probe outputs)."""

import collections
import datetime
import json
import os
import re
import time

import pytest

from greplin.scales import aggregation as A

DIRECT = A.DataFormats.DIRECT

SERVERS = {
    'web1': {'web': {'success': 10, 'errors': 1, 'codes': {'200': 9, '404': 1, '500': 0}},
             'version': '1.2', 'uptime': 1000},
    'web2': {'web': {'success': 30, 'codes': {'200': 25, '302': 2, '503': 3}},
             'version': '1.3', 'uptime': 50},
    'web10': {'web': {'success': 5, 'errors': 4, 'codes': {}},
              'version': '1.2', 'uptime': 7000},
}


def _add(agg, servers=SERVERS):
    for name, data in sorted(servers.items()):
        agg.addSource(name, data)
    return agg.result()


def test_sum_average_inverse_highlight_regex_and_wildcard():
    agg = A.Aggregation({
        'web': {
            'success': [A.Sum(dataFormat=DIRECT), A.Average(dataFormat=DIRECT)],
            'errors': [A.Sum(dataFormat=DIRECT)],
            'codes': {
                ('ok', re.compile('[1-3][0-9][0-9]')): [A.Sum(dataFormat=DIRECT)],
                ('err', re.compile('[4-5][0-9][0-9]')): [A.Sum(dataFormat=DIRECT)],
                '*': [A.Sum(dataFormat=DIRECT)],
            },
        },
        'version': [A.InverseMap(dataFormat=DIRECT)],
        'uptime': [A.Highlight('longestUp', lambda old, new: new > old),
                   A.Highlight('shortestUp', lambda old, new: new < old)],
    })
    result = _add(agg)
    assert result == {
        'uptime': {'longestUp': {'source': 'web10', 'value': 7000},
                   'shortestUp': {'source': 'web2', 'value': 50}},
        'version': {'inverse': {'1.2': ['web1', 'web10'], '1.3': ['web2']}},
        'web': {'codes': {'200': {'sum': 34}, '302': {'sum': 2}, '404': {'sum': 1},
                          '500': {'sum': 0}, '503': {'sum': 3}, 'err': {'sum': 4},
                          'ok': {'sum': 36}},
                'errors': {'sum': 5},
                'success': {'average': {'average': 15.0, 'count': 3, 'total': 45}, 'sum': 45}}}
    inverse = result['version']['inverse']
    assert isinstance(inverse, collections.defaultdict) and inverse.default_factory is list


def test_average_default_format_and_plain_number_fallback():
    agg = A.Aggregation({'lat': [A.Average()]})
    agg.addSource('a', {'lat': {'count': 10, 'average': 2.0}})
    agg.addSource('b', {'lat': {'count': 30, 'average': 4.0}})
    agg.addSource('c', {'lat': 5})
    agg.addSource('d', {'lat': None})  # None data is skipped
    assert agg.result() == {'lat': {'average': {'average': 3.5365853658536586, 'count': 41,
                                                'total': 145.0}}}
    empty = A.Average()
    assert empty.result() == {'count': 0, 'total': 0, 'average': 0}


def test_yammer_formats():
    data = {'t': {'type': 'timer', 'rate': {'count': 4}, 'duration': {'median': 10.0, 'mean': 12.0}},
            'c': {'type': 'counter', 'count': 7},
            'm': {'type': 'meter', 'count': 9, 'mean': 0.5},
            'g': {'type': 'gauge', 'value': 3}}
    agg = A.Aggregation({'t': [A.Average(dataFormat=A.DataFormats.TIMER),
                               A.Average('avgMean', dataFormat=A.DataFormats.TIMER_MEAN)],
                         'c': [A.Sum(dataFormat=A.DataFormats.COUNTER)],
                         'm': [A.Average(dataFormat=A.DataFormats.METER)],
                         'g': [A.Sum(dataFormat=A.DataFormats.GAUGE)]})
    agg.addSource('s1', data)
    agg.addSource('s2', data)
    assert agg.result() == {
        'c': {'sum': 14}, 'g': {'sum': 6},
        'm': {'average': {'average': 0.5, 'count': 18, 'total': 9.0}},
        't': {'average': {'average': 10.0, 'count': 8, 'total': 80.0},
              'avgMean': {'average': 12.0, 'count': 8, 'total': 96.0}}}
    # The typed formats check the datum's type; the gauge format has no count.
    with pytest.raises(AssertionError):
        A.DataFormats.COUNTER.getValue(data['m'])
    with pytest.raises(AssertionError):
        A.DataFormats.TIMER.getCount(data['c'])
    assert not hasattr(A.DataFormats.GAUGE, 'getCount')
    assert A.DataFormats.DIRECT.getCount({'x': 1}) == 1
    assert isinstance(A.DataFormats.DEFAULT, A.DefaultFormat)
    assert isinstance(A.DataFormats.TIMER_MEAN, A.TimerMeanFormat)


def test_sum_with_default_format_has_no_fallback():
    agg = A.Aggregation({'uptime': [A.Sum()]})
    with pytest.raises(TypeError):
        agg.addSource('x', {'uptime': 5})


def test_inverse_map_sorts_sources_humanly():
    agg = A.Aggregation({'version': [A.InverseMap(dataFormat=DIRECT)]})
    for name in ['web10', 'web2', 'web1', 'db3', 'web0']:
        agg.addSource(name, {'version': '1'})
    assert agg.result() == {'version': {'inverse': {'1': ['db3', 'web0', 'web1', 'web2', 'web10']}}}


def test_json_directory_and_file_inclusion_test(tmp_path):
    for name, data in SERVERS.items():
        (tmp_path / (name + '.json')).write_text(json.dumps(data))
    (tmp_path / 'broken.json').write_text('{not json')
    (tmp_path / 'web2.json.incoming').write_text(json.dumps(SERVERS['web2']))
    old = time.time() - 3600
    os.utime(str(tmp_path / 'web10.json'), (old, old))
    test = A.FileInclusionTest(ignoreByName=lambda p: p.endswith('.incoming'),
                               maxAge=datetime.timedelta(minutes=10))
    agg = A.Aggregation({'web': {'success': [A.Sum(dataFormat=DIRECT)]},
                         'version': [A.InverseMap(dataFormat=DIRECT)]})
    agg.addJsonDirectory(str(tmp_path), test)
    assert agg.result() == {'version': {'inverse': {'1.3': ['web2'], '1.2': ['web1']}},
                            'web': {'success': {'sum': 40}}}
    # Without a test every readable file counts (the .incoming one as source 'web2.json').
    agg = A.Aggregation({'web': {'success': [A.Sum(dataFormat=DIRECT)]}})
    agg.addJsonDirectory(str(tmp_path))
    assert agg.result() == {'web': {'success': {'sum': 75}}}
    # A test that raises excludes the file.
    assert A.FileInclusionTest(ignoreByName=lambda p: 1 / 0)('x', 'x') is False
    assert A.FileInclusionTest(maxAge=datetime.timedelta(minutes=1))('x', str(tmp_path / 'nope')) is False
    assert A.FileInclusionTest()('x', 'anything') is True


def test_empty_branches_are_dropped_and_clones_are_independent():
    proto = A.Sum(dataFormat=DIRECT)
    agg = A.Aggregation({'a': {'*': [proto]}, 'b': {'c': [proto]}, 'missing': [proto]})
    agg.addSource('s', {'a': {}, 'b': {'c': 2}})
    agg.addSource('t', {'a': {'x': 1}, 'b': {'c': 3}})
    assert agg.result() == {'a': {'x': {'sum': 1}}, 'b': {'c': {'sum': 5}}}
    assert proto.result() == 0
    assert agg.result({}) == agg.result()


def test_highlight_keeps_raw_values_and_names():
    pick = A.Highlight('biggest', lambda cur, new: new['n'] > cur['n'], dataFormat=DIRECT)
    agg = A.Aggregation({'x': [pick]})
    agg.addSource('a', {'x': {'n': 1}})
    agg.addSource('b', {'x': {'n': 3}})
    agg.addSource('c', {'x': {'n': 2}})
    assert agg.result() == {'x': {'biggest': {'source': 'b', 'value': {'n': 3}}}}
    assert pick.clone().name == 'biggest'
    assert A.Sum().name == 'sum' and A.Average().name == 'average'
    assert A.InverseMap().name == 'inverse' and A.Sorted().name == 'sorted'
    assert A.Sum('total').clone().name == 'total'
    assert isinstance(A.Sum(), A.Aggregator)
