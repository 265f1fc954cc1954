//! kiln facade
