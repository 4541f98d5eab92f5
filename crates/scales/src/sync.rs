//! The synchronisation primitives of the per-thread cells ([`crate::cells`]), from `std` in
//! normal builds and from `loom` under `--cfg loom`, so the model tests exercise the same
//! code.

#[cfg(loom)]
pub(crate) use loom::sync::{
    atomic::{AtomicPtr, AtomicU64, Ordering},
    Mutex, MutexGuard,
};
#[cfg(not(loom))]
pub(crate) use std::sync::{
    atomic::{AtomicPtr, AtomicU64, Ordering},
    Mutex, MutexGuard,
};
