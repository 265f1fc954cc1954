//! The one way kiln takes its mutexes: a panic while one was held does not poison it for every
//! later call.

use std::sync::{Mutex, MutexGuard};

/// Locks `m`, recovering the data if a panicking thread held it. None of kiln's locked state can
/// be left half-updated in a way that matters more than the panic itself.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}
