//! homeml-plugin-example's integration tests as one binary, one module per concern.

mod support;

mod abi;
