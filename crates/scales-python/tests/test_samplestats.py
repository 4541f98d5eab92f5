"""samplestats: the original's samples (upstream tests 17-19) with its bugs fixed, and the
Rust sketch as a Sampler."""

import math
import random
import statistics

import pytest

from greplin.scales import samplestats
from greplin.scales.samplestats import ExponentiallyDecayingReservoir, Sampler, Sketch, UniformSample

PS = [0.5, 0.75, 0.95, 0.98, 0.99, 0.999]


class FakeClock(object):
    def __init__(self, now=1000.0):
        self.now = now

    def time(self):
        return self.now


def _filled(sample, n):
    for v in range(1, n + 1):
        sample.update(float(v))
    return sample


def test_names_importable():
    assert issubclass(UniformSample, Sampler)
    assert issubclass(ExponentiallyDecayingReservoir, Sampler)
    assert samplestats._bounded_exp(1e6) > 1e300  # no OverflowError
    assert samplestats._bounded_exp(0) == 1.0


def test_uniform_gaussian():  # upstream 17
    random.seed(42)
    sample = UniformSample()
    for _ in range(300):
        sample.update(random.gauss(42, 13))
    assert sample.mean == pytest.approx(43.143067271195235, abs=1e-5)
    assert sample.stddev == pytest.approx(13.008553229943168, abs=1e-5)
    sample.clear()
    assert len(sample) == 0
    values = [random.gauss(0.0012, 5e-5) for _ in range(30000)]
    for v in values:
        sample.update(v)
    assert len(sample) == 1028
    assert sample.mean == pytest.approx(0.0012, abs=1e-5)
    assert sample.stddev == pytest.approx(5e-5, rel=0.1)
    assert sample.min == min(values) and sample.max == max(values)


def test_decaying_gaussian_same_random_stream():  # upstream 18: one random() per update
    random.seed(42)
    sample = ExponentiallyDecayingReservoir()
    for _ in range(300):
        sample.update(random.gauss(42, 13))
    assert sample.mean == pytest.approx(41.974069434931714, abs=1e-9)
    assert sample.stddev == pytest.approx(12.982363860393766, abs=1e-9)
    assert sample.mean() == sample.mean  # the original's readers call it or read it


def test_decaying_rescale_on_every_update():  # upstream 19
    random.seed(42)
    sample = ExponentiallyDecayingReservoir(rescale_threshold=-1)
    sample.update(random.gauss(42, 13))
    assert sample.mean == pytest.approx(40.12682571548693, abs=1e-12)
    assert sample.percentiles(PS) == [40.12682571548693] * 6  # the original: all NaN


@pytest.mark.parametrize('n, want', [
    (3, [2, 3, 3, 3, 3, 3]),
    (9, [5, 7.5, 9, 9, 9, 9]),
    (10, [5.5, 8.25, 10, 10, 10, 10]),
    (11, [6, 9, 11, 11, 11, 11]),
    (100, [50.5, 75.75, 95.95, 98.98, 99.99, 100]),
    (1000, [500.5, 750.75, 950.95, 980.98, 990.99, 999.999]),
])
def test_percentiles_are_yammers_not_the_originals_mirrored_ones(n, want):
    # Reference §3.2's "correct (Yammer)" column; the original gave NaN for n = 3 and
    # 8.75 / 7 / 75.25 where this says 8.25 / 6 / 75.75.
    for sample in (_filled(UniformSample(size=2000), n), _filled(ExponentiallyDecayingReservoir(size=2000), n)):
        got = sample.percentiles(PS)
        assert got == pytest.approx(want, abs=1e-9), (type(sample).__name__, n, got)
        assert not any(math.isnan(v) for v in got)


def test_empty_samples():
    for sample in (UniformSample(), ExponentiallyDecayingReservoir(), Sketch()):
        assert len(sample) == 0
        assert sample.percentiles(PS) == [0.0] * 6
        assert math.isnan(sample.mean) and math.isnan(sample.stddev)
        assert sample.min == float('inf') and sample.max == float('-inf')


def test_uniform_has_no_placeholder_zero():
    # The original kept a 0.0 placeholder in slot 1027: 1028 x 5.0 had mean 4.995.
    random.seed(1)
    sample = UniformSample()
    for _ in range(1028):
        sample.update(5.0)
    assert len(sample) == 1028
    assert sample.mean == 5.0
    for _ in range(5000):
        sample.update(5.0)
    assert sample.samples() == [5.0] * 1028


def test_uniform_is_uniform():
    random.seed(7)
    sample = UniformSample(size=500)
    for v in range(20000):
        sample.update(v)
    assert len(sample) == 500
    # Uniform over 0..19999: the mean of 500 draws is 10000 give or take 3 x 258.
    assert abs(sample.mean - 10000) < 800


def test_decaying_prefers_recent_values():
    clock = FakeClock()
    sample = ExponentiallyDecayingReservoir(size=100, clock=clock)
    for _ in range(2000):
        sample.update(1.0)
    clock.now += 600
    for _ in range(2000):
        sample.update(2.0)
    assert len(sample) == 100
    assert sample.samples().count(2.0) >= 99
    assert sample.min == 1.0 and sample.max == 2.0  # extremes are all-time, as the original


def test_decaying_keeps_equal_priorities_and_settings_on_clear():
    random.seed(3)
    clock = FakeClock()
    sample = ExponentiallyDecayingReservoir(size=10, rescale_threshold=5, clock=clock)
    real = random.random
    random.random = lambda: 0.5  # every priority equal: none may overwrite another
    try:
        for v in range(10):
            sample.update(v)
    finally:
        random.random = real
    assert sorted(sample.samples()) == list(range(10))
    sample.clear()
    assert (len(sample), sample.size, sample.rescale_threshold) == (0, 10, 5)
    clock.now += 6
    sample.update(1.0)  # rescales: the landmark moves, the value stays
    assert sample.startTime == clock.now and sample.samples() == [1.0]


def test_sketch_sampler():
    sketch = Sketch()
    rng = random.Random(5)
    values = [rng.lognormvariate(0, 1) for _ in range(10000)]
    for v in values:
        sketch.update(v)
    assert len(sketch) == 10000
    assert sketch.mean == pytest.approx(statistics.mean(values), rel=1e-9)
    assert sketch.stddev == pytest.approx(statistics.stdev(values), rel=1e-6)
    assert (sketch.min, sketch.max) == (min(values), max(values))
    ordered = sorted(values)
    for p, got in zip(PS, sketch.percentiles(PS)):
        exact = ordered[int(round(p * (len(values) - 1)))]
        assert got == pytest.approx(exact, rel=0.02), p
    with pytest.raises(TypeError):
        sketch.samples()
    sketch.clear()
    assert len(sketch) == 0
