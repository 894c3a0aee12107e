//! homeml-linfa's integration tests as one binary, one module per concern.

mod forest;
mod roundtrip;
