"""The original README's examples, verbatim but for the gauge example's missing path
argument (the original README's `scales.collection(scales.Stat(...))` raises there too)
and a sleep standing in for the work. Imported by the tests after a reset."""

import time

from greplin import scales
from greplin.scales import meter

# How to use it
STATS = scales.collection('/web',
    scales.IntStat('errors'),
    scales.IntStat('success'))

STATS.success += 1

# Timing sections of code
TSTATS = scales.collection('/web',
    scales.IntStat('errors'),
    scales.IntStat('success'),
    scales.PmfStat('latency'))

for ms in (12, 15, 11, 30, 14, 13, 250, 16, 12, 18):
    TSTATS.latency = ms / 1000.0

with TSTATS.latency.time():
    time.sleep(0.017)

# Metering Rates
MSTATS = scales.collection('/web', meter.MeterStat('hits'))
MSTATS.hits.mark()
MSTATS.hits.mark(4)
MSTATS.hits = 5


# Class Stats
class Request(object):
    def __init__(self, path):
        self.path = path


class Handler(object):

    requests = scales.IntStat('requests')
    latency = scales.PmfStat('latency')
    byPath = scales.IntDictStat('byPath')

    def __init__(self):
        scales.init(self, '/handler')

    def handleRequest(self, request):
        with self.latency.time():
            time.sleep(0.005)
        self.requests += 1
        self.byPath[request.path] += 1


h = Handler()
for p in ('/index', '/about', '/index'):
    h.handleRequest(Request(p))

# Gauges
GSTATS = scales.collection('/gauges', scales.Stat('currentTime', lambda: 1234567890.5))


# Hierarchical Stats + Aggregation
class Processor(object):
    """Example processing management object."""

    threadStates = scales.HistogramAggregationStat('state')
    finished = scales.SumAggregationStat('finished')

    def __init__(self):
        scales.init(self, '/processor')
        self.threads = 0

    def createThread(self):
        threadId = self.threads
        self.threads += 1
        t = SomeThread(threadId)
        return t


class SomeThread(object):
    """Stub of a processing thread object."""

    state = scales.Stat('state')
    finished = scales.IntStat('finished')

    def __init__(self, threadId):
        scales.initChild(self, 'thread-%d' % threadId)

    def processingLoop(self, tasks, endState):
        for _ in range(tasks):
            self.state = 'waitingForTask'
            self.state = 'performingTask'
            self.finished += 1
        self.state = endState


proc = Processor()
t0 = proc.createThread()
t1 = proc.createThread()
t2 = proc.createThread()
t0.processingLoop(3, 'waitingForTask')
t1.processingLoop(2, 'performingTask')
t2.processingLoop(1, 'waitingForTask')
