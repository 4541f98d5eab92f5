"""Thread safety (the original lost 71 % of these increments) and the status page."""

import json
import threading
import urllib.error
import urllib.request

import pytest

from greplin import scales
from greplin.scales import flaskhandler, meter

THREADS = 8
N = 20000


def test_eight_threads_exact_total():
    stats = scales.collection('/threads', scales.IntStat('count'), scales.IntDictStat('byKey'),
                              scales.PmfStat('latency'), meter.MeterStat('hits'),
                              scales.DoubleStat('total'))

    def work():
        for _ in range(N):
            stats.count += 1
            stats.byKey['k'] += 1
            stats.latency = 1.0
            stats.hits.mark()
            stats.total += 0.5

    threads = [threading.Thread(target=work) for _ in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    tree = scales.getStats()['threads']
    assert stats.count == THREADS * N
    assert tree['count'] == THREADS * N
    assert tree['byKey'] == {'k': THREADS * N}
    assert tree['latency']['count'] == THREADS * N
    assert tree['hits']['count'] == THREADS * N
    assert tree['total'] == THREADS * N * 0.5


def _get(url):
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.status, response.headers.get('Content-Type'), response.read().decode()


def test_page_served_and_read_back():
    stats = scales.collection('/web', scales.IntStat('success'),
                              scales.Stat('gauge', lambda: 42))
    stats.success += 3
    server = flaskhandler.serveInBackground(0, serverName='something-server-42')
    try:
        base = 'http://127.0.0.1:%d/status/' % server.port
        status, ctype, body = _get(base + '?format=json')
        assert status == 200 and 'json' in ctype
        data = json.loads(body)
        assert data['web'] == {'success': 3, 'gauge': 42}
        status, ctype, body = _get(base)
        assert status == 200 and 'html' in ctype
        assert 'something-server-42' in body and '<title>' in body
        status, _, body = _get(base + '?format=html')
        assert status == 200 and 'success' in body and 'something-server-42' in body
        status, _, body = _get(base + 'web?format=json')
        assert json.loads(body) == {'success': 3, 'gauge': 42}
        with pytest.raises(urllib.error.HTTPError) as err:
            _get(base + 'nope')
        assert err.value.code == 404
        stats.success += 1
        assert json.loads(_get(base + '?format=json')[2])['web']['success'] == 4
    finally:
        server.stop()


def test_reads_behave_like_ints():
    s = scales.collection('/ints', scales.IntStat('a'), scales.IntStat('b'), scales.IntDictStat('d'))
    s.a = 3
    s.b = s.a                 # a read of another stat assigned: a set
    x = s.a
    x += 10                   # a local +=: the stat is untouched
    assert (s.a, s.b, x) == (3, 3, 13)
    s.b = x
    assert s.b == 13
    assert s.a + 1 == 4 and 1 + s.a == 4 and s.a * 2 == 6 and -s.a == -3
    assert '%d|%s|%r|%03d' % (s.a, s.a, s.a, s.a) == '3|3|3|003' and f'{s.a:>2}' == ' 3'
    assert int(s.a) == 3 and float(s.a) == 3.0 and list(range(s.a)) == [0, 1, 2]
    assert hash(s.a) == hash(3) and {3: 'x'}[s.a] == 'x' and s.a < 4 and bool(s.a)
    s.d['k'] += 2
    s.d['j'] = s.d['k']
    v = s.d['k']
    v += 5
    assert s.d['k'] == 2 and v == 7
    s.d['k'] = v
    assert dict(s.d.items()) == {'k': 7, 'j': 2}
    s.a = 2.9                 # floats assigned to an IntStat truncate, as int() does
    assert s.a == 2



def test_reads_are_ints_in_every_operation_and_hold_no_reference_after():
    """The read type is written against the C API: every slot answers as int would."""
    import sys
    from greplin.scales import _scales
    s = scales.collection('/intslots', scales.IntStat('n'), scales.IntDictStat('d'))
    s.n = 6
    r = s.n
    assert type(r) is _scales.IntRef and isinstance(r, _scales.IntRef)
    assert (r - 1, 10 - r, r / 4, r // 4, r % 4, divmod(r, 4), r ** 2, 2 ** r, pow(r, 2, 5)) == \
        (5, 4, 1.5, 1, 2, (1, 2), 36, 64, 1)
    assert (r << 1, r >> 1, r & 3, r | 1, r ^ 2, ~r, +r, abs(-r), r > 5, r != 6, 6 == r) == \
        (12, 3, 2, 7, 4, -7, 6, 6, True, False, True)
    assert repr(r) == str(r) == '6' and format(r, 'x') == '6' and ([0] * 7)[r] == 0
    assert r + s.n == 12 and s.n * s.n == 36 and max(r, 2) == 6
    with pytest.raises(TypeError):
        _scales.IntRef()
    with pytest.raises(TypeError):
        s.n += 'x'              # int's own error, and the stat is unchanged
    assert s.n == 6
    with pytest.raises(OverflowError):
        s.n += 2 ** 70          # beyond 64 bits: refused, not saturated or wrapped
    assert s.n == 6
    s.n -= 4
    s.n += s.n                  # another read as the increment
    assert s.n == 4
    before = sys.getrefcount(s), sys.getrefcount(s.d), sys.getrefcount('k')
    for _ in range(1000):
        s.n += 1
        s.d['k'] += 1
        s.d[7] += 1             # a key that is not a str: its str() is kept in the read
    assert (sys.getrefcount(s), sys.getrefcount(s.d), sys.getrefcount('k')) == before
    assert s.n == 1004 and s.d['k'] == 1000 and s.d['7'] == 1000

def test_register_stats_handler_in_flask():
    flask = pytest.importorskip('flask')
    stats = scales.collection('/web', scales.IntStat('success'))
    stats.success += 2
    app = flask.Flask(__name__)
    flaskhandler.registerStatsHandler(app, 'flask-server')
    client = app.test_client()
    response = client.get('/status/?format=json')
    assert response.status_code == 200 and 'json' in response.content_type
    assert json.loads(response.data)['web']['success'] == 2
    response = client.get('/status/web')
    assert response.status_code == 200 and b'flask-server' in response.data
    assert client.get('/status/nope').status_code == 404
