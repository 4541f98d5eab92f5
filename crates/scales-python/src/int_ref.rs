//! `IntRef`: what an `IntStat` (or one key of an `IntDictStat`) reads as in Python: an
//! int-like value whose `+=`/`-=`, assigned back, the stat applies as one atomic add.
//!
//! The type is written against CPython's C API (one `PyType_FromSpec` type with slots only)
//! instead of as a `#[pyclass]`. `STATS.hits += 1` creates, updates and frees one of these
//! per statement, and for that PyO3's per-call machinery (a trampoline per slot, the type
//! check and borrow flag of `self`, `Py` drops that ask whether the GIL is held) cost more
//! than everything else the statement does in Rust: with it, `+=` took ~2 300 instructions
//! over the bare loop, against ~10 500 for the original; see BENCHMARKS.md, "Python".
//!
//! Every slot runs with the GIL held (the module is built for the GIL-ful ABI), touches
//! only its own object and the C API, and cannot panic. Anything other than `+=`/`-=`
//! converts the value to an `int` first and lets `int` answer, so the type behaves as an
//! `int` in arithmetic, comparisons, hashing, formatting and `int()`/`float()`/`bool()`.

use std::ffi::{c_int, c_void, CStr};
use std::ptr;
use std::sync::atomic::{AtomicPtr, Ordering};

use pyo3::ffi;
use pyo3::prelude::*;

/// The type object, created once by [`register`].
static TYPE: AtomicPtr<ffi::PyTypeObject> = AtomicPtr::new(ptr::null_mut());

/// The object's layout. Every pointer is a strong reference, or null.
#[repr(C)]
pub(crate) struct IntRefObject {
    ob_base: ffi::PyObject,
    /// The value read, plus every `+=` since.
    value: i64,
    /// What the `+=`/`-=` since the read added up to.
    delta: i64,
    /// The handle read: an `IntStat` or an `IntDictStat`.
    handle: *mut ffi::PyObject,
    /// For a stat: the instance it was read through. For a dict key: the key object.
    context: *mut ffi::PyObject,
    /// For a stat: the descriptor it was read through. For a dict key: `str(key)` when the
    /// key is not a `str` itself, else null.
    extra: *mut ffi::PyObject,
}

impl IntRefObject {
    /// The value read, with every `+=` since.
    pub(crate) fn value(&self) -> i64 {
        self.value
    }

    /// What the `+=`/`-=` since the read added up to.
    pub(crate) fn delta(&self) -> i64 {
        self.delta
    }

    /// The handle the value was read from: an `IntStat` for a stat's read, an
    /// `IntDictStat` for a key's.
    pub(crate) fn handle<'a, 'py>(&'a self, py: Python<'py>) -> Borrowed<'a, 'py, PyAny> {
        // SAFETY: `handle` is a strong reference this object holds while it lives.
        unsafe { Borrowed::from_ptr(py, self.handle) }
    }

    /// The instance (stat reads) or key object (dict reads) of the read.
    pub(crate) fn context(&self) -> *mut ffi::PyObject {
        self.context
    }

    /// The descriptor (stat reads), or `str(key)` for a dict key that is not a `str`.
    pub(crate) fn extra<'py>(&self, py: Python<'py>) -> Option<Bound<'py, PyAny>> {
        // SAFETY: `extra` is null or a strong reference this object holds while it lives.
        unsafe { Bound::from_borrowed_ptr_or_opt(py, self.extra) }
    }
}

/// A new read of `value` from `handle`; the three references are taken (increfed).
pub(crate) fn new<'py>(
    py: Python<'py>,
    value: i64,
    handle: &Bound<'py, PyAny>,
    context: &Bound<'py, PyAny>,
    extra: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    let tp = TYPE.load(Ordering::Acquire);
    if tp.is_null() {
        return Err(pyo3::exceptions::PyRuntimeError::new_err(
            "greplin.scales._scales is not initialised",
        ));
    }
    // SAFETY: `tp` is the type `register` created (never freed: the static holds a
    // reference). `PyType_GenericAlloc` returns a zeroed object of its basic size with its
    // type and a reference count of one, or null with an exception set.
    unsafe {
        let obj = ffi::PyType_GenericAlloc(tp, 0);
        if obj.is_null() {
            return Err(PyErr::fetch(py));
        }
        let this = obj.cast::<IntRefObject>();
        (*this).value = value;
        (*this).handle = handle.clone().into_ptr();
        (*this).context = context.clone().into_ptr();
        (*this).extra = extra.map_or(ptr::null_mut(), |e| e.clone().into_ptr());
        Ok(Bound::from_owned_ptr(py, obj))
    }
}

/// The fields of `obj` when it is an `IntRef`.
pub(crate) fn view<'a>(obj: &'a Bound<'_, PyAny>) -> Option<&'a IntRefObject> {
    let tp = TYPE.load(Ordering::Relaxed);
    // SAFETY: an object whose type is `TYPE` was made by `new` (the type has no `tp_new`
    // callable from Python and cannot be subclassed), so it has `IntRefObject`'s layout,
    // and it lives at least as long as the borrow of `obj`.
    unsafe {
        if tp.is_null() || ffi::Py_TYPE(obj.as_ptr()) != tp {
            return None;
        }
        Some(&*obj.as_ptr().cast::<IntRefObject>())
    }
}

/// Creates the type and adds it to the module as `IntRef`.
pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    let mut tp = TYPE.load(Ordering::Acquire);
    if tp.is_null() {
        tp = create(py)?;
        TYPE.store(tp, Ordering::Release);
    }
    // SAFETY: `tp` is a live type object; the borrowed reference is increfed by `Bound`.
    let ty = unsafe { Bound::from_borrowed_ptr(py, tp.cast::<ffi::PyObject>()) };
    m.add("IntRef", ty)
}

fn create(py: Python<'_>) -> PyResult<*mut ffi::PyTypeObject> {
    // The method table must outlive the type: it is leaked once per process.
    let methods: &'static mut [ffi::PyMethodDef; 2] = Box::leak(Box::new([
        ffi::PyMethodDef {
            ml_name: c"__format__".as_ptr(),
            ml_meth: ffi::PyMethodDefPointer {
                PyCFunction: format,
            },
            ml_flags: ffi::METH_O,
            ml_doc: ptr::null(),
        },
        ffi::PyMethodDef::zeroed(),
    ]));
    let slot = |slot: c_int, pfunc: *mut c_void| ffi::PyType_Slot { slot, pfunc };
    let mut slots = [
        slot(ffi::Py_tp_doc, DOC.as_ptr() as *mut c_void),
        slot(ffi::Py_tp_new, refuse_new as *mut c_void),
        slot(ffi::Py_tp_dealloc, dealloc as *mut c_void),
        slot(ffi::Py_tp_repr, repr as *mut c_void),
        slot(ffi::Py_tp_str, to_str as *mut c_void),
        slot(ffi::Py_tp_hash, hash_slot as *mut c_void),
        slot(ffi::Py_tp_richcompare, richcompare as *mut c_void),
        slot(ffi::Py_tp_methods, methods.as_mut_ptr().cast()),
        slot(ffi::Py_nb_inplace_add, inplace_add as *mut c_void),
        slot(ffi::Py_nb_inplace_subtract, inplace_subtract as *mut c_void),
        slot(ffi::Py_nb_add, add as *mut c_void),
        slot(ffi::Py_nb_subtract, subtract as *mut c_void),
        slot(ffi::Py_nb_multiply, multiply as *mut c_void),
        slot(ffi::Py_nb_true_divide, true_divide as *mut c_void),
        slot(ffi::Py_nb_floor_divide, floor_divide as *mut c_void),
        slot(ffi::Py_nb_remainder, remainder as *mut c_void),
        slot(ffi::Py_nb_divmod, divmod as *mut c_void),
        slot(ffi::Py_nb_lshift, lshift as *mut c_void),
        slot(ffi::Py_nb_rshift, rshift as *mut c_void),
        slot(ffi::Py_nb_and, and as *mut c_void),
        slot(ffi::Py_nb_or, or as *mut c_void),
        slot(ffi::Py_nb_xor, xor as *mut c_void),
        slot(ffi::Py_nb_power, power as *mut c_void),
        slot(ffi::Py_nb_negative, negative as *mut c_void),
        slot(ffi::Py_nb_positive, positive as *mut c_void),
        slot(ffi::Py_nb_absolute, absolute as *mut c_void),
        slot(ffi::Py_nb_invert, invert as *mut c_void),
        slot(ffi::Py_nb_bool, to_bool as *mut c_void),
        slot(ffi::Py_nb_int, to_int as *mut c_void),
        slot(ffi::Py_nb_index, to_int as *mut c_void),
        slot(ffi::Py_nb_float, to_float as *mut c_void),
        slot(0, ptr::null_mut()),
    ];
    let mut spec = ffi::PyType_Spec {
        name: c"greplin.scales._scales.IntRef".as_ptr(),
        basicsize: std::mem::size_of::<IntRefObject>() as c_int,
        itemsize: 0,
        flags: ffi::Py_TPFLAGS_DEFAULT as _,
        slots: slots.as_mut_ptr(),
    };
    // SAFETY: the spec is complete and zero-terminated; the name and the method table are
    // 'static, which the type requires of them; the slots are copied by the call.
    let tp = unsafe { ffi::PyType_FromSpec(&mut spec) };
    if tp.is_null() {
        return Err(PyErr::fetch(py));
    }
    Ok(tp.cast())
}

const DOC: &CStr = c"What an int stat reads as: an int whose +=, assigned back, is one atomic add.";

/// The value of an `IntRef` or an `int` that fits an `i64`.
///
/// # Safety
/// `obj` is a live object and the GIL is held.
unsafe fn small_int(obj: *mut ffi::PyObject) -> Option<i64> {
    // SAFETY: the caller's contract; an object of type `TYPE` has `IntRefObject`'s layout.
    unsafe {
        if ffi::Py_TYPE(obj) == TYPE.load(Ordering::Relaxed) {
            return Some((*obj.cast::<IntRefObject>()).value);
        }
        if ffi::PyLong_Check(obj) == 0 {
            return None;
        }
        let v = ffi::PyLong_AsLongLong(obj);
        if v == -1 && !ffi::PyErr_Occurred().is_null() {
            ffi::PyErr_Clear();
            return None;
        }
        Some(v)
    }
}

/// `obj` as an `int` (a new reference): an `IntRef`'s value, anything else itself.
///
/// # Safety
/// `obj` is a live object and the GIL is held.
unsafe fn as_int(obj: *mut ffi::PyObject) -> *mut ffi::PyObject {
    // SAFETY: the caller's contract; an object of type `TYPE` has `IntRefObject`'s layout.
    unsafe {
        if ffi::Py_TYPE(obj) == TYPE.load(Ordering::Relaxed) {
            ffi::PyLong_FromLongLong((*obj.cast::<IntRefObject>()).value)
        } else {
            ffi::Py_IncRef(obj);
            obj
        }
    }
}

/// `op(int(obj))`, or `failed` when `obj` cannot be made an int (an exception is set).
///
/// # Safety
/// `obj` is a live object and the GIL is held.
unsafe fn unary<R>(
    obj: *mut ffi::PyObject,
    failed: R,
    op: impl FnOnce(*mut ffi::PyObject) -> R,
) -> R {
    // SAFETY: the caller's contract; `as_int` returns a new reference or null.
    unsafe {
        let v = as_int(obj);
        if v.is_null() {
            return failed;
        }
        let out = op(v);
        ffi::Py_DecRef(v);
        out
    }
}

/// `op(int(a), int(b))`.
///
/// # Safety
/// `a` and `b` are live objects and the GIL is held.
unsafe fn binary(
    a: *mut ffi::PyObject,
    b: *mut ffi::PyObject,
    op: impl FnOnce(*mut ffi::PyObject, *mut ffi::PyObject) -> *mut ffi::PyObject,
) -> *mut ffi::PyObject {
    // SAFETY: the caller's contract; `as_int` returns a new reference or null.
    unsafe {
        let a = as_int(a);
        if a.is_null() {
            return a;
        }
        let b2 = as_int(b);
        if b2.is_null() {
            ffi::Py_DecRef(a);
            return b2;
        }
        let out = op(a, b2);
        ffi::Py_DecRef(a);
        ffi::Py_DecRef(b2);
        out
    }
}

/// `x += n` (and `-=`, with `sign` -1): the read's value and delta move by `n`; anything
/// but an int that fits an `i64` is left to `int` (`NotImplemented` makes Python fall back
/// to `x + n`, which an assignment back then sets).
///
/// # Safety
/// `slf` is an `IntRef`, `n` a live object, and the GIL is held.
unsafe fn inplace(slf: *mut ffi::PyObject, n: *mut ffi::PyObject, sign: i64) -> *mut ffi::PyObject {
    // SAFETY: the caller's contract; `slf` has `IntRefObject`'s layout (CPython calls an
    // in-place slot with an instance of the slot's type first).
    unsafe {
        let Some(n) = small_int(n) else {
            let not_implemented = ffi::Py_NotImplemented();
            ffi::Py_IncRef(not_implemented);
            return not_implemented;
        };
        let this = slf.cast::<IntRefObject>();
        let n = n.wrapping_mul(sign);
        (*this).value = (*this).value.wrapping_add(n);
        (*this).delta = (*this).delta.wrapping_add(n);
        ffi::Py_IncRef(slf);
        slf
    }
}

unsafe extern "C" fn inplace_add(
    slf: *mut ffi::PyObject,
    n: *mut ffi::PyObject,
) -> *mut ffi::PyObject {
    // SAFETY: called by CPython as the type's in-place add slot, with the GIL.
    unsafe { inplace(slf, n, 1) }
}

unsafe extern "C" fn inplace_subtract(
    slf: *mut ffi::PyObject,
    n: *mut ffi::PyObject,
) -> *mut ffi::PyObject {
    // SAFETY: called by CPython as the type's in-place subtract slot, with the GIL.
    unsafe { inplace(slf, n, -1) }
}

/// Binary slots that answer as `int` would.
macro_rules! binary_slots {
    ($($slot:ident => $op:path,)*) => {$(
        unsafe extern "C" fn $slot(
            a: *mut ffi::PyObject,
            b: *mut ffi::PyObject,
        ) -> *mut ffi::PyObject {
            // SAFETY: called by CPython as a binary number slot, with the GIL.
            unsafe { binary(a, b, |a, b| $op(a, b)) }
        }
    )*};
}

binary_slots! {
    add => ffi::PyNumber_Add,
    subtract => ffi::PyNumber_Subtract,
    multiply => ffi::PyNumber_Multiply,
    true_divide => ffi::PyNumber_TrueDivide,
    floor_divide => ffi::PyNumber_FloorDivide,
    remainder => ffi::PyNumber_Remainder,
    divmod => ffi::PyNumber_Divmod,
    lshift => ffi::PyNumber_Lshift,
    rshift => ffi::PyNumber_Rshift,
    and => ffi::PyNumber_And,
    or => ffi::PyNumber_Or,
    xor => ffi::PyNumber_Xor,
    format_with => ffi::PyObject_Format,
}

/// Unary slots that answer as `int` would.
macro_rules! unary_slots {
    ($($slot:ident => $op:path,)*) => {$(
        unsafe extern "C" fn $slot(obj: *mut ffi::PyObject) -> *mut ffi::PyObject {
            // SAFETY: called by CPython as a unary slot, with the GIL.
            unsafe { unary(obj, ptr::null_mut(), |v| $op(v)) }
        }
    )*};
}

unary_slots! {
    negative => ffi::PyNumber_Negative,
    positive => ffi::PyNumber_Positive,
    absolute => ffi::PyNumber_Absolute,
    invert => ffi::PyNumber_Invert,
    repr => ffi::PyObject_Repr,
    to_str => ffi::PyObject_Str,
}

unsafe extern "C" fn power(
    a: *mut ffi::PyObject,
    b: *mut ffi::PyObject,
    modulus: *mut ffi::PyObject,
) -> *mut ffi::PyObject {
    // SAFETY: called by CPython as the power slot, with the GIL.
    unsafe { binary(a, b, |a, b| ffi::PyNumber_Power(a, b, modulus)) }
}

unsafe extern "C" fn format(
    slf: *mut ffi::PyObject,
    spec: *mut ffi::PyObject,
) -> *mut ffi::PyObject {
    // SAFETY: called by CPython as the `__format__` method (METH_O), with the GIL.
    unsafe { format_with(slf, spec) }
}

unsafe extern "C" fn richcompare(
    a: *mut ffi::PyObject,
    b: *mut ffi::PyObject,
    op: c_int,
) -> *mut ffi::PyObject {
    // SAFETY: called by CPython as the rich comparison slot, with the GIL.
    unsafe { binary(a, b, |a, b| ffi::PyObject_RichCompare(a, b, op)) }
}

unsafe extern "C" fn hash_slot(slf: *mut ffi::PyObject) -> ffi::Py_hash_t {
    // SAFETY: called by CPython as the hash slot, with the GIL.
    unsafe { unary(slf, -1, |v| ffi::PyObject_Hash(v)) }
}

unsafe extern "C" fn to_bool(slf: *mut ffi::PyObject) -> c_int {
    // SAFETY: called by CPython as the bool slot of this type, with the GIL.
    unsafe { c_int::from((*slf.cast::<IntRefObject>()).value != 0) }
}

unsafe extern "C" fn to_int(slf: *mut ffi::PyObject) -> *mut ffi::PyObject {
    // SAFETY: called by CPython as the int/index slot of this type, with the GIL.
    unsafe { ffi::PyLong_FromLongLong((*slf.cast::<IntRefObject>()).value) }
}

unsafe extern "C" fn to_float(slf: *mut ffi::PyObject) -> *mut ffi::PyObject {
    // SAFETY: called by CPython as the float slot of this type, with the GIL.
    unsafe { ffi::PyFloat_FromDouble((*slf.cast::<IntRefObject>()).value as f64) }
}

unsafe extern "C" fn refuse_new(
    _tp: *mut ffi::PyTypeObject,
    _args: *mut ffi::PyObject,
    _kwargs: *mut ffi::PyObject,
) -> *mut ffi::PyObject {
    // SAFETY: called by CPython with the GIL; the message is a static C string.
    unsafe {
        ffi::PyErr_SetString(
            ffi::PyExc_TypeError,
            c"IntRef values are made by reading an int stat, not by calling IntRef".as_ptr(),
        );
    }
    ptr::null_mut()
}

unsafe extern "C" fn dealloc(slf: *mut ffi::PyObject) {
    // SAFETY: called by CPython once, when the last reference goes, with the GIL. The
    // object was allocated by `PyType_GenericAlloc` (not tracked by the GC: the type has no
    // GC flag), so `PyObject_Free` releases it; an instance of a heap type holds a
    // reference to its type, released last.
    unsafe {
        let this = slf.cast::<IntRefObject>();
        for field in [(*this).handle, (*this).context, (*this).extra] {
            if !field.is_null() {
                ffi::Py_DecRef(field);
            }
        }
        let tp = ffi::Py_TYPE(slf);
        ffi::PyObject_Free(slf.cast());
        ffi::Py_DecRef(tp.cast());
    }
}
