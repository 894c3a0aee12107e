//! The parsed form of MLflow search expressions (filters and `order_by` clauses): keys, operators,
//! literals, comparisons, and the error of an expression that does not parse.

/// Which objects a search is over: it decides the keys and comparators a filter may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// `runs/search`.
    Runs,
    /// `experiments/search`.
    Experiments,
    /// `registered-models/search`.
    RegisteredModels,
    /// `model-versions/search`.
    ModelVersions,
    /// `logged-models/search`.
    LoggedModels,
}

/// What a key names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyType {
    /// `metrics.<key>`: a run's latest value (a number).
    Metric,
    /// `params.<key>`.
    Param,
    /// `tags.<key>`.
    Tag,
    /// `attributes.<name>` or a bare attribute name (`name`, `run_id`, `start_time`, ...).
    Attribute,
    /// `datasets.<name|digest|context>`.
    Dataset,
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `=`.
    Eq,
    /// `!=` or `<>`.
    Ne,
    /// `<`.
    Lt,
    /// `<=`.
    Le,
    /// `>`.
    Gt,
    /// `>=`.
    Ge,
    /// `LIKE` (case-sensitive, `%` and `_` wildcards).
    Like,
    /// `ILIKE` (case-insensitive).
    ILike,
    /// `IN (...)`.
    In,
    /// `NOT IN (...)`.
    NotIn,
    /// `IS NULL`.
    IsNull,
    /// `IS NOT NULL`.
    IsNotNull,
}

impl Op {
    /// The operator as written in a filter.
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Eq => "=",
            Op::Ne => "!=",
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::Like => "LIKE",
            Op::ILike => "ILIKE",
            Op::In => "IN",
            Op::NotIn => "NOT IN",
            Op::IsNull => "IS NULL",
            Op::IsNotNull => "IS NOT NULL",
        }
    }
}

/// The right-hand side of a comparison.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    /// A quoted string.
    Str(String),
    /// A number.
    Num(f64),
    /// A parenthesized list of strings (`IN`, `NOT IN`).
    List(Vec<String>),
    /// No value (`IS NULL`, `IS NOT NULL`).
    None,
}

/// One clause of a filter: `<key_type>.<key> <op> <value>`.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    /// What the key names.
    pub key_type: KeyType,
    /// The key (for attributes, the canonical attribute name: `created` becomes `start_time`).
    pub key: String,
    /// The operator.
    pub op: Op,
    /// The value.
    pub value: Literal,
}

/// A parsed filter: clauses joined by `AND` (MLflow has no `OR`). Empty matches everything.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Filter {
    /// The clauses.
    pub clauses: Vec<Comparison>,
}

/// One order_by entry.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderBy {
    /// What the key names.
    pub key_type: KeyType,
    /// The key (canonical attribute name for attributes).
    pub key: String,
    /// Ascending (the default) or descending.
    pub ascending: bool,
}

/// A filter or order_by string that does not parse, with MLflow's kind of message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SearchError(pub String);
