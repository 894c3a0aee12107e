//! homeml-loadtest's integration tests as one binary, one module per concern.

mod load;
