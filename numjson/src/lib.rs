//! Numeric JSON read straight into typed buffers, with the same results as serde_json.
//!
//! Model requests and answers are mostly small numeric documents: `{"inputs": [[5.1, 3.5, 1.4, 0.2]]}`,
//! V2 tensors, gateway rows of named floats. Parsing them into a `serde_json::Value` makes a heap node per
//! number and per list; this crate reads the numbers into the buffer they end up in, in two tiers:
//!
//! 1. [`Scanner`], a strict byte scanner of plain JSON (printable-ASCII strings without escapes, the
//!    JSON number grammar, whitespace anywhere). Its numbers are correctly rounded (Clinger's fast path
//!    for short decimals, the standard library's parser for the rest), as serde_json's
//!    `float_roundtrip` parser rounds them, so both read every number bit for bit alike. Anything it does
//!    not read exactly as serde_json would (an escape, an overflow to infinity, bad JSON) makes it answer
//!    `None`, and the caller falls back to serde.
//! 2. The serde tier ([`de`]): visitors over serde_json's own parser for the same nested lists with
//!    more around them, converting each number with [`number_to_f64`] / [`number_to_i64`], the
//!    conversions a `Value`-based reader uses too.
//!
//! [`Nest`] holds the shape rules both tiers share (a regular list: every list at a depth as long as the
//! first one there, every number at the same depth); [`Buffer`] holds the typed elements.
//!
//! Dependencies: serde and serde_json only, so that both the model server and the gateway (which
//! depends on no serving crate) can use it.

#![forbid(unsafe_code)]

pub mod buffer;
pub mod de;
pub mod nested;
pub mod number;
pub mod scanner;

pub use buffer::{Buffer, Kind};
pub use nested::{Nest, MAX_DIMS};
pub use number::{number_to_f64, number_to_i64, whole};
pub use scanner::{Scanner, MAX_DEPTH};
