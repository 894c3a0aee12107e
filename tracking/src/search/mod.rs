//! MLflow's search grammar: filter strings (`metrics.acc > 0.9 AND tags.t = 'x'`) and order_by clauses
//! (`metrics.acc DESC`) parsed into a typed AST that every store evaluates its own way (the file store
//! in memory with [`eval`], a SQL store by translating it), plus opaque page tokens.

mod ast;
mod lexer;
mod parse;

pub mod eval;
pub mod page;

pub use ast::{Comparison, Dialect, Filter, KeyType, Literal, Op, OrderBy, SearchError};
pub use parse::{parse_filter, parse_order_by};
