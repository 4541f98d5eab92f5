"""Aggregation of many servers' stat dumps (``greplin.scales.aggregation``).

Each server writes its tree with ``dumpStatsTo`` (or serves it as ``?format=json``); an
``Aggregation`` reads those trees, one per *source*, and folds chosen values across them::

    agg = Aggregation({
        'web': {
            'success': [Sum(dataFormat=DataFormats.DIRECT)],
            ('errors', re.compile('[45]..')): [Sum(dataFormat=DataFormats.DIRECT)],
            'latency': [Average()],               # {'count': n, 'average': x} per source
        },
        'version': [InverseMap(dataFormat=DataFormats.DIRECT)],
    })
    agg.addJsonDirectory('/var/stats')           # one source per file, named by its stem
    agg.result()

The spec mirrors the tree. An inner node's keys select data keys: a plain key takes that
key when present, ``'*'`` takes every key (results keyed like the data), and a
``(name, compiledRegex)`` tuple takes every key the regex matches (``re.match``) and folds
them all into ``name``. A leaf is a list of aggregators, used as prototypes: every result
node gets its own clone of each, keyed by the aggregator's name.

A data format tells an aggregator where a datum's value (``getValue``) and weight
(``getCount``) are; ``DataFormats`` holds one of each kind.
"""

import collections
import datetime
import functools
import json
import os
import re


# ---------------------------------------------------------------------------------------------
# Data formats


def _dig(data, path):
    """``data[path[0]][path[1]]...``."""
    for key in path:
        data = data[key]
    return data


class _FieldFormat(object):
    """A format reading the value at the key path ``_valueAt`` of a datum (a dict) whose
    ``type`` must be ``_kind`` when that is set."""

    _kind = None
    _valueAt = ()

    def _checked(self, data):
        if self._kind is not None and data['type'] != self._kind:
            raise AssertionError('expected a %s datum, got type %r' % (self._kind, data['type']))
        return data

    def getValue(self, data):
        """The datum's value."""
        return _dig(self._checked(data), self._valueAt)


class _WeightedFormat(_FieldFormat):
    """A field format whose datum also carries a count, at the key path ``_countAt``."""

    _countAt = ('count',)

    def getCount(self, data):
        """How many observations the datum's value stands for."""
        return _dig(self._checked(data), self._countAt)


class DefaultFormat(_WeightedFormat):
    """A summary such as ``{'count': 12, 'average': 0.5}``."""

    _valueAt = ('average',)


class DirectFormat(object):
    """The datum is the value itself (a number, a string...); it counts once."""

    def getCount(self, _data):
        """Always 1."""
        return 1

    def getValue(self, data):
        """The datum."""
        return data


class TimerFormat(_WeightedFormat):
    """A Yammer Metrics timer: the count of ``rate``, the median of ``duration``."""

    _kind = 'timer'
    _countAt = ('rate', 'count')
    _valueAt = ('duration', 'median')


class TimerMeanFormat(TimerFormat):
    """A Yammer Metrics timer, by the mean of ``duration``."""

    _valueAt = ('duration', 'mean')


class CounterFormat(_WeightedFormat):
    """A Yammer Metrics counter: its count is both the weight and the value."""

    _kind = 'counter'
    _valueAt = ('count',)


class MeterFormat(_WeightedFormat):
    """A Yammer Metrics meter: its count, and its mean rate as the value."""

    _kind = 'meter'
    _valueAt = ('mean',)


class GaugeFormat(_FieldFormat):
    """A Yammer Metrics gauge: a ``value`` and no count."""

    _kind = 'gauge'
    _valueAt = ('value',)


class DataFormats(object):
    """One instance of each format."""

    DEFAULT = DefaultFormat()
    DIRECT = DirectFormat()
    TIMER = TimerFormat()
    TIMER_MEAN = TimerMeanFormat()
    COUNTER = CounterFormat()
    METER = MeterFormat()
    GAUGE = GaugeFormat()


# ---------------------------------------------------------------------------------------------
# Aggregators


class Aggregator(object):
    """What the aggregators share: a ``name`` (the class's ``DEFAULT_NAME`` when not given)
    and a data format. Subclasses implement ``addValue(source, data)`` and ``result()``."""

    def __init__(self, name=None, dataFormat=DataFormats.DEFAULT):
        self.name = name or self.DEFAULT_NAME
        self._dataFormat = dataFormat

    def clone(self):
        """A new, empty aggregator with this one's name and format."""
        return type(self)(name=self.name, dataFormat=self._dataFormat)


class Sum(Aggregator):
    """The total of the values; the result is that number."""

    DEFAULT_NAME = 'sum'
    total = 0

    def addValue(self, _source, data):
        """Adds the datum's value."""
        self.total = self.total + self._dataFormat.getValue(data)

    def result(self):
        """The total."""
        return self.total


class Average(Aggregator):
    """The mean weighted by count: ``{'count': n, 'total': t, 'average': t / n}``.

    A datum the format cannot read (a plain number under ``DEFAULT``) counts once, as its
    own value. ``None`` is skipped.
    """

    DEFAULT_NAME = 'average'
    _count = 0
    _total = 0

    def addValue(self, _source, data):
        """Adds the datum, weighted by its count."""
        if data is None:
            return
        fmt = self._dataFormat
        try:
            weight = fmt.getCount(data)
            weighted = fmt.getValue(data) * weight
        except TypeError:
            weight, weighted = 1, data
        self._count += weight
        self._total += weighted

    def result(self):
        """Count, total and average (0 when nothing was added)."""
        mean = float(self._total) / self._count if self._count else 0
        return {'count': self._count, 'total': self._total, 'average': mean}


_DIGITS = re.compile(r'(\d+)')


def _naturalKey(source):
    """A sort key putting ``web2`` before ``web10``: text and whole numbers alternate."""
    if not isinstance(source, str):
        return source
    parts = _DIGITS.split(source)  # text at even positions, digit runs at odd ones
    return [int(part) if i % 2 else part for i, part in enumerate(parts)]


class InverseMap(Aggregator):
    """Which sources have which value: ``{value: [source, ...]}`` (a ``defaultdict(list)``),
    the sources in natural order (``web2`` before ``web10``)."""

    DEFAULT_NAME = 'inverse'

    def __init__(self, *args, **kw):
        Aggregator.__init__(self, *args, **kw)
        self._byValue = collections.defaultdict(list)

    def addValue(self, source, data):
        """Files ``source`` under the datum's value."""
        self._byValue[self._dataFormat.getValue(data)].append(source)

    def result(self):
        """The sources by value."""
        for sources in self._byValue.values():
            sources.sort(key=_naturalKey)
        return self._byValue


class Sorted(Aggregator):
    """The ``(source, value)`` pairs of every source, sorted.

    ``cmp(a, b)`` (negative, zero or positive, as Python 2's ``cmp=``), ``key(item)`` and
    ``reverse`` mean what they meant to Python 2's ``list.sort``: ``key`` maps each pair to
    what is compared, ``cmp`` compares those (the pairs themselves without ``key``); with
    neither, pairs compare as tuples (by source).
    """

    DEFAULT_NAME = 'sorted'

    def __init__(self, cmp=None, key=None, reverse=False, *args, **kw):  # pylint: disable=redefined-builtin
        Aggregator.__init__(self, *args, **kw)
        self.cmp = cmp
        self.key = key
        self.reverse = reverse
        self._pairs = []

    def addValue(self, source, data):
        """Adds the value of ``source``."""
        self._pairs.append((source, self._dataFormat.getValue(data)))

    def _sortKey(self):
        """One ``key=`` for Python 3's sort doing what ``cmp=`` and ``key=`` did together."""
        if self.cmp is None:
            return self.key
        compared = functools.cmp_to_key(self.cmp)
        if self.key is None:
            return compared
        mapped = self.key
        return lambda pair: compared(mapped(pair))

    def result(self):
        """The sorted pairs."""
        self._pairs.sort(key=self._sortKey(), reverse=bool(self.reverse))
        return self._pairs

    def clone(self):
        """A new, empty aggregator with the same settings."""
        return type(self)(self.cmp, self.key, self.reverse, name=self.name,
                          dataFormat=self._dataFormat)


class Highlight(Aggregator):
    """One source singled out: ``{'source': s, 'value': v}``.

    The first datum is taken; each later one replaces it when ``fn(current, new)`` is true
    (``lambda cur, new: new > cur`` keeps the largest). Data are compared as they are:
    ``dataFormat`` is accepted and not used.
    """

    source = None
    value = None

    def __init__(self, name, fn, dataFormat=DataFormats.DEFAULT):  # pylint: disable=unused-argument
        Aggregator.__init__(self, name)
        self.fn = fn

    def addValue(self, source, value):
        """Takes ``value`` if it is the first or ``fn`` prefers it."""
        if self.source is None or self.fn(self.value, value):
            self.source, self.value = source, value

    def result(self):
        """The chosen source and its datum."""
        return {'source': self.source, 'value': self.value}

    def clone(self):
        """A new, empty highlight with the same name and choice."""
        return Highlight(self.name, self.fn)


# ---------------------------------------------------------------------------------------------
# The aggregation


class Aggregation(object):
    """Folds the trees of many sources along a spec (see the module's docstring)."""

    def __init__(self, aggregators):
        self._aggregators = aggregators
        self._result = {}

    def addSource(self, source, data):
        """Folds in the tree ``data`` of ``source`` (a server's name)."""
        self._fold(source, self._aggregators, data, self._result)

    def addJsonDirectory(self, directory, test=None):
        """Adds every JSON file of ``directory`` as a source named by the file's stem.

        ``test(filename, fullPath)``, when given, says which files to read. Files that are
        not valid JSON are skipped (as is any file whose test, reading or folding raises
        ``ValueError``).
        """
        for filename in os.listdir(directory):
            fullPath = os.path.join(directory, filename)
            try:
                if test and not test(filename, fullPath):
                    continue
                with open(fullPath) as f:
                    data = json.load(f)
                self.addSource(os.path.splitext(filename)[0], data)
            except ValueError:
                pass

    def _fold(self, source, spec, data, out):
        """Folds ``data`` into the result node ``out`` along the spec node ``spec``."""
        if data is None:
            return
        if not hasattr(spec, 'items'):
            for proto in spec:
                target = out.get(proto.name)
                if target is None:
                    target = out[proto.name] = proto.clone()
                target.addValue(source, data)
            return
        for key, sub in spec.items():
            for outKey, value in self._select(key, data):
                self._fold(source, sub, value, out.setdefault(outKey, {}))

    @staticmethod
    def _select(key, data):
        """The ``(result key, datum)`` pairs the spec key ``key`` takes from ``data``."""
        if isinstance(key, tuple):
            name, regex = key
            return [(name, value) for dataKey, value in data.items() if regex.match(dataKey)]
        if key == '*':
            return list(data.items())
        if key in data:
            return [(key, data[key])]
        return []

    def result(self, root=None):
        """The results as nested dicts, each aggregator's ``result()`` under its name;
        branches where nothing was added are left out. ``root`` (a node of the internal
        tree) defaults to the whole tree."""
        node = root or self._result
        if isinstance(node, Aggregator):
            return node.result()
        return dict((key, self.result(value)) for key, value in node.items() if value)


class FileInclusionTest(object):
    """A ``test`` for ``addJsonDirectory``: leaves out the files ``ignoreByName(fullPath)``
    is true for, and those last modified longer ago than ``maxAge`` (a ``timedelta``). A
    check that raises leaves the file out too."""

    def __init__(self, ignoreByName=None, maxAge=None):
        self.ignoreByName = ignoreByName
        self.maxAge = maxAge

    def __call__(self, _filename, fullPath):
        try:
            if self.ignoreByName and self.ignoreByName(fullPath):
                return False
            if self.maxAge:
                modified = datetime.datetime.fromtimestamp(os.stat(fullPath).st_mtime)
                if datetime.datetime.now() - modified > self.maxAge:
                    return False
            return True
        except Exception:  # pylint: disable=broad-except
            return False
