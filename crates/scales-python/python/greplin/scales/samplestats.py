"""Samples of a stream of values (``greplin.scales.samplestats``).

The original's classes, with its bugs fixed (see the README's Python section):

* ``Sampler``: the base; ``update(value)``, ``clear()``, ``len()``, ``samples()``, ``min``,
  ``max``, ``mean``, ``stddev`` and ``percentiles(ps)``.
* ``UniformSample(size=1028)``: a uniform random sample of everything seen (Vitter's
  algorithm R).
* ``ExponentiallyDecayingReservoir(size=1028, alpha=0.015, rescale_threshold=3600,
  clock=None)``: a sample biased to recent values (forward decay, Cormode et al.).
* ``Sketch()``: new here, the Rust core's sketch (the one behind ``PmfStat``): every value
  counts, count/mean/stddev/min/max exact, percentiles within 0.78 %, thread-safe, and no
  samples to list.

Percentiles of the two samples interpolate between ranks as Yammer metrics (which the
original ported) meant to: at ``pos = p * (n + 1)``, ``values[k-1] + frac * (values[k] -
values[k-1])``, the first value below position 1 and the last from position n.
"""

import heapq
import itertools
import math
import random
import sys
import threading

from greplin.scales import _rs
from greplin.scales.clock import getClock


class _Number(float):
    """A float that also answers ``x()`` (whether code reads ``mean`` or calls ``mean()``)."""

    def __call__(self):
        return float(self)


def _bounded_exp(value):
    """``exp(value)``, the largest float instead of an overflow."""
    try:
        return math.exp(value)
    except OverflowError:
        return sys.float_info.max


class Sampler(object):
    """The base of the samples: extremes of everything seen, statistics of the sample."""

    def __init__(self):
        self._lock = threading.RLock()
        self._min = float('inf')
        self._max = float('-inf')

    def __len__(self):
        raise NotImplementedError

    def samples(self):
        """The values in the sample."""
        raise NotImplementedError

    def update(self, value):
        """Adds a value (the extremes are all-time)."""
        with self._lock:
            if value < self._min:
                self._min = value
            if value > self._max:
                self._max = value

    def clear(self):
        """Forgets every value."""
        Sampler.__init__(self)

    @property
    def min(self):
        """The smallest value seen (``inf`` when none)."""
        return self._min

    @property
    def max(self):
        """The largest value seen (``-inf`` when none)."""
        return self._max

    @property
    def mean(self):
        """The mean of the sample (NaN when empty)."""
        values = self.samples()
        if not values:
            return _Number('nan')
        return _Number(math.fsum(values) / len(values))

    @property
    def stddev(self):
        """The sample standard deviation (divisor n - 1; 0 for one value, NaN for none)."""
        values = self.samples()
        n = len(values)
        if n == 0:
            return _Number('nan')
        if n == 1:
            return _Number(0.0)
        mean = math.fsum(values) / n
        return _Number(math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (n - 1)))

    def percentiles(self, percentiles):
        """The values at each of ``percentiles`` (fractions: 0.5, 0.99); 0.0 when empty."""
        values = sorted(self.samples())
        n = len(values)
        if n == 0:
            return [0.0] * len(percentiles)
        out = []
        for p in percentiles:
            pos = p * (n + 1)
            if pos < 1:
                out.append(values[0])
            elif pos >= n:
                out.append(values[-1])
            else:
                k = int(pos)
                lower, upper = values[k - 1], values[k]
                out.append(lower + (pos - k) * (upper - lower))
        return out


class UniformSample(Sampler):
    """A uniform random sample of at most ``size`` of the values seen (algorithm R)."""

    def __init__(self, size=1028):
        Sampler.__init__(self)
        self.size = int(size)
        self.count = 0
        self.values = []

    def clear(self):
        """Forgets every value (the size stays)."""
        with self._lock:
            Sampler.clear(self)
            self.count = 0
            self.values = []

    def __len__(self):
        return len(self.values)

    def update(self, value):
        """Adds a value: kept while the sample has room, then with probability size/count."""
        with self._lock:
            Sampler.update(self, value)
            self.count += 1
            if len(self.values) < self.size:
                self.values.append(value)
            else:
                slot = random.randint(0, self.count - 1)
                if slot < self.size:
                    self.values[slot] = value

    def samples(self):
        """The sampled values."""
        with self._lock:
            return list(self.values)


class ExponentiallyDecayingReservoir(Sampler):
    """A sample of at most ``size`` values biased to the last few minutes.

    Each value gets the priority ``exp(alpha * age_of_landmark) / u`` (u uniform in (0, 1]);
    the ``size`` highest priorities stay. Priorities are rescaled to a new landmark every
    ``rescale_threshold`` seconds.
    """

    def __init__(self, size=1028, alpha=0.015, rescale_threshold=3600, clock=None):
        Sampler.__init__(self)
        self.size = int(size)
        self.alpha = alpha
        self.rescale_threshold = rescale_threshold
        self.clock = clock if clock is not None else getClock()
        self._seq = itertools.count()
        self._heap = []  # (priority, insertion number, value): the lowest priority first
        self.count = 0
        self.startTime = self.clock.time()
        self.nextScaleTime = self.startTime + self.rescale_threshold

    def clear(self):
        """Forgets every value (size, alpha, threshold and clock stay)."""
        with self._lock:
            Sampler.clear(self)
            self._heap = []
            self.count = 0
            self.startTime = self.clock.time()
            self.nextScaleTime = self.startTime + self.rescale_threshold

    def __len__(self):
        return len(self._heap)

    def update(self, value):
        """Adds a value now."""
        with self._lock:
            Sampler.update(self, value)
            now = self.clock.time()
            if now >= self.nextScaleTime:
                self._rescale(now)
            priority = _bounded_exp(self.alpha * (now - self.startTime)) / (1.0 - random.random())
            self.count += 1
            entry = (priority, next(self._seq), value)
            if len(self._heap) < self.size:
                heapq.heappush(self._heap, entry)
            elif priority > self._heap[0][0]:
                heapq.heapreplace(self._heap, entry)

    def _rescale(self, now):
        old, self.startTime = self.startTime, now
        self.nextScaleTime = now + self.rescale_threshold
        factor = _bounded_exp(-self.alpha * (now - old))
        # A positive factor keeps the order, but priorities that underflow to 0 tie.
        self._heap = [(p * factor, seq, v) for p, seq, v in self._heap]
        heapq.heapify(self._heap)
        self.count = len(self._heap)

    def samples(self):
        """The values kept, oldest first."""
        with self._lock:
            return [v for _, _, v in sorted(self._heap, key=lambda e: e[1])]


class Sketch(Sampler):
    """Every value in the Rust core's sketch (what ``PmfStat`` records into).

    Count, mean, stddev, min and max are exact; percentiles are within 0.78 % of the true
    value and interpolate between ranks as NumPy does (``h = p * (n - 1)``), as ``PmfStat``.
    ``len()`` is the count; there are no samples to list.
    """

    def __init__(self):  # pylint: disable=super-init-not-called
        self._sketch = _rs.Sketch()

    def clear(self):
        """Forgets every value."""
        self._sketch = _rs.Sketch()

    def update(self, value):
        """Adds a value (NaN and infinities are not recorded)."""
        self._sketch.record(float(value))

    def __len__(self):
        return self._sketch.summary([])[0]

    def samples(self):
        raise TypeError('a Sketch keeps buckets, not samples')

    @property
    def min(self):
        value = self._sketch.summary([])[2]
        return float('inf') if value is None else value

    @property
    def max(self):
        value = self._sketch.summary([])[3]
        return float('-inf') if value is None else value

    @property
    def mean(self):
        value = self._sketch.summary([])[4]
        return _Number('nan' if value is None else value)

    @property
    def stddev(self):
        value = self._sketch.summary([])[5]
        return _Number('nan' if value is None else value)

    def percentiles(self, percentiles):
        values = self._sketch.summary([float(p) for p in percentiles])[6]
        return [0.0 if v is None else v for v in values]
