"""greplin.scales on the Rust scales core: the original's API, thread-safe recording.

Stats are class-level descriptors as in the original; their values live in the Rust
registry (``greplin.scales._scales``), which the JSON/HTML formats, the status server and
the Graphite pusher read. See the README's "Python" section for the differences.
"""

import itertools
import json
import sys
import threading
import time
import weakref

from greplin.scales import _scales as _rs

ID_KEY = '__STATS__id'
NEXT_ID = itertools.count()

_LOCK = threading.RLock()


def statsId(obj):
    """The process-wide id of ``obj`` (stored on it as ``__STATS__id``)."""
    try:
        return getattr(obj, ID_KEY)
    except AttributeError:
        pass
    with _LOCK:
        if not hasattr(obj, ID_KEY):
            setattr(obj, ID_KEY, next(NEXT_ID))
    return getattr(obj, ID_KEY)


def _join(path, name):
    path = path.rstrip('/')
    return path + '/' + name


class StatContainer(dict):
    """A node of the tree as ``getStats()`` returns it (a plain dict with ``setCollapsed``)."""

    def setCollapsed(self, isCollapsed):
        """Nothing to fold in a copy; kept for the original's API."""
        self._collapsed = isCollapsed  # pylint: disable=attribute-defined-outside-init

    def isCollapsed(self):
        """Whether setCollapsed(True) was called on this copy."""
        return getattr(self, '_collapsed', False)


class _Container(object):
    """One object's container: its Rust scope and the handles of its stats."""

    __slots__ = ('scope', 'path', 'handles', 'values', 'proxies', '__weakref__')

    def __init__(self, scope):
        self.scope = scope
        self.path = scope.path()
        self.handles = {}
        self.values = {}
        self.proxies = {}

    def setCollapsed(self, isCollapsed):
        """Folds this container in the JSON and HTML views."""
        self.scope.set_collapsed(bool(isCollapsed))
        _markCollapsed(self.path, isCollapsed)

    def __repr__(self):
        return '<scales container %s>' % self.path


class _Stats(object):
    """The registry's Python side: which object owns which container."""

    containerMap = {}
    parentMap = {}
    gauges = {}
    collapsed = set()
    subId = itertools.count(1)

    @classmethod
    def reset(cls):
        with _LOCK:
            cls.containerMap = {}
            cls.parentMap = {}
            cls.gauges = {}
            cls.collapsed = set()
            cls.subId = itertools.count(1)
        _rs.reset()

    @classmethod
    def _register(cls, obj, scope, parent=None):
        oid = statsId(obj)
        with _LOCK:
            existing = cls.containerMap.get(oid)
            if existing is not None:
                return existing
            container = _Container(scope)
            cls.containerMap[oid] = container
            if parent is not None:
                cls.parentMap[oid] = parent
            _declareAggregations(obj, container)
        try:
            weakref.finalize(obj, cls._forget, oid)
        except TypeError:
            pass  # no weak references: kept for the life of the process, as the original
        return container

    @classmethod
    def _forget(cls, oid):
        with _LOCK:
            cls.containerMap.pop(oid, None)
            cls.parentMap.pop(oid, None)

    @classmethod
    def getContainer(cls, obj):
        """The container of ``obj``, or None."""
        return cls.containerMap.get(getattr(obj, ID_KEY, None))


def _declareAggregations(obj, container):
    """Aggregation stats read the children's stats: they are declared with their object."""
    for klass in type(obj).__mro__:
        for value in vars(klass).values():
            if isinstance(value, AggregationStat):
                value._handle(obj, container)


def _markCollapsed(path, isCollapsed):
    if isCollapsed:
        _Stats.collapsed.add(path)
    else:
        _Stats.collapsed.discard(path)


def _scopePath(context):
    if context is None:
        return '/'
    return '/' + str(context).lstrip('/')


def init(obj, context=None):
    """Registers ``obj`` at the path ``context`` (the root when None) and returns its container."""
    existing = _Stats.getContainer(obj)
    if existing is not None:
        return existing
    return _Stats._register(obj, _rs.scope(_scopePath(context)))


def _findParent():
    """The original's stack inspection: the child is the first ``self`` up the stack, the
    parent the next different one."""
    frame = sys._getframe(2)  # pylint: disable=protected-access
    this = None
    while frame is not None:
        candidate = frame.f_locals.get('self')
        if candidate:
            this = candidate
            break
        frame = frame.f_back
    while frame is not None:
        candidate = frame.f_locals.get('self')
        if candidate and candidate is not this and candidate != this:
            return candidate
        frame = frame.f_back
    return None


def _initChildAt(obj, relative, parent):
    existing = _Stats.getContainer(obj)
    if existing is not None:
        return existing
    parentContainer = _Stats.getContainer(parent) if parent is not None else None
    if parentContainer is None and parent is not None:
        import unittest  # pylint: disable=import-outside-toplevel
        if isinstance(parent, unittest.TestCase):
            parentContainer = init(parent, '/test-case')
    if parentContainer is None:
        scope = _rs.scope('/' + relative)
    else:
        scope = parentContainer.scope.child(relative)
    return _Stats._register(obj, scope, parent)


def initChild(obj, name):
    """Registers ``obj`` below the object whose method called this one, at ``name``."""
    return _initChildAt(obj, name, _findParent())


def initChildOfType(obj, name, subContext=None):
    """As initChild, at ``name/<n>`` (n counts up process-wide) or ``name/subContext``."""
    parent = _findParent()
    if subContext is None:
        subContext = next(_Stats.subId)
    return _initChildAt(obj, '%s/%s' % (name, subContext), parent)


def reset():
    """Removes every stat (for tests)."""
    _Stats.reset()


def _loadJson(text):
    return json.loads(text, object_hook=StatContainer)


def getStats():
    """A copy of the whole tree as nested dicts (gauges as their callables, as the original)."""
    text = _rs.json_text(None, False)
    root = _loadJson(text) if text else StatContainer()
    # The JSON leaves collapsed containers out; the original's tree had them.
    for path in sorted(_Stats.collapsed, key=len):
        parts = [p for p in path.split('/') if p]
        sub = _rs.json_text(path, False)
        node = root
        for part in parts[:-1]:
            node = node.setdefault(part, StatContainer()) if isinstance(node, dict) else None
            if node is None:
                break
        if sub and parts and isinstance(node, dict):
            node[parts[-1]] = _loadJson(sub)
            if isinstance(node[parts[-1]], StatContainer):
                node[parts[-1]].setCollapsed(True)
    for (path, name), fn in list(_Stats.gauges.items()):
        node = root
        for part in [p for p in path.split('/') if p]:
            node = node.get(part) if isinstance(node, dict) else None
            if node is None:
                break
        if isinstance(node, dict) and name in node:
            node[name] = fn
    return root


def setCollapsed(path):
    """Folds the container at ``path`` in the JSON and HTML views."""
    _rs.set_collapsed(_scopePath(path), True)
    _markCollapsed(_scopePath(path), True)


def filterCollapsedItems(data):
    """The original's helper: the items of ``data`` that are not collapsed containers."""
    return ((key, value) for key, value in data.items()
            if not (isinstance(value, StatContainer) and value.isCollapsed()))


class StatContainerEncoder(json.JSONEncoder):
    """JSON encoder for trees from getStats(): gauges are called."""

    def default(self, obj):  # pylint: disable=method-hidden
        if callable(obj):
            return obj()
        if hasattr(obj, 'keys'):
            return dict(obj)
        return json.JSONEncoder.default(self, obj)


def dumpStatsTo(filename):
    """Writes the tree as JSON to ``filename`` (atomically; with ``last-updated``)."""
    _rs.dump_to(filename)


# ---------------------------------------------------------------------------------------------
# Values that make `x += n` one atomic add.


class _FloatValue(float):
    """What a DoubleStat reads as (``+=`` is an atomic add)."""

    def __iadd__(self, other):
        result = _FloatDelta(float(self) + other)
        result.delta = float(other)
        return result

    def __isub__(self, other):
        result = _FloatDelta(float(self) - other)
        result.delta = -float(other)
        return result


class _FloatDelta(float):
    """The result of ``+=`` on a _FloatValue."""


# ---------------------------------------------------------------------------------------------
# Stat descriptors


class Stat(object):
    """A value, or a gauge when set to a callable (called at each read of the tree)."""

    def __init__(self, name, value='', logger=None):
        self._name = name
        self._value = value
        self._logger = logger

    @property
    def name(self):
        """The stat's name in the tree."""
        return self._name

    def logger(self, logger):
        """Calls ``logger(message)`` on every set."""
        self._logger = logger
        return self

    def _getInit(self):
        return self._value

    def _getDefault(self, _instance):
        return self._value

    def _declare(self, container):
        return container.scope.value_stat(self._name)

    def _handle(self, instance, container=None):
        if container is None:
            container = _Stats.getContainer(instance)
            if container is None:
                raise TypeError('argument of type \'NoneType\' is not iterable '
                                '(scales.init was not called on %r)' % (instance,))
        handle = container.handles.get(self._name)
        if handle is None:
            with _LOCK:
                handle = container.handles.get(self._name)
                if handle is None:
                    handle = self._declare(container)
                    container.handles[self._name] = handle
                    self._declared(instance, container, handle)
        return handle

    def _declared(self, instance, container, handle):
        pass

    def _container(self, instance):
        container = _Stats.getContainer(instance)
        if container is None:
            raise TypeError('argument of type \'NoneType\' is not iterable '
                            '(scales.init was not called on %r)' % (instance,))
        return container

    def __get__(self, instance, owner=None):
        if instance is None:
            return self
        container = self._container(instance)
        if self._name not in container.values:
            self._store(instance, container, self._getDefault(instance))
        return container.values[self._name]

    def _store(self, instance, container, value):
        handle = self._handle(instance, container)
        if callable(value):
            handle.set_gauge(value)
            _Stats.gauges[(container.path, self._name)] = value
        else:
            handle.set(value)
            _Stats.gauges.pop((container.path, self._name), None)
        container.values[self._name] = value

    def __set__(self, instance, value):
        self._store(instance, self._container(instance), value)
        if self._logger is not None:
            self._logger('Updated stat "%s" with value: %s' % (self._name, value))


class IntStat(_rs.IntDescriptor, Stat):
    """An integer; ``stat += n`` is one atomic add.

    ``__get__``/``__set__`` are the Rust base's: a read returns an int-like value whose
    ``+=``/``-=``, assigned back, is applied as one add (so no update is lost under threads).
    """

    def __init__(self, name, value=0):  # pylint: disable=super-init-not-called
        Stat.__init__(self, name, value)

    def _declare(self, container):
        return container.scope.int_stat(self._name)

    def _declared(self, instance, container, handle):
        if self._value:
            handle.set(int(self._value))

    def _cached(self, instance):
        """The handle, declared on first use and cached in the instance's __dict__."""
        handle = self._handle(instance)
        try:
            instance.__dict__[self._handle_key] = handle
        except AttributeError:
            pass
        return handle

    def logger(self, logger):
        """Calls ``logger(message)`` on every set."""
        Stat.logger(self, logger)
        self._set_logged(logger is not None)
        return self

    def _log(self, value):
        self._logger('Updated stat "%s" with value: %s' % (self._name, value))


class DoubleStat(Stat):
    """A float; ``stat += x`` is one atomic add."""

    def __init__(self, name, value=0.0):
        Stat.__init__(self, name, value)

    def _declare(self, container):
        return container.scope.double_stat(self._name)

    def _declared(self, instance, container, handle):
        if self._value:
            handle.set(float(self._value))

    def __get__(self, instance, owner=None):
        if instance is None:
            return self
        return _FloatValue(self._handle(instance).get())

    def __set__(self, instance, value):
        handle = self._handle(instance)
        if type(value) is _FloatDelta:  # pylint: disable=unidiomatic-typecheck
            handle.add(value.delta)
        else:
            handle.set(float(value))


class _Proxy(object):
    """A dict-like view of a structured stat (reads come from a snapshot of it)."""

    def __init__(self, handle, path):
        self._h = handle
        self._path = path

    def _read(self):
        text = _rs.json_text(self._path, False)
        data = json.loads(text) if text else {}
        return data if isinstance(data, dict) else {}

    def __getitem__(self, key):
        return self._read().get(key, self._missing())

    def _missing(self):
        return 0.0

    def get(self, key, default=None):
        """A key of the stat's current value."""
        return self._read().get(key, default)

    def keys(self):
        """The keys of the stat's current value."""
        return self._read().keys()

    def items(self):
        """The items of the stat's current value."""
        return self._read().items()

    def values(self):
        """The values of the stat's current value."""
        return self._read().values()

    def __iter__(self):
        return iter(self._read())

    def __len__(self):
        return len(self._read())

    def __contains__(self, key):
        return str(key) in self._read()

    def __eq__(self, other):
        return self._read() == other

    def __ne__(self, other):
        return not self == other

    __hash__ = None

    def __repr__(self):
        return repr(self._read())


class _StructuredStat(_rs.ProxyDescriptor, Stat):
    """A stat whose value is a proxy object (dicts, distributions, meters).

    The proxy and the handle are cached in the instance's ``__dict__`` after the first access,
    so that the hot path is one dictionary lookup.
    """

    _proxyClass = _Proxy

    def __init__(self, name, _=None):  # pylint: disable=super-init-not-called
        Stat.__init__(self, name, None)
        self._pkey = self._proxy_key
        self._hkey = '__scales_handle_' + name

    def _proxy(self, instance):
        container = self._container(instance)
        proxy = container.proxies.get(self._name)
        if proxy is None:
            proxy = self._proxyClass(self._handle(instance, container), _join(container.path, self._name))
            container.proxies[self._name] = proxy
        try:
            instance.__dict__[self._pkey] = proxy
            instance.__dict__[self._hkey] = proxy._h
        except AttributeError:
            pass
        return proxy

    def _fastHandle(self, instance):
        try:
            return instance.__dict__[self._hkey]
        except (KeyError, AttributeError):
            return self._proxy(instance)._h


class IntDict(_rs.IntDictBase, _Proxy):
    """An IntDictStat's value: ``d[key] += n`` is one atomic add (in the Rust base); missing
    keys read 0."""

    def _read(self):
        return dict(self._h.entries())


class IntDictStat(_StructuredStat):
    """Integers by key (``autoDelete=True`` drops keys that reach 0)."""

    _proxyClass = IntDict

    def __init__(self, name, autoDelete=False):
        _StructuredStat.__init__(self, name)
        self._autoDelete = autoDelete

    def _declare(self, container):
        return container.scope.int_dict_stat(self._name, self._autoDelete)

    def __set__(self, instance, value):
        proxy = self._proxy(instance)
        for key, item in dict(value).items():
            proxy[key] = item


class StringDict(_Proxy):
    """A StringDictStat's value; missing keys read ''."""

    def __getitem__(self, key):
        return self._h.get(str(key))

    def __setitem__(self, key, value):
        self._h.set(str(key), str(value))

    def __delitem__(self, key):
        self._h.remove(str(key))

    def _read(self):
        return dict(self._h.entries())


class StringDictStat(_StructuredStat):
    """Strings by key."""

    _proxyClass = StringDict

    def _declare(self, container):
        return container.scope.string_dict_stat(self._name)

    def __set__(self, instance, value):
        proxy = self._proxy(instance)
        for key, item in dict(value).items():
            proxy[key] = item


_SUMMARY_PERCENTILES = ((0.5, 'median'), (0.75, '75percentile'), (0.95, '95percentile'),
                        (0.98, '98percentile'), (0.99, '99percentile'), (0.999, '999percentile'))


class PmfStatDict(_Proxy):
    """A distribution's summary: ``addValue(v)``, ``time()``, ``percentile99`` and the
    summary's keys (``count``, ``min``, ``max``, ``mean``, ``stddev``, ``median``,
    ``75percentile`` ... ``999percentile``; missing keys read 0.0).

    ``PmfStatDict(sample=None)`` made directly (or by ``PmfStat(name, sample=...)``) keeps its
    values in ``sample``, a ``samplestats`` sampler (a new ``samplestats.Sketch()`` when
    None): ``count`` counts every value, the other keys are the sampler's statistics of what
    it kept, read afresh at each access. A ``PmfStat`` without ``sample`` records into the
    Rust core instead (same keys).
    """

    def __init__(self, sample=None):  # pylint: disable=super-init-not-called
        if sample is None:
            from greplin.scales import samplestats  # pylint: disable=import-outside-toplevel
            sample = samplestats.Sketch()
        self.sample = sample
        self._count = 0
        self._lock = threading.RLock()

    def time(self):
        """A context manager recording its block's duration in seconds."""
        return PmfStatDict.TimeManager(self)

    def addValue(self, value):
        """Records a value."""
        with self._lock:
            self._count += 1
            self.sample.update(value)

    def _read(self):
        with self._lock:
            summary = {'count': self._count}
            sample = self.sample
            if len(sample) == 0:
                return summary
            summary['min'] = float(sample.min)
            summary['max'] = float(sample.max)
            summary['mean'] = float(sample.mean)
            summary['stddev'] = float(sample.stddev)
            values = sample.percentiles([p for p, _ in _SUMMARY_PERCENTILES])
            for (_, key), value in zip(_SUMMARY_PERCENTILES, values):
                summary[key] = float(value)
            return summary

    @property
    def percentile99(self):
        """The 99th percentile, or None before two values (as the original)."""
        return _percentile99(self._read())

    class TimeManager(object):
        """``with d.time() as t:`` adds the block's seconds (monotonic clock) on exit;
        ``t.discard()`` drops them, ``t.warn99(logger, msg, *args)`` warns on exit when the
        block took at least the 99th percentile of the values before it."""

        def __init__(self, target):
            self._target = target
            self._start = time.perf_counter()
            self._armed = True
            self._warn = None

        def __enter__(self):
            self._start = time.perf_counter()
            return self

        def __exit__(self, *_exc):
            if not self._armed:
                return False
            self._armed = False
            took = self.elapsed()
            threshold = self._target.percentile99 if self._warn is not None else None
            self._target.addValue(took)
            if threshold is not None and took >= threshold:
                logger, msg, args = self._warn
                warn = getattr(logger, 'warning', None) or logger.warn
                warn(msg, *args)
            return False

        def elapsed(self):
            """Seconds since the block started."""
            return time.perf_counter() - self._start

        def warn99(self, logger, msg, *args):
            """On exit, ``logger.warning(msg, *args)`` if the block took the p99 or longer."""
            self._warn = (logger, msg, args)

        def discard(self):
            """Records nothing when the block ends."""
            self._armed = False


class _CorePmfStatDict(PmfStatDict):
    """The value of a ``PmfStat`` without ``sample``: a view of the Rust core's sketch."""

    def __init__(self, handle, path):  # pylint: disable=super-init-not-called
        _Proxy.__init__(self, handle, path)
        self.sample = None

    def time(self):
        """A context manager recording its block's duration in seconds."""
        return self._h.time()

    def addValue(self, value):
        """Records a value."""
        self._h.record(float(value))

    def _read(self):
        return _Proxy._read(self)


def _percentile99(summary):
    if not isinstance(summary, dict) or summary.get('count', 0) < 2:
        return None
    return summary.get('99percentile')


class PmfStat(_StructuredStat):
    """A distribution: assigning a value records it; ``with stat.time():`` records a duration.

    Without ``sample`` the values go to the Rust core's sketch. With ``sample`` each object
    gets a ``PmfStatDict`` keeping its values in a ``samplestats`` sampler: ``sample`` is a
    sampler class or a function returning a new sampler (called once per object), or a
    sampler instance (then shared by every object of the class).
    """

    _proxyClass = _CorePmfStatDict

    def __init__(self, name, _=None, sample=None):
        _StructuredStat.__init__(self, name)
        self._sample = sample

    def _newSample(self):
        sample = self._sample
        if isinstance(sample, type) or (callable(sample) and not hasattr(sample, 'update')):
            return sample()
        return sample

    def _declare(self, container):
        if self._sample is None:
            return container.scope.pmf_stat(self._name)
        return container.scope.value_stat(self._name)

    def _declared(self, instance, container, handle):
        if self._sample is not None:
            proxy = PmfStatDict(self._newSample())
            container.proxies[self._name] = proxy
            handle.set_gauge(proxy._read)

    def _proxy(self, instance):
        if self._sample is None:
            return _StructuredStat._proxy(self, instance)
        container = self._container(instance)
        self._handle(instance, container)  # declares the gauge and its dict once
        proxy = container.proxies[self._name]
        try:
            instance.__dict__[self._pkey] = proxy
        except AttributeError:
            pass
        return proxy

    def __set__(self, instance, value):
        if self._sample is None:
            self._fastHandle(instance).record(value)
        else:
            self._proxy(instance).addValue(value)


class _NamedPmfEntry(object):
    """One key of a NamedPmfDictStat."""

    def __init__(self, handle, key, path):
        self._h = handle
        self._key = key
        self._path = path

    def time(self):
        """A context manager recording its block's duration in seconds under this key."""
        return self._h.time(self._key)

    def addValue(self, value):
        """Records a value under this key."""
        self._h.record(self._key, float(value))

    def _summary(self):
        text = _rs.json_text(self._path, False)
        data = json.loads(text) if text else {}
        return data.get(self._key, {}) if isinstance(data, dict) else {}

    def __getitem__(self, item):
        return self._summary().get(item, 0.0)

    @property
    def percentile99(self):
        """The 99th percentile of this key, or None before two values."""
        return _percentile99(self._summary())


class NamedPmfDict(_Proxy):
    """Distributions by key: ``d[key] = v`` records, ``d[key].time()`` times."""

    def __getitem__(self, key):
        return _NamedPmfEntry(self._h, str(key), self._path)

    def __setitem__(self, key, value):
        self._h.record(str(key), float(value))


class NamedPmfDictStat(_StructuredStat):
    """Distributions by key."""

    _proxyClass = NamedPmfDict

    def _declare(self, container):
        return container.scope.named_pmf_dict_stat(self._name)


PmfDictStat = NamedPmfDictStat


class StateTimeStatDict(_Proxy):
    """A StateTimeStat's value: seconds spent in each state."""

    def acquire(self):
        """A context manager: the state is one higher inside the block (in-use counts)."""
        return self._h.acquire()


class StateTimeStat(_StructuredStat):
    """Time in each state: assigning a value switches to that state."""

    _proxyClass = StateTimeStatDict

    def _declare(self, container):
        return container.scope.state_time_stat(self._name)

    def __set__(self, instance, value):
        self._fastHandle(instance).set_state(str(value))


class AggregationStat(Stat):
    """Base of the stats that combine the children's stats of the same name."""

    _kind = None

    def __init__(self, name, autoDelete=False):
        Stat.__init__(self, name, None)
        self._autoDelete = autoDelete

    def _declare(self, container):
        return container.scope.aggregation_stat(self._kind, self._name, self._autoDelete)

    def __get__(self, instance, owner=None):
        if instance is None:
            return self
        container = self._container(instance)
        self._handle(instance, container)
        text = _rs.json_text(_join(container.path, self._name), False)
        return json.loads(text) if text else None

    def __set__(self, instance, value):
        raise AttributeError('aggregation stat %r is computed from the children' % self._name)


ChildAggregationStat = AggregationStat


class SumAggregationStat(AggregationStat):
    """The sum of the children's stats of the same name."""

    _kind = 'sum'


class HistogramAggregationStat(AggregationStat):
    """How many children have each value of the stat of the same name."""

    _kind = 'histogram'


class IntDictSumAggregationStat(AggregationStat):
    """The children's IntDictStats of the same name, summed key by key."""

    _kind = 'intdictsum'


class PmfAggregationStat(AggregationStat):
    """The children's PmfStats of the same name, merged into one distribution (Rust extra)."""

    _kind = 'pmf'


def collection(path, *stats):
    """An object at ``path`` holding ``stats`` as attributes: ``STATS.success += 1``."""

    def initStats(self):
        self.__dict__[ID_KEY] = next(NEXT_ID)
        container = _Stats._register(self, _rs.collection_scope(_scopePath(path)))
        for stat in stats:
            value = stat._getInit()
            if value:
                setattr(self, stat.name, value)
            else:
                stat._handle(self, container)

    attributes = dict((stat.name, stat) for stat in stats)
    attributes['__init__'] = initStats
    klass = type('Stats:' + str(path), (object,), attributes)
    return klass()
