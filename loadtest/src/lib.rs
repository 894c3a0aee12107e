//! HTTP load generator with HDR latency histograms
