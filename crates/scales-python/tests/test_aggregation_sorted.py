"""aggregation.Sorted with Python 2's cmp=, key= and reverse= semantics."""

from greplin.scales import aggregation

DATA = {'web1': {'errors': 5}, 'web2': {'errors': 1}, 'web10': {'errors': 3}}


def _sorted(**kw):
    proto = aggregation.Sorted(dataFormat=aggregation.DataFormats.DIRECT, **kw)
    agg = aggregation.Aggregation({'errors': [proto]})
    for source, data in sorted(DATA.items()):
        agg.addSource(source, data)
    return agg.result()['errors']['sorted']


def _cmp(a, b):
    return (a > b) - (a < b)


def test_default_sorts_pairs_by_source():
    assert _sorted() == [('web1', 5), ('web10', 3), ('web2', 1)]


def test_cmp_on_pairs():
    by_value = lambda a, b: _cmp(a[1], b[1])
    assert _sorted(cmp=by_value) == [('web2', 1), ('web10', 3), ('web1', 5)]
    assert _sorted(cmp=by_value, reverse=True) == [('web1', 5), ('web10', 3), ('web2', 1)]


def test_key_alone_and_positional_cmp():
    assert _sorted(key=lambda pair: -pair[1]) == [('web1', 5), ('web10', 3), ('web2', 1)]
    assert [s for s, _ in _sorted(cmp=lambda a, b: _cmp(b[0], a[0]))] == ['web2', 'web10', 'web1']
    agg = aggregation.Sorted(lambda a, b: _cmp(a[1], b[1]), None, True,
                             dataFormat=aggregation.DataFormats.DIRECT)
    for source, data in DATA.items():
        agg.addValue(source, data['errors'])
    assert agg.result() == [('web1', 5), ('web10', 3), ('web2', 1)]


def test_cmp_compares_what_key_returns():
    # As Python 2's list.sort(cmp=, key=): key maps each pair, cmp compares the results.
    seen = []

    def cmp(a, b):
        seen.append((a, b))
        return _cmp(a, b)

    assert _sorted(cmp=cmp, key=lambda pair: pair[1]) == [('web2', 1), ('web10', 3), ('web1', 5)]
    assert seen and all(isinstance(a, int) and isinstance(b, int) for a, b in seen)


def test_clone_keeps_settings():
    proto = aggregation.Sorted(cmp=lambda a, b: _cmp(a[1], b[1]), reverse=True, name='top',
                              dataFormat=aggregation.DataFormats.DIRECT)
    clone = proto.clone()
    clone.addValue('a', 1)
    clone.addValue('b', 2)
    assert clone.name == 'top'
    assert clone.result() == [('b', 2), ('a', 1)]
    assert proto.result() == []
