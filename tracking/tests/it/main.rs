//! homeml-tracking's integration tests as one binary, one module per concern.

mod interop;
mod processes;
mod store;
