"""Utilities (``greplin.scales.util``): ``lookup``, ``AtomicValue``, ``EWMA`` and
``GraphiteReporter``."""

import logging
import math
import numbers
import operator
import queue
import random
import socket
import threading
import time

log = logging.getLogger(__name__)


def lookup(source, keys, fallback=None):
    """Chained ``[]``: ``lookup(d, ['a', 'b'])`` is ``d['a']['b']``, or ``fallback`` when missing."""
    try:
        for key in keys:
            source = source[key]
        return source
    except (KeyError, AttributeError, TypeError):
        return fallback


class AtomicValue(object):
    """A value guarded by a lock."""

    def __init__(self, val):
        self._value = val
        self._lock = threading.RLock()

    def update(self, function):
        """Atomically replaces the value with ``function(value)``; returns ``(old, new)``."""
        with self._lock:
            old = self._value
            self._value = function(old)
            return old, self._value

    def getAndSet(self, newVal):
        """Sets the value and returns the old one."""
        return self.update(lambda _: newVal)[0]

    def addAndGet(self, val):
        """Adds to the value and returns the new one."""
        return self.update(lambda x: x + val)[1]

    @property
    def value(self):
        """The current value."""
        return self._value


class EWMA(object):
    """An exponentially weighted moving average of a rate, in events per second.

    ``update(n)`` counts ``n`` events; ``tick()``, called every ``interval`` seconds, turns
    the events counted since the last tick into a rate (``count / interval``) and moves
    ``rate`` towards it by ``alpha`` of the way. The first tick sets ``rate`` to that rate.
    ``oneMinute()``, ``fiveMinute()`` and ``fifteenMinute()`` make the 5-second-tick averages
    of the 1-, 5- and 15-minute load-average kind.
    """

    TICK_RATE = 5  # seconds between ticks
    M1_ALPHA = 1 - math.exp(-TICK_RATE / 60.0)
    M5_ALPHA = 1 - math.exp(-TICK_RATE / 300.0)
    M15_ALPHA = 1 - math.exp(-TICK_RATE / 900.0)

    @classmethod
    def oneMinute(cls):
        """A 1-minute average ticked every 5 seconds."""
        return cls(cls.M1_ALPHA, cls.TICK_RATE)

    @classmethod
    def fiveMinute(cls):
        """A 5-minute average ticked every 5 seconds."""
        return cls(cls.M5_ALPHA, cls.TICK_RATE)

    @classmethod
    def fifteenMinute(cls):
        """A 15-minute average ticked every 5 seconds."""
        return cls(cls.M15_ALPHA, cls.TICK_RATE)

    def __init__(self, alpha, interval):
        self.alpha = alpha
        self.interval = interval
        self.rate = 0
        self._lock = threading.Lock()
        self._events = 0
        self._ticked = False

    def update(self, value):
        """Counts ``value`` events."""
        with self._lock:
            self._events += value

    def tick(self):
        """Folds the events since the last tick into ``rate``."""
        with self._lock:
            events, self._events = self._events, 0
            current = float(events) / self.interval
            if self._ticked:
                self.rate += self.alpha * (current - self.rate)
            else:
                self.rate = current
                self._ticked = True


def _graphiteNumber(value):
    """The text of ``value`` on a Graphite line, or None for what carbon cannot store (None,
    booleans, NaN, infinities)."""
    if value is None or isinstance(value, bool):
        return None
    if not isinstance(value, float):
        try:
            return str(operator.index(value))
        except TypeError:
            if not isinstance(value, numbers.Real):
                return str(value)
    number = float(value)
    if math.isnan(number) or math.isinf(number):
        return None
    return repr(number)


class GraphiteReporter(threading.Thread):
    """Sends single values to carbon's plaintext port at ``host:port``.

    ``log(name, value, valueType=None, stamp=None)`` sends one line now, from the calling
    thread: ``name[.valueType] value stamp`` (spaces in the name become ``-``; the stamp is
    the time of the call unless given). ``enqueue`` (same arguments) queues the line for this
    thread, once ``start()``-ed, to send; at most ``maxQueueSize`` lines wait (0: no limit),
    later ones are dropped and counted in ``dropped``. ``flush()`` waits until the queue is
    sent, ``shutdown()`` sends what is queued and ends the thread.

    The connection opens on the first line and stays open. While carbon cannot be reached
    every send retries, with a randomised backoff growing to 5 s, until it gets through
    (nothing is lost, and the sender waits); the first failure of a run is logged as a
    warning on ``greplin.scales.util``.
    """

    def __init__(self, host, port, maxQueueSize=10000):
        threading.Thread.__init__(self, name='scales-graphite-reporter')
        self.daemon = True
        self.host = host
        self.port = int(port)
        self.maxQueueSize = maxQueueSize
        self.queue = queue.Queue()
        self.sock = None
        self.dropped = 0
        self._sendLock = threading.RLock()

    # -- sending -----------------------------------------------------------------------------

    @staticmethod
    def _line(name, value, valueType=None, stamp=None):
        """The protocol line, or None when the value cannot be sent."""
        text = _graphiteNumber(value)
        if text is None:
            return None
        name = str(name).replace(' ', '-')
        if valueType:
            name += valueType if valueType.startswith('.') else '.' + valueType
        when = time.time() if not stamp else stamp
        return '%s %s %d\n' % (name, text, int(when))

    def log(self, name, value, valueType=None, stamp=None):
        """Sends ``name[.valueType] value stamp`` now (None, booleans, NaN and infinities
        are not sent)."""
        line = self._line(name, value, valueType, stamp)
        if line is None:
            log.debug('Not sending %s to Graphite: %r is not a number carbon stores', name, value)
            return
        self._sendMsg(line.encode('utf-8'))

    def _pause(self, backoff):
        time.sleep(random.uniform(0, 2.0 * backoff))
        return min(backoff * 2.0, 5.0)

    def connect(self):
        """Opens the connection unless it is open, retrying until carbon answers."""
        with self._sendLock:
            backoff = 0.01
            failed = False
            while self.sock is None:
                try:
                    self.sock = socket.create_connection((self.host, self.port), timeout=5)
                except OSError:
                    if not failed:
                        log.warning('Cannot connect to Graphite at %s:%d; retrying',
                                    self.host, self.port, exc_info=True)
                        failed = True
                    backoff = self._pause(backoff)

    def disconnect(self):
        """Closes the connection, if open."""
        with self._sendLock:
            sock, self.sock = self.sock, None
            if sock is not None:
                try:
                    sock.close()
                except OSError:
                    pass

    def _sendMsg(self, msg):
        """Sends ``msg`` (bytes), reconnecting and resending until it gets through."""
        if isinstance(msg, str):
            msg = msg.encode('utf-8')
        with self._sendLock:
            backoff = 0.001
            while True:
                self.connect()
                try:
                    self.sock.sendall(msg)
                    return
                except OSError:
                    log.warning('Graphite connection error', exc_info=True)
                    self.disconnect()
                    backoff = self._pause(backoff)

    # -- the queue ---------------------------------------------------------------------------

    def enqueue(self, name, value, valueType=None, stamp=None):
        """Queues a ``log`` call for this thread (stamped now unless ``stamp`` is given)."""
        if self.maxQueueSize and self.queue.qsize() >= self.maxQueueSize:
            self.dropped += 1
            return
        self.queue.put((name, value, valueType, stamp or time.time()))

    def run(self):
        """Sends queued lines until ``shutdown()``."""
        while True:
            item = self.queue.get()
            try:
                if item is None:
                    return
                try:
                    self.log(*item)
                except Exception:  # pylint: disable=broad-except
                    log.exception('Cannot send %r to Graphite', item)
            finally:
                self.queue.task_done()

    def flush(self):
        """Waits until every queued line is sent (returns at once if the thread is not
        running)."""
        if self.is_alive():
            self.queue.join()

    def shutdown(self):
        """Sends what is queued, then ends the thread and closes the connection."""
        if self.is_alive():
            self.queue.put(None)
            self.queue.join()
            self.join()
        self.disconnect()
