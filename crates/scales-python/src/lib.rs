//! `greplin.scales._scales`: the Rust side of the Python drop-in for Greplin's *scales*.
//!
//! Python's `greplin.scales` package (in `python/`) keeps the original's API — descriptors,
//! `collection`, `init`, `initChild`, `getStats` — and records into the handles of this
//! module, which are the stats of the process-wide [`scales::registry`]. Everything that
//! reads (JSON, HTML, the status server, the Graphite pusher) reads that registry.
//!
//! Every call that takes a snapshot releases the GIL first: gauges written in Python are
//! evaluated by the core (possibly on another thread, under the gauge timeout) and take the
//! GIL themselves.
// PyO3's macros expand to `pub` items the workspace's `unreachable_pub` lint flags; the
// module has no Rust API, so the lint says nothing useful here.
#![allow(unreachable_pub)]

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use pyo3::exceptions::{PyOSError, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::GILOnceCell;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple, PyType};
use scales::format::{graphite as gfmt, html, json};
use scales::{StatOptions, Value};

mod int_ref;

fn err(e: impl std::fmt::Display) -> PyErr {
    PyValueError::new_err(e.to_string())
}

/// A Python value as a scales value: None, bool, int, float, str, list/tuple and dict map
/// directly; anything else is shown as its `str()`.
fn to_value(obj: &Bound<'_, PyAny>) -> PyResult<Value> {
    if obj.is_none() {
        return Ok(Value::Null);
    }
    if let Ok(b) = obj.downcast::<PyBool>() {
        return Ok(Value::Bool(b.is_true()));
    }
    if obj.is_instance_of::<PyInt>() {
        return Ok(match obj.extract::<i64>() {
            Ok(i) => Value::Int(i),
            Err(_) => Value::Float(obj.extract::<f64>()?),
        });
    }
    if obj.is_instance_of::<PyFloat>() {
        return Ok(Value::Float(obj.extract::<f64>()?));
    }
    if let Ok(s) = obj.downcast::<PyString>() {
        return Ok(Value::Str(s.to_cow()?.into_owned()));
    }
    if let Ok(d) = obj.downcast::<PyDict>() {
        let mut out = Vec::with_capacity(d.len());
        for (k, v) in d.iter() {
            out.push((k.str()?.to_cow()?.into_owned(), to_value(&v)?));
        }
        return Ok(Value::Map(out));
    }
    if obj.is_instance_of::<PyList>() || obj.is_instance_of::<PyTuple>() {
        let mut out = Vec::new();
        for v in obj.try_iter()? {
            out.push(to_value(&v?)?);
        }
        return Ok(Value::List(out));
    }
    if obj.is_callable() {
        return to_value(&obj.call0()?);
    }
    Ok(Value::Str(obj.str()?.to_cow()?.into_owned()))
}

/// The owner of a container in the tree (one per Python object that was `init`ed).
#[pyclass(module = "greplin.scales._scales", frozen)]
struct Scope {
    inner: scales::Scope,
}

fn opts(auto_delete: bool) -> StatOptions {
    if auto_delete {
        StatOptions::auto_delete()
    } else {
        StatOptions::default()
    }
}

#[pymethods]
impl Scope {
    /// A child scope at a relative path.
    fn child(&self, relative: &str) -> PyResult<Scope> {
        Ok(Scope {
            inner: self.inner.child(relative).map_err(err)?,
        })
    }
    /// Folds this container in the views.
    fn set_collapsed(&self, collapsed: bool) {
        self.inner.set_collapsed(collapsed);
    }
    /// The path, such as `/web`.
    fn path(&self) -> String {
        self.inner.path().to_string()
    }
    fn int_stat(&self, name: &str) -> PyResult<IntStat> {
        Ok(IntStat(self.inner.int_stat(name).map_err(err)?))
    }
    fn double_stat(&self, name: &str) -> PyResult<DoubleStat> {
        Ok(DoubleStat(self.inner.double_stat(name).map_err(err)?))
    }
    fn value_stat(&self, name: &str) -> PyResult<ValueStat> {
        Ok(ValueStat(self.inner.stat(name).map_err(err)?))
    }
    #[pyo3(signature = (name, auto_delete=false))]
    fn int_dict_stat(&self, name: &str, auto_delete: bool) -> PyResult<IntDictStat> {
        Ok(IntDictStat(
            self.inner
                .declare_with(name, opts(auto_delete))
                .map_err(err)?,
        ))
    }
    fn string_dict_stat(&self, name: &str) -> PyResult<StringDictStat> {
        Ok(StringDictStat(
            self.inner.string_dict_stat(name).map_err(err)?,
        ))
    }
    fn pmf_stat(&self, name: &str) -> PyResult<PmfStat> {
        Ok(PmfStat(self.inner.pmf_stat(name).map_err(err)?))
    }
    fn named_pmf_dict_stat(&self, name: &str) -> PyResult<NamedPmfDictStat> {
        Ok(NamedPmfDictStat(
            self.inner.named_pmf_dict_stat(name).map_err(err)?,
        ))
    }
    fn meter_stat(&self, name: &str) -> PyResult<MeterStat> {
        Ok(MeterStat(self.inner.meter_stat(name).map_err(err)?))
    }
    fn meter_dict_stat(&self, name: &str) -> PyResult<MeterDictStat> {
        Ok(MeterDictStat(
            self.inner.meter_dict_stat(name).map_err(err)?,
        ))
    }
    fn state_time_stat(&self, name: &str) -> PyResult<StateTimeStat> {
        Ok(StateTimeStat(
            self.inner.state_time_stat(name).map_err(err)?,
        ))
    }
    /// Declares an aggregation stat (`sum`, `histogram`, `intdictsum` or `pmf`); the
    /// returned object keeps it declared.
    #[pyo3(signature = (kind, name, auto_delete=false))]
    fn aggregation_stat(&self, kind: &str, name: &str, auto_delete: bool) -> PyResult<Held> {
        let held = match kind {
            "sum" => HeldInner::Sum(self.inner.sum_aggregation_stat(name).map_err(err)?),
            "histogram" => HeldInner::Histogram(
                self.inner
                    .declare_with(name, opts(auto_delete))
                    .map_err(err)?,
            ),
            "intdictsum" => HeldInner::IntDictSum(
                self.inner
                    .int_dict_sum_aggregation_stat(name)
                    .map_err(err)?,
            ),
            "pmf" => HeldInner::Pmf(self.inner.pmf_aggregation_stat(name).map_err(err)?),
            other => return Err(err(format!("unknown aggregation kind {other:?}"))),
        };
        Ok(Held(held))
    }
}

/// Keeps an aggregation stat declared.
#[allow(dead_code)]
enum HeldInner {
    Sum(scales::SumAggregationStat),
    Histogram(scales::HistogramAggregationStat),
    IntDictSum(scales::IntDictSumAggregationStat),
    Pmf(scales::PmfAggregationStat),
}

/// An aggregation stat's handle (nothing to record: it reads the children).
#[pyclass(module = "greplin.scales._scales", frozen)]
struct Held(#[allow(dead_code)] HeldInner);

#[pyclass(module = "greplin.scales._scales", frozen)]
struct IntStat(scales::IntStat);

#[pymethods]
impl IntStat {
    fn get(&self) -> i64 {
        self.0.get()
    }
    fn set(&self, v: i64) {
        self.0.set(v);
    }
    fn add(&self, n: i64) {
        self.0.add(n);
    }
}

/// A value assigned to an int stat as a number: an int, or a float truncated.
/// An int outside the 64-bit range is refused with Python's `OverflowError` (a float would
/// saturate it silently).
fn as_i64(value: &Bound<'_, PyAny>) -> PyResult<i64> {
    match value.extract::<i64>() {
        Ok(v) => Ok(v),
        Err(e) if value.is_instance_of::<PyInt>() => Err(e),
        Err(e) => value.extract::<f64>().map(|f| f as i64).map_err(|_| e),
    }
}

/// The descriptor behind Python's `IntStat` (its base class): `__get__` and `__set__` run
/// here, so `self.requests += 1` costs no Python frame once the handle is cached in the
/// instance's `__dict__` (the Python side's `_cached(instance)` declares it the first time).
#[pyclass(module = "greplin.scales._scales", subclass, frozen)]
struct IntDescriptor {
    key: Py<PyString>,
    /// Whether `_log` is called on each set (the Python side's `logger(fn)` turns it on).
    logged: AtomicBool,
}

impl IntDescriptor {
    fn handle<'py>(
        slf: &Bound<'py, Self>,
        instance: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, IntStat>> {
        let py = slf.py();
        let key = slf.get().key.bind(py);
        let found = match instance_dict_get(instance, key) {
            Some(h) => h,
            None => match instance.getattr(key) {
                Ok(h) => h,
                Err(_) => slf.call_method1(pyo3::intern!(py, "_cached"), (instance,))?,
            },
        };
        static INT_STAT: GILOnceCell<Py<PyType>> = GILOnceCell::new();
        let int_stat = INT_STAT.get_or_init(py, || py.get_type::<IntStat>().unbind());
        if found.get_type().is(int_stat) {
            // SAFETY: the object's type is exactly `IntStat` (which has no subclasses).
            // PyO3's own check fetches the type through a lazy cell on every call: a third
            // of what the rest of a read costs in Rust.
            Ok(unsafe { found.downcast_into_unchecked::<IntStat>() })
        } else {
            Ok(found.downcast_into::<IntStat>()?)
        }
    }
}

#[pymethods]
impl IntDescriptor {
    #[new]
    #[pyo3(signature = (name, *_args, **_kwargs))]
    fn new(
        py: Python<'_>,
        name: &str,
        _args: &Bound<'_, PyTuple>,
        _kwargs: Option<&Bound<'_, PyDict>>,
    ) -> Self {
        IntDescriptor {
            key: PyString::intern(py, &format!("__scales_handle_{name}")).unbind(),
            logged: AtomicBool::new(false),
        }
    }
    /// Calls `_log(value)` on each set from now on.
    fn _set_logged(&self, on: bool) {
        self.logged.store(on, Ordering::Relaxed);
    }
    /// The instance attribute the handle is cached under.
    #[getter]
    fn _handle_key(&self, py: Python<'_>) -> Py<PyString> {
        self.key.clone_ref(py)
    }
    fn __get__(
        slf: &Bound<'_, Self>,
        instance: Option<&Bound<'_, PyAny>>,
        _owner: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        let py = slf.py();
        let Some(instance) = instance.filter(|i| !i.is_none()) else {
            return Ok(slf.clone().into_any().unbind());
        };
        let handle = Self::handle(slf, instance)?;
        let value = handle.get().0.get();
        Ok(int_ref::new(py, value, handle.as_any(), instance, Some(slf.as_any()))?.unbind())
    }
    fn __set__(
        slf: &Bound<'_, Self>,
        instance: &Bound<'_, PyAny>,
        value: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        let py = slf.py();
        match int_ref::view(value) {
            // `self.x += n`: the value read through this very descriptor and instance, changed
            // (an unchanged read assigned back, `self.x = kept`, sets its value).
            Some(r)
                if r.delta() != 0
                    && r.context() == instance.as_ptr()
                    && r.extra(py).is_some_and(|d| d.is(slf)) =>
            {
                let handle = r.handle(py);
                // SAFETY: a read through this descriptor holds the `IntStat` that `__get__`
                // found (`handle` returns only `IntStat`s).
                let stat = unsafe { handle.downcast_unchecked::<IntStat>() };
                stat.get().0.add(r.delta());
            }
            Some(r) => Self::handle(slf, instance)?.get().0.set(r.value()),
            None => Self::handle(slf, instance)?.get().0.set(as_i64(value)?),
        }
        if slf.get().logged.load(Ordering::Relaxed) {
            slf.call_method1(pyo3::intern!(slf.py(), "_log"), (value,))?;
        }
        Ok(())
    }
}

/// The base of Python's structured stats (dicts, distributions, meters): `__get__` returns
/// the proxy cached in the instance's `__dict__`, or asks the Python side's
/// `_proxy(instance)` the first time.
#[pyclass(module = "greplin.scales._scales", subclass, frozen)]
struct ProxyDescriptor {
    key: Py<PyString>,
}

#[pymethods]
impl ProxyDescriptor {
    #[new]
    #[pyo3(signature = (name, *_args, **_kwargs))]
    fn new(
        py: Python<'_>,
        name: &str,
        _args: &Bound<'_, PyTuple>,
        _kwargs: Option<&Bound<'_, PyDict>>,
    ) -> Self {
        ProxyDescriptor {
            key: PyString::intern(py, &format!("__scales_proxy_{name}")).unbind(),
        }
    }
    /// The instance attribute the proxy is cached under.
    #[getter]
    fn _proxy_key(&self, py: Python<'_>) -> Py<PyString> {
        self.key.clone_ref(py)
    }
    fn __get__(
        slf: &Bound<'_, Self>,
        instance: Option<&Bound<'_, PyAny>>,
        _owner: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        let py = slf.py();
        let Some(instance) = instance.filter(|i| !i.is_none()) else {
            return Ok(slf.clone().into_any().unbind());
        };
        let key = slf.get().key.bind(py);
        if let Some(proxy) = instance_dict_get(instance, key) {
            return Ok(proxy.unbind());
        }
        match instance.getattr(key) {
            Ok(proxy) => Ok(proxy.unbind()),
            Err(_) => Ok(slf
                .call_method1(pyo3::intern!(py, "_proxy"), (instance,))?
                .unbind()),
        }
    }
}

/// A dict key as the original stores it: its `str()`.
fn key_text(key: &Bound<'_, PyAny>) -> PyResult<String> {
    Ok(key.str()?.to_cow()?.into_owned())
}

/// Runs `f` with the key's text, in place for a `str` key.
fn with_key_text<R>(key: &Bound<'_, PyAny>, f: impl FnOnce(&str) -> PyResult<R>) -> PyResult<R> {
    match key.downcast_exact::<PyString>() {
        Ok(s) => match str_in_place(s) {
            Some(text) => f(text),
            None => f(&s.to_cow()?),
        },
        Err(_) => f(&key_text(key)?),
    }
}

/// The UTF-8 a `str` keeps inside it, without a copy; `None` when it has none (lone
/// surrogates) or on platforms where the call is not linked.
///
/// PyO3's `to_str` is not available to an abi3 build for Python 3.8 (the function joined the
/// limited API in 3.10), and its `to_cow` then makes a bytes object and a copy per call:
/// most of the cost of `d[key] += 1`. The function itself is in every CPython 3 (since
/// 3.3); on Unix the module resolves it from the running interpreter.
fn str_in_place<'a>(s: &'a Bound<'_, PyString>) -> Option<&'a str> {
    #[cfg(unix)]
    {
        extern "C" {
            fn PyUnicode_AsUTF8AndSize(
                unicode: *mut pyo3::ffi::PyObject,
                size: *mut pyo3::ffi::Py_ssize_t,
            ) -> *const std::os::raw::c_char;
        }
        let mut size: pyo3::ffi::Py_ssize_t = 0;
        // SAFETY: `s` is a live `str` (the GIL is held through the `Bound`); the function
        // returns a pointer to its cached UTF-8, valid as long as the object, or null with
        // an exception set (cleared below).
        let data = unsafe { PyUnicode_AsUTF8AndSize(s.as_ptr(), &mut size) };
        if data.is_null() {
            drop(PyErr::take(s.py()));
            return None;
        }
        // SAFETY: `size` bytes at `data`, owned by `s`, which outlives the returned borrow;
        // they are UTF-8 by the function's contract (CPython encodes the cache strictly and
        // fails, above, on what does not encode), so they are not checked again.
        unsafe {
            let bytes = std::slice::from_raw_parts(data.cast::<u8>(), size as usize);
            Some(std::str::from_utf8_unchecked(bytes))
        }
    }
    #[cfg(not(unix))]
    {
        let _ = s;
        None
    }
}

/// `instance.__dict__[key]`, looked up directly: `None` when the instance has no `__dict__`
/// or the key is not in it (the caller then asks `getattr`), or where the call is not linked.
///
/// `getattr` first searches the instance's type for a descriptor of that name, which costs
/// as much again as the lookup itself. `PyObject_GenericGetDict` is in every CPython 3 (since
/// 3.3) but joined the limited API in 3.10, so an abi3 build for 3.8 resolves it from the
/// running interpreter, as `str_in_place` does `PyUnicode_AsUTF8AndSize`.
fn instance_dict_get<'py>(
    instance: &Bound<'py, PyAny>,
    key: &Bound<'py, PyString>,
) -> Option<Bound<'py, PyAny>> {
    #[cfg(unix)]
    {
        extern "C" {
            fn PyObject_GenericGetDict(
                obj: *mut pyo3::ffi::PyObject,
                context: *mut std::os::raw::c_void,
            ) -> *mut pyo3::ffi::PyObject;
        }
        let py = instance.py();
        // SAFETY: `instance` is live and the GIL is held (through the `Bound`). The call
        // returns a new reference to the instance's dict, or null with an exception set
        // (an object without one), which is cleared.
        let dict = unsafe { PyObject_GenericGetDict(instance.as_ptr(), std::ptr::null_mut()) };
        if dict.is_null() {
            drop(PyErr::take(py));
            return None;
        }
        // SAFETY: `dict` is the new reference just returned.
        let dict = unsafe { Bound::from_owned_ptr(py, dict) };
        dict.downcast_exact::<PyDict>()
            .ok()?
            .get_item(key)
            .ok()
            .flatten()
    }
    #[cfg(not(unix))]
    {
        let _ = (instance, key);
        None
    }
}

/// The base of Python's `IntDict` (an `IntDictStat`'s value): `d[key] += n` is one atomic add.
#[pyclass(module = "greplin.scales._scales", subclass, frozen)]
struct IntDictBase {
    handle: Py<IntDictStat>,
}

#[pymethods]
impl IntDictBase {
    #[new]
    #[pyo3(signature = (handle, *_args))]
    fn new(handle: Bound<'_, IntDictStat>, _args: &Bound<'_, PyTuple>) -> Self {
        IntDictBase {
            handle: handle.unbind(),
        }
    }
    fn __getitem__<'py>(
        &self,
        py: Python<'py>,
        key: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let stat = &self.handle.get().0;
        let handle = self.handle.bind(py).as_any();
        match key.downcast_exact::<PyString>() {
            // The usual key: read in place (a `str` caches its UTF-8).
            Ok(_) => {
                let value = with_key_text(key, |text| Ok(stat.get(text)))?;
                int_ref::new(py, value, handle, key, None)
            }
            Err(_) => {
                let text = key.str()?;
                let value = with_key_text(text.as_any(), |text| Ok(stat.get(text)))?;
                int_ref::new(py, value, handle, key, Some(text.as_any()))
            }
        }
    }
    fn __setitem__(&self, key: &Bound<'_, PyAny>, value: &Bound<'_, PyAny>) -> PyResult<()> {
        let py = key.py();
        let stat = &self.handle.get().0;
        let Some(r) = int_ref::view(value) else {
            return with_key_text(key, |text| {
                stat.set(text, as_i64(value)?);
                Ok(())
            });
        };
        let (delta, read_here) = (r.delta(), r.handle(py).as_ptr() == self.handle.as_ptr());
        if delta != 0 && read_here && r.context() == key.as_ptr() {
            // `d[key] += n` with the same key object: no second conversion of the key.
            // An unchanged read assigned back (`d[k] = kept`) sets its value, below.
            let text = r.extra(py);
            return with_key_text(text.as_ref().unwrap_or(key), |text| {
                stat.add(text, delta);
                Ok(())
            });
        }
        if delta != 0 && read_here {
            // The same key under another object (`d[k2] = d[k1] + 1` with k1 == k2 as text).
            // SAFETY: a key's read holds its key object while it lives.
            let read_with = unsafe { Bound::from_borrowed_ptr(py, r.context()) };
            let read_with = key_text(&read_with)?;
            return with_key_text(key, |text| {
                if text == read_with {
                    stat.add(text, delta);
                } else {
                    stat.set(text, r.value());
                }
                Ok(())
            });
        }
        with_key_text(key, |text| {
            stat.set(text, r.value());
            Ok(())
        })
    }
}

#[pyclass(module = "greplin.scales._scales", frozen)]
struct DoubleStat(scales::DoubleStat);

#[pymethods]
impl DoubleStat {
    fn get(&self) -> f64 {
        self.0.get()
    }
    fn set(&self, v: f64) {
        self.0.set(v);
    }
    fn add(&self, n: f64) {
        self.0.add(n);
    }
}

#[pyclass(module = "greplin.scales._scales", frozen)]
struct ValueStat(scales::Stat);

#[pymethods]
impl ValueStat {
    /// Stores a value (converted now).
    fn set(&self, v: &Bound<'_, PyAny>) -> PyResult<()> {
        self.0.set(to_value(v)?);
        Ok(())
    }
    /// Makes this a gauge: `f()` is called (with the GIL) at every snapshot. An exception
    /// shows as null.
    fn set_gauge(&self, f: Py<PyAny>) {
        self.0.set_fn(move || {
            Python::with_gil(|py| {
                f.bind(py)
                    .call0()
                    .and_then(|r| to_value(&r))
                    .unwrap_or(Value::Null)
            })
        });
    }
}

#[pyclass(module = "greplin.scales._scales", frozen)]
struct IntDictStat(scales::IntDictStat);

#[pymethods]
impl IntDictStat {
    fn get(&self, key: &str) -> i64 {
        self.0.get(key)
    }
    fn set(&self, key: &str, v: i64) {
        self.0.set(key, v);
    }
    fn add(&self, key: &str, n: i64) {
        self.0.add(key, n);
    }
    fn entries(&self) -> Vec<(String, i64)> {
        self.0
            .entries()
            .into_iter()
            .map(|k| (k.key.to_string(), k.value))
            .collect()
    }
}

#[pyclass(module = "greplin.scales._scales", frozen)]
struct StringDictStat(scales::StringDictStat);

#[pymethods]
impl StringDictStat {
    fn get(&self, key: &str) -> String {
        self.0.get(key)
    }
    fn set(&self, key: &str, v: String) {
        self.0.set(key, v);
    }
    fn remove(&self, key: &str) -> Option<String> {
        self.0.remove(key)
    }
    fn entries(&self) -> Vec<(String, String)> {
        self.0
            .entries()
            .into_iter()
            .map(|k| (k.key.to_string(), k.value))
            .collect()
    }
}

#[pyclass(module = "greplin.scales._scales", frozen)]
struct PmfStat(scales::PmfStat);

#[pymethods]
impl PmfStat {
    fn record(&self, v: f64) {
        self.0.record(v);
    }
    /// A context manager recording the seconds its block took.
    fn time(slf: Py<Self>) -> Timer {
        Timer {
            target: TimerTarget::Pmf(slf),
            state: Mutex::new(TimerState {
                start: Instant::now(),
                armed: true,
                warn: None,
            }),
        }
    }
}

#[pyclass(module = "greplin.scales._scales", frozen)]
struct NamedPmfDictStat(scales::NamedPmfDictStat);

#[pymethods]
impl NamedPmfDictStat {
    fn record(&self, key: &str, v: f64) {
        self.0.record(key, v);
    }
    fn time(slf: Py<Self>, key: String) -> Timer {
        Timer {
            target: TimerTarget::Named(slf, key),
            state: Mutex::new(TimerState {
                start: Instant::now(),
                armed: true,
                warn: None,
            }),
        }
    }
}

enum TimerTarget {
    Pmf(Py<PmfStat>),
    Named(Py<NamedPmfDictStat>, String),
}

struct TimerState {
    start: Instant,
    armed: bool,
    /// `warn99(logger, msg, *args)`: warn on exit when the block took the p99 or longer.
    warn: Option<(Py<PyAny>, Py<PyAny>, Py<PyTuple>)>,
}

/// `with stat.time() as t:` — records the elapsed seconds on exit unless `t.discard()`.
#[pyclass(module = "greplin.scales._scales", frozen)]
struct Timer {
    target: TimerTarget,
    state: Mutex<TimerState>,
}

impl Timer {
    fn state(&self) -> std::sync::MutexGuard<'_, TimerState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[pymethods]
impl Timer {
    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf.get().state().start = Instant::now();
        slf
    }
    #[pyo3(signature = (*_args))]
    fn __exit__(&self, py: Python<'_>, _args: &Bound<'_, PyTuple>) -> PyResult<bool> {
        let (elapsed, armed, warn) = {
            let mut s = self.state();
            let armed = s.armed;
            s.armed = false;
            (s.start.elapsed(), armed, s.warn.take())
        };
        if armed {
            // The threshold is the p99 before this value, once there are two values (the
            // original's `percentile99` was None until then).
            let p99 = warn.as_ref().and_then(|_| {
                let snap = match &self.target {
                    TimerTarget::Pmf(p) => p.get().0.snapshot(),
                    TimerTarget::Named(p, k) => p.get().0.snapshot(k).unwrap_or_default(),
                };
                (snap.count() >= 2).then(|| snap.quantile(0.99)).flatten()
            });
            match &self.target {
                TimerTarget::Pmf(p) => p.get().0.record_duration(elapsed),
                TimerTarget::Named(p, k) => p.get().0.record(k, elapsed.as_secs_f64()),
            }
            if let (Some((logger, msg, args)), Some(p99)) = (warn, p99) {
                if elapsed.as_secs_f64() >= p99 {
                    let logger = logger.bind(py);
                    let method = if logger.hasattr("warning")? {
                        "warning"
                    } else {
                        "warn"
                    };
                    let mut call = vec![msg];
                    call.extend(args.bind(py).iter().map(Bound::unbind));
                    logger.call_method1(method, PyTuple::new(py, call)?)?;
                }
            }
        }
        Ok(false)
    }
    /// On exit, calls `logger.warning(msg, *args)` if the block took at least the
    /// distribution's 99th percentile (as it was before this value).
    #[pyo3(signature = (logger, msg, *args))]
    fn warn99(&self, logger: Py<PyAny>, msg: Py<PyAny>, args: Py<PyTuple>) {
        self.state().warn = Some((logger, msg, args));
    }
    /// Records nothing when the block ends.
    fn discard(&self) {
        self.state().armed = false;
    }
    /// Seconds since the timer started.
    fn elapsed(&self) -> f64 {
        self.state().start.elapsed().as_secs_f64()
    }
}

#[pyclass(module = "greplin.scales._scales", frozen)]
struct MeterStat(scales::MeterStat);

#[pymethods]
impl MeterStat {
    #[pyo3(signature = (n=1))]
    fn mark(&self, n: u64) {
        self.0.add(n);
    }
}

#[pyclass(module = "greplin.scales._scales", frozen)]
struct MeterDictStat(scales::MeterDictStat);

#[pymethods]
impl MeterDictStat {
    #[pyo3(signature = (key, n=1))]
    fn mark(&self, key: &str, n: u64) {
        self.0.add(key, n);
    }
}

#[pyclass(module = "greplin.scales._scales", frozen)]
struct StateTimeStat(scales::StateTimeStat);

#[pymethods]
impl StateTimeStat {
    fn set_state(&self, state: &str) {
        self.0.set_state(state);
    }
    fn current(&self) -> Option<String> {
        self.0.current()
    }
    /// A context manager: the state is one higher inside the block (in-use counts).
    fn acquire(slf: Py<Self>) -> Acquire {
        Acquire {
            stat: slf,
            guard: Mutex::new(None),
        }
    }
}

/// `with stat.acquire():` — the state counts up on entry and back down on exit.
#[pyclass(module = "greplin.scales._scales", frozen)]
struct Acquire {
    stat: Py<StateTimeStat>,
    guard: Mutex<Option<scales::StateGuard>>,
}

#[pymethods]
impl Acquire {
    fn __enter__(slf: Py<Self>) -> Py<Self> {
        let guard = slf.get().stat.get().0.acquire();
        *slf.get().guard.lock().unwrap_or_else(|e| e.into_inner()) = Some(guard);
        slf
    }
    #[pyo3(signature = (*_args))]
    fn __exit__(&self, _args: &Bound<'_, PyTuple>) -> bool {
        drop(self.guard.lock().unwrap_or_else(|e| e.into_inner()).take());
        false
    }
}

/// A distribution outside the registry (`samplestats.Sketch`): the core's sketch in a
/// private registry of its own.
#[pyclass(module = "greplin.scales._scales", frozen)]
struct Sketch {
    stat: scales::PmfStat,
    _scope: scales::Scope,
    _registry: scales::Registry,
}

#[pymethods]
impl Sketch {
    #[new]
    fn new() -> PyResult<Self> {
        let registry = scales::Registry::new();
        let scope = registry.scope("/sketch").map_err(err)?;
        let stat = scope.pmf_stat("values").map_err(err)?;
        Ok(Sketch {
            stat,
            _scope: scope,
            _registry: registry,
        })
    }
    fn record(&self, v: f64) {
        self.stat.record(v);
    }
    /// `(count, sum, min, max, mean, stddev, quantiles)`; None where empty.
    #[allow(clippy::type_complexity)]
    fn summary(
        &self,
        qs: Vec<f64>,
    ) -> (
        u64,
        f64,
        Option<f64>,
        Option<f64>,
        Option<f64>,
        Option<f64>,
        Vec<Option<f64>>,
    ) {
        let s = self.stat.snapshot();
        let quantiles = qs.iter().map(|&q| s.quantile(q)).collect();
        (
            s.count(),
            s.sum(),
            s.min(),
            s.max(),
            s.mean(),
            s.stddev(),
            quantiles,
        )
    }
}

/// The owner of a container at `path` (created if needed).
#[pyfunction]
fn scope(path: &str) -> PyResult<Scope> {
    Ok(Scope {
        inner: scales::registry().scope(path).map_err(err)?,
    })
}

/// A pinned container at `path`, as `scales.collection` makes.
#[pyfunction]
fn collection_scope(path: &str) -> PyResult<Scope> {
    Ok(Scope {
        inner: scales::registry().collection(path).map_err(err)?,
    })
}

/// Marks the container at `path` as collapsed (or not).
#[pyfunction]
fn set_collapsed(path: &str, collapsed: bool) -> PyResult<()> {
    scales::registry()
        .set_collapsed(path, collapsed)
        .map_err(err)
}

fn snapshot_of(path: Option<&str>) -> Option<scales::Snapshot> {
    snapshot_with(path, &scales::SnapshotOptions::default())
}

/// [`snapshot_of`] as `options` ask.
fn snapshot_with(
    path: Option<&str>,
    options: &scales::SnapshotOptions,
) -> Option<scales::Snapshot> {
    match path {
        None | Some("") | Some("/") => Some(scales::registry().snapshot_with(options)),
        Some(p) => scales::registry().snapshot_at_with(p, options),
    }
}

/// The tree (or the node at `path`) as JSON text, or None when nothing lives there.
#[pyfunction]
#[pyo3(signature = (path=None, pretty=false))]
fn json_text(py: Python<'_>, path: Option<String>, pretty: bool) -> Option<String> {
    py.allow_threads(|| {
        // JSON shows six percentiles per distribution: summaries, no bucket lists.
        let summaries =
            scales::SnapshotOptions::default().with_distributions(scales::SketchDetail::Summary);
        let snap = snapshot_with(path.as_deref(), &summaries)?;
        let style = if pretty {
            json::Style::Pretty
        } else {
            json::Style::Compact
        };
        Some(json::to_string(&snap, style))
    })
}

/// The HTML page (header and tree) of the node at `path`, or None when nothing lives there.
#[pyfunction]
#[pyo3(signature = (path=None, server_name=String::new(), query=None, header=true))]
fn html_text(
    py: Python<'_>,
    path: Option<String>,
    server_name: String,
    query: Option<String>,
    header: bool,
) -> Option<String> {
    py.allow_threads(|| {
        let snap = snapshot_of(path.as_deref())?;
        let mut options = html::Options::for_server(server_name);
        options.query = query;
        if header {
            Some(html::to_string(&snap, &options))
        } else {
            let mut out = String::new();
            html::write_tree(snap.root(), snap.path(), &options, &mut out);
            Some(out)
        }
    })
}

/// Writes the tree as JSON to `filename` (atomically, with `last-updated`).
#[pyfunction]
fn dump_to(py: Python<'_>, filename: std::path::PathBuf) -> PyResult<()> {
    py.allow_threads(|| scales::registry().dump_to(&filename))
        .map_err(|e| PyOSError::new_err(e.to_string()))
}

/// Removes every stat and container (for tests).
#[pyfunction]
fn reset(py: Python<'_>) {
    py.allow_threads(|| scales::registry().reset());
}

/// Builds graphite rules from `[(kind, rule)]`, oldest first: a rule is a glob (`str`) or
/// a callable `rule(path) -> bool` (called with the GIL; the Python side wraps the user's).
fn rules_of(rules: Vec<(String, Py<PyAny>)>) -> PyResult<gfmt::Rules> {
    let mut out = gfmt::Rules::new();
    Python::with_gil(|py| {
        for (kind, rule) in rules {
            let glob = rule
                .bind(py)
                .downcast::<PyString>()
                .ok()
                .map(|g| g.to_string());
            let matcher = move |path: &str| {
                Python::with_gil(|py| {
                    rule.bind(py)
                        .call1((path,))
                        .and_then(|r| r.is_truthy())
                        .unwrap_or(false)
                })
            };
            out = match (kind.as_str(), glob) {
                ("allow", Some(g)) => out.allow(g),
                ("forbid", Some(g)) => out.forbid(g),
                ("prune", Some(g)) => out.prune(g),
                ("doNotLog", Some(g)) => out.do_not_log(g),
                ("allow", None) => out.allow_fn(matcher),
                ("forbid", None) => out.forbid_fn(matcher),
                ("prune", None) => out.prune_fn(matcher),
                (other, _) => return Err(err(format!("unknown rule kind {other:?}"))),
            };
        }
        Ok(out)
    })
}

/// The Graphite plaintext lines of the tree (or of `tree`, a dict, when given), as the
/// pusher sends them.
#[pyfunction]
#[pyo3(signature = (prefix, rules, timestamp, tree=None))]
fn graphite_text(
    py: Python<'_>,
    prefix: String,
    rules: Vec<(String, Py<PyAny>)>,
    timestamp: u64,
    tree: Option<&Bound<'_, PyDict>>,
) -> PyResult<String> {
    let rules = rules_of(rules)?;
    let given = match tree {
        Some(t) => Some(scales::Snapshot::new(
            scales::StatPath::root(),
            scales::Node::Stat(scales::StatSnapshot {
                kind: scales::StatKind::Stat,
                value: scales::StatValue::Value(to_value(t)?),
            }),
            std::time::SystemTime::now(),
        )),
        None => None,
    };
    Ok(py.allow_threads(|| {
        let options = gfmt::Options::with_prefix(prefix).rules(rules);
        let snapshot = given.unwrap_or_else(|| scales::registry().snapshot());
        gfmt::to_string(&snapshot, &options, timestamp)
    }))
}

/// The Rust status server (scales-http) serving the global registry.
#[pyclass(module = "greplin.scales._scales", frozen)]
struct StatusServer {
    handle: Mutex<Option<scales_http::ServerHandle>>,
    port: u16,
}

#[pymethods]
impl StatusServer {
    /// The port it listens on.
    #[getter]
    fn port(&self) -> u16 {
        self.port
    }
    /// Stops it (idempotent).
    fn stop(&self, py: Python<'_>) {
        let handle = self.handle.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(h) = handle {
            py.allow_threads(|| h.stop());
        }
    }
}

/// Serves the status page on `host:port` (port 0 picks one) from a background thread.
#[pyfunction]
#[pyo3(signature = (port, server_name, host="127.0.0.1"))]
fn serve(py: Python<'_>, port: u16, server_name: String, host: &str) -> PyResult<StatusServer> {
    let ip: std::net::IpAddr = host.parse().map_err(err)?;
    let handle = py
        .allow_threads(|| scales_http::serve_in_background((ip, port), &server_name))
        .map_err(|e| PyOSError::new_err(e.to_string()))?;
    let port = handle.local_addr().port();
    Ok(StatusServer {
        handle: Mutex::new(Some(handle)),
        port,
    })
}

/// The Rust Graphite pusher (scales-graphite) in its background thread.
#[pyclass(module = "greplin.scales._scales", frozen)]
struct GraphitePusher {
    inner: Mutex<Option<scales_graphite::PeriodicPusher>>,
}

#[pymethods]
impl GraphitePusher {
    /// Stops it after a last push (idempotent).
    fn stop(&self, py: Python<'_>) {
        let pusher = self.inner.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(p) = pusher {
            py.allow_threads(|| drop(p.stop()));
        }
    }
}

/// Starts pushing the registry to carbon at `addr` (`host:port`) every `period` seconds.
#[pyfunction]
fn graphite_start(
    py: Python<'_>,
    addr: String,
    prefix: String,
    period: f64,
    rules: Vec<(String, Py<PyAny>)>,
) -> PyResult<GraphitePusher> {
    let rules = rules_of(rules)?;
    let pusher = py
        .allow_threads(|| {
            scales_graphite::GraphitePusher::builder(addr)
                .prefix(prefix)
                .rules(rules)
                .period(Duration::from_secs_f64(period.max(0.001)))
                .spawn(scales::registry())
        })
        .map_err(err)?;
    Ok(GraphitePusher {
        inner: Mutex::new(Some(pusher)),
    })
}

#[pymodule]
fn _scales(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Scope>()?;
    m.add_class::<Timer>()?;
    int_ref::register(m)?;
    m.add_class::<IntDescriptor>()?;
    m.add_class::<IntDictBase>()?;
    m.add_class::<ProxyDescriptor>()?;
    m.add_class::<StatusServer>()?;
    m.add_class::<GraphitePusher>()?;
    m.add_class::<Sketch>()?;
    m.add_function(wrap_pyfunction!(scope, m)?)?;
    m.add_function(wrap_pyfunction!(collection_scope, m)?)?;
    m.add_function(wrap_pyfunction!(set_collapsed, m)?)?;
    m.add_function(wrap_pyfunction!(json_text, m)?)?;
    m.add_function(wrap_pyfunction!(html_text, m)?)?;
    m.add_function(wrap_pyfunction!(dump_to, m)?)?;
    m.add_function(wrap_pyfunction!(reset, m)?)?;
    m.add_function(wrap_pyfunction!(graphite_text, m)?)?;
    m.add_function(wrap_pyfunction!(serve, m)?)?;
    m.add_function(wrap_pyfunction!(graphite_start, m)?)?;
    Ok(())
}
