//! homeml-smartcore's integration tests as one binary, one module per concern.

mod roundtrip;
