"""Run by scripts/python-tests.sh with an interpreter the wheel was pip-installed into (from
outside the source tree): the package imports from site-packages and works end to end."""

import io
import json
import sys
import threading

from greplin import scales
from greplin.scales import _scales, formats, meter

assert 'site-packages' in _scales.__file__ and _scales.__file__.endswith('.abi3.so'), _scales.__file__

STATS = scales.collection('/web', scales.IntStat('errors'), scales.IntStat('success'),
                          scales.PmfStat('latency'), meter.MeterStat('hits'))


def work():
    for _ in range(5000):
        STATS.success += 1


threads = [threading.Thread(target=work) for _ in range(8)]
for t in threads:
    t.start()
for t in threads:
    t.join()
with STATS.latency.time():
    pass
STATS.latency = 0.012
STATS.hits.mark()
out = io.StringIO()
formats.jsonFormat(out)
web = json.loads(out.getvalue())['web']
assert web['success'] == 40000 and web['errors'] == 0, web
assert web['latency']['count'] == 2 and web['hits']['count'] == 1, web
print('installed wheel works on Python %s' % sys.version.split()[0])
