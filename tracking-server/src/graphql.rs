//! `POST /graphql`: the queries MLflow's web UI sends (`GetRun`, `MlflowGetExperimentQuery`,
//! `SearchRuns`, `GetMetricHistoryBulkInterval`), not a general GraphQL engine. A small parser
//! reads the query document (operations, fields, aliases, arguments, variables; directives are
//! skipped); each root field is answered by the REST handler of the same MLflow call, whose JSON is
//! turned into the GraphQL shape (camelCase fields, `__typename` on every object, int64 as strings)
//! and cut to the fields the query selected. Anything else (mutations, fragments, other root fields)
//! is refused with a GraphQL error naming what is served.

use hyper::StatusCode;
use serde_json::{json, Map, Value};

use crate::error::ApiError;
use crate::handlers::{experiments, registry, runs, ui_data, Ctx};
use crate::request::Message;

/// Deepest nesting of selections or values accepted.
const MAX_DEPTH: usize = 32;
/// Longest query text accepted.
const MAX_QUERY: usize = 100_000;

/// The root fields answered.
const SERVED: &str =
    "mlflowGetRun, mlflowGetExperiment, mlflowSearchRuns, mlflowGetMetricHistoryBulkInterval";

/// Runs a GraphQL request (a JSON body, or for GET the query string): (status, answer).
pub fn execute(c: &Ctx, query_string: &str, body: &[u8]) -> (StatusCode, Value) {
    match run(c, query_string, body) {
        Ok(data) => (StatusCode::OK, json!({"data": data, "errors": null})),
        Err(msg) => (
            StatusCode::BAD_REQUEST,
            json!({"data": null, "errors": [{"message": msg}]}),
        ),
    }
}

fn run(c: &Ctx, query_string: &str, body: &[u8]) -> Result<Value, String> {
    let (query, op_name, vars) = if body.iter().all(u8::is_ascii_whitespace) {
        let m = Message::from_query(query_string);
        let get = |k: &str| m.opt_str(k).ok().flatten();
        let vars = match get("variables") {
            Some(v) if !v.is_empty() => {
                serde_json::from_str(&v).map_err(|e| format!("variables: invalid JSON: {e}"))?
            }
            _ => Value::Null,
        };
        (get("query").unwrap_or_default(), get("operationName"), vars)
    } else {
        let v: Value =
            serde_json::from_slice(body).map_err(|e| format!("invalid JSON body: {e}"))?;
        let query = v["query"].as_str().unwrap_or_default().to_string();
        let op = v["operationName"].as_str().map(str::to_string);
        (query, op, v["variables"].clone())
    };
    if query.is_empty() {
        return Err("Must provide query string.".into());
    }
    if query.len() > MAX_QUERY {
        return Err(format!("query longer than {MAX_QUERY} characters"));
    }
    let ops = Parser::new(&query)?.document()?;
    let op = match &op_name {
        Some(n) => ops
            .iter()
            .find(|o| o.name.as_deref() == Some(n.as_str()))
            .ok_or_else(|| format!("Unknown operation named '{n}'."))?,
        None if ops.len() == 1 => &ops[0],
        None => {
            return Err("Must provide operation name if query contains multiple operations.".into())
        }
    };
    if op.kind != "query" {
        return Err(format!(
            "{} operations are not served by this server; it answers queries of {SERVED}",
            op.kind
        ));
    }
    let vars = match vars {
        Value::Object(o) => o,
        _ => Map::new(),
    };
    let mut data = Map::new();
    for f in &op.selection {
        let value = if f.name == "__typename" {
            json!("Query")
        } else {
            let args = f
                .args
                .iter()
                .map(|(k, v)| Ok((k.clone(), v.resolve(&vars)?)))
                .collect::<Result<Map<String, Value>, String>>()?;
            let source = root_field(c, &f.name, &args, &f.selection)?;
            project(&source, &f.selection)
        };
        data.insert(f.key().to_string(), value);
    }
    Ok(Value::Object(data))
}

// ----- answering -----

/// The answer of a root field, in GraphQL shape, before projection.
fn root_field(
    c: &Ctx,
    name: &str,
    args: &Map<String, Value>,
    sel: &[Field],
) -> Result<Value, String> {
    let input = args.get("input").cloned().unwrap_or(Value::Null);
    let msg = |v: &Value| -> Result<Message, String> {
        let snake = keys_to_snake(v);
        Message::from_json(snake.to_string().as_bytes()).map_err(|e| e.message)
    };
    let m = msg(&input)?;
    let (typename, result): (&str, Result<Value, ApiError>) = match name {
        "mlflowGetRun" => (
            "MlflowGetRunResponse",
            runs::get(c, &m).and_then(|mut v| {
                let wants = sub(sel, "run");
                if let Some(run) = v.get_mut("run") {
                    extend_run(c, run, wants)?;
                }
                Ok(v)
            }),
        ),
        "mlflowGetExperiment" => ("MlflowGetExperimentResponse", experiments::get(c, &m)),
        "mlflowSearchRuns" => (
            "MlflowSearchRunsResponse",
            runs::search(c, &m).and_then(|mut v| {
                let wants = sub(sel, "runs");
                if let Some(Value::Array(list)) = v.get_mut("runs") {
                    for run in list {
                        extend_run(c, run, wants)?;
                    }
                } else {
                    v["runs"] = json!([]);
                }
                Ok(v)
            }),
        ),
        "mlflowGetMetricHistoryBulkInterval" => (
            "MlflowGetMetricHistoryBulkIntervalResponse",
            ui_data::history_bulk_interval(c, &m),
        ),
        other => {
            return Err(format!(
                "Cannot query field '{other}' on type 'Query': this server answers {SERVED}"
            ))
        }
    };
    let mut out = match result {
        Ok(v) => v,
        Err(e) => json!({"api_error": {"code": e.code.as_str(), "message": e.message}}),
    };
    if out.get("api_error").is_none() {
        out["api_error"] = Value::Null;
    }
    Ok(shape(&out, typename))
}

/// The selection under `field`, if selected.
fn sub<'a>(sel: &'a [Field], field: &str) -> &'a [Field] {
    sel.iter()
        .find(|f| f.name == field)
        .map(|f| f.selection.as_slice())
        .unwrap_or(&[])
}

/// Adds what the GraphQL run has beyond the REST one, when selected: its experiment and the
/// model versions registered from it; and empty lists where REST omits them.
fn extend_run(c: &Ctx, run: &mut Value, sel: &[Field]) -> Result<(), ApiError> {
    let run_id = run["info"]["run_id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let exp_id = run["info"]["experiment_id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    if sel.iter().any(|f| f.name == "experiment") {
        let mut m = Message::default();
        m.set("experiment_id", &exp_id);
        run["experiment"] = experiments::get(c, &m)?["experiment"].take();
    }
    if sel.iter().any(|f| f.name == "modelVersions") {
        let mut m = Message::default();
        m.set("filter", &format!("run_id='{run_id}'"));
        let mut v = registry::search_versions(c, &m)?;
        run["model_versions"] = match v.get_mut("model_versions") {
            Some(list) => list.take(),
            None => json!([]),
        };
    }
    for (obj, fields) in [
        ("data", &["metrics", "params", "tags"][..]),
        ("inputs", &["dataset_inputs", "model_inputs"][..]),
        ("outputs", &["model_outputs"][..]),
    ] {
        if !run[obj].is_object() {
            run[obj] = json!({});
        }
        for f in fields {
            if run[obj].get(*f).is_none() {
                run[obj][*f] = json!([]);
            }
        }
    }
    Ok(())
}

/// The GraphQL type of `field` inside an object of type `parent`.
fn child_type(parent: &str, field: &str) -> &'static str {
    match (parent, field) {
        (_, "apiError") => "ApiError",
        (_, "errorDetails") => "ErrorDetail",
        ("MlflowGetRunResponse", "run") | ("MlflowSearchRunsResponse", "runs") => {
            "MlflowRunExtension"
        }
        (_, "experiment") => "MlflowExperiment",
        ("MlflowRunExtension", "info") => "MlflowRunInfo",
        ("MlflowRunExtension", "data") => "MlflowRunData",
        ("MlflowRunExtension", "inputs") => "MlflowRunInputs",
        ("MlflowRunExtension", "outputs") => "MlflowRunOutputs",
        ("MlflowRunExtension", "modelVersions") => "MlflowModelVersion",
        ("MlflowRunData", "metrics") => "MlflowMetricExtension",
        ("MlflowRunData", "params") => "MlflowParam",
        ("MlflowRunData", "tags") => "MlflowRunTag",
        ("MlflowExperiment", "tags") => "MlflowExperimentTag",
        ("MlflowModelVersion", "tags") => "MlflowModelVersionTag",
        ("MlflowRunInputs", "datasetInputs") => "MlflowDatasetInput",
        ("MlflowRunInputs", "modelInputs") => "MlflowModelInput",
        ("MlflowDatasetInput", "dataset") => "MlflowDataset",
        ("MlflowDatasetInput", "tags") => "MlflowInputTag",
        ("MlflowRunOutputs", "modelOutputs") => "MlflowModelOutput",
        ("MlflowGetMetricHistoryBulkIntervalResponse", "metrics") => "MlflowMetricWithRunId",
        _ => "MlflowObject",
    }
}

/// REST JSON to GraphQL JSON: camelCase keys, `__typename`, integers as strings, and metric values
/// that are not finite as null (MLflow's MlflowMetricExtension does the same).
fn shape(v: &Value, typename: &str) -> Value {
    match v {
        Value::Object(o) => {
            let mut out = Map::new();
            out.insert("__typename".into(), json!(typename));
            for (k, v) in o {
                let key = camel(k);
                let t = child_type(typename, &key);
                let val = match v {
                    Value::Object(_) => shape(v, t),
                    Value::Array(a) => Value::Array(a.iter().map(|x| shape(x, t)).collect()),
                    Value::Number(n) if n.is_i64() || n.is_u64() => json!(n.to_string()),
                    Value::String(_) if key == "value" && typename.starts_with("MlflowMetric") => {
                        Value::Null
                    }
                    other => other.clone(),
                };
                out.insert(key, val);
            }
            Value::Object(out)
        }
        Value::Number(n) if n.is_i64() || n.is_u64() => json!(n.to_string()),
        other => other.clone(),
    }
}

/// The list-typed fields of the types answered.
const LISTS: &[&str] = &[
    "tags",
    "metrics",
    "params",
    "datasetInputs",
    "modelInputs",
    "modelOutputs",
    "modelVersions",
    "runs",
    "errorDetails",
    "aliases",
];

/// Keeps the selected fields (under their aliases); missing fields are null.
fn project(v: &Value, sel: &[Field]) -> Value {
    if sel.is_empty() {
        return v.clone();
    }
    match v {
        Value::Array(a) => Value::Array(a.iter().map(|x| project(x, sel)).collect()),
        Value::Object(o) => {
            let mut out = Map::new();
            for f in sel {
                let val = match o.get(&f.name) {
                    Some(x) => project(x, &f.selection),
                    // REST omits empty lists; GraphQL has them as [].
                    None if LISTS.contains(&f.name.as_str()) => json!([]),
                    None => Value::Null,
                };
                out.insert(f.key().to_string(), val);
            }
            Value::Object(out)
        }
        other => other.clone(),
    }
}

fn camel(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut up = false;
    for ch in s.chars() {
        if ch == '_' {
            up = true;
        } else if up {
            out.extend(ch.to_uppercase());
            up = false;
        } else {
            out.push(ch);
        }
    }
    out
}

fn snake(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 4);
    for ch in s.chars() {
        if ch.is_ascii_uppercase() {
            out.push('_');
            out.push(ch.to_ascii_lowercase());
        } else {
            out.push(ch);
        }
    }
    out
}

fn keys_to_snake(v: &Value) -> Value {
    match v {
        Value::Object(o) => Value::Object(
            o.iter()
                .map(|(k, v)| (snake(k), keys_to_snake(v)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(keys_to_snake).collect()),
        other => other.clone(),
    }
}

// ----- parsing -----

/// An operation of the document.
#[derive(Debug)]
struct Operation {
    kind: String,
    name: Option<String>,
    selection: Vec<Field>,
}

/// A selected field.
#[derive(Debug)]
struct Field {
    alias: Option<String>,
    name: String,
    args: Vec<(String, Arg)>,
    selection: Vec<Field>,
}

impl Field {
    fn key(&self) -> &str {
        self.alias.as_deref().unwrap_or(&self.name)
    }
}

/// An argument value: a variable or a literal.
#[derive(Debug)]
enum Arg {
    Var(String),
    Lit(Value),
    List(Vec<Arg>),
    Obj(Vec<(String, Arg)>),
}

impl Arg {
    fn resolve(&self, vars: &Map<String, Value>) -> Result<Value, String> {
        Ok(match self {
            Arg::Var(v) => vars.get(v).cloned().unwrap_or(Value::Null),
            Arg::Lit(v) => v.clone(),
            Arg::List(a) => Value::Array(
                a.iter()
                    .map(|x| x.resolve(vars))
                    .collect::<Result<_, _>>()?,
            ),
            Arg::Obj(o) => Value::Object(
                o.iter()
                    .map(|(k, v)| Ok((k.clone(), v.resolve(vars)?)))
                    .collect::<Result<_, String>>()?,
            ),
        })
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Name(String),
    Punct(char),
    Spread,
    Str(String),
    Num(String),
}

struct Parser {
    toks: Vec<Tok>,
    pos: usize,
}

fn lex(src: &str) -> Result<Vec<Tok>, String> {
    let b: Vec<char> = src.chars().collect();
    let mut i = 0;
    let mut out = Vec::new();
    while i < b.len() {
        let c = b[i];
        match c {
            c if c.is_whitespace() || c == ',' || c == '\u{feff}' => i += 1,
            '#' => {
                while i < b.len() && b[i] != '\n' {
                    i += 1;
                }
            }
            '{' | '}' | '(' | ')' | ':' | '!' | '$' | '@' | '[' | ']' | '=' | '|' | '&' => {
                out.push(Tok::Punct(c));
                i += 1;
            }
            '.' if b.get(i + 1) == Some(&'.') && b.get(i + 2) == Some(&'.') => {
                out.push(Tok::Spread);
                i += 3;
            }
            '"' => {
                if b.get(i + 1) == Some(&'"') && b.get(i + 2) == Some(&'"') {
                    return Err("block strings are not supported".into());
                }
                i += 1;
                let mut s = String::new();
                loop {
                    match b.get(i) {
                        None | Some('\n') => return Err("unterminated string".into()),
                        Some('"') => break,
                        Some('\\') => {
                            let e = b.get(i + 1).copied().ok_or("unterminated string")?;
                            s.push(match e {
                                'n' => '\n',
                                't' => '\t',
                                'r' => '\r',
                                'b' => '\u{8}',
                                'f' => '\u{c}',
                                'u' => {
                                    let hex: String = b
                                        .get(i + 2..i + 6)
                                        .ok_or("bad \\u escape")?
                                        .iter()
                                        .collect();
                                    i += 4;
                                    u32::from_str_radix(&hex, 16)
                                        .ok()
                                        .and_then(char::from_u32)
                                        .ok_or("bad \\u escape")?
                                }
                                other => other,
                            });
                            i += 2;
                        }
                        Some(&ch) => {
                            s.push(ch);
                            i += 1;
                        }
                    }
                }
                i += 1;
                out.push(Tok::Str(s));
            }
            c if c == '-' || c.is_ascii_digit() => {
                let start = i;
                i += 1;
                while i < b.len()
                    && (b[i].is_ascii_alphanumeric() || b[i] == '.' || b[i] == '-' || b[i] == '+')
                {
                    i += 1;
                }
                out.push(Tok::Num(b[start..i].iter().collect()));
            }
            c if c == '_' || c.is_ascii_alphabetic() => {
                let start = i;
                while i < b.len() && (b[i] == '_' || b[i].is_ascii_alphanumeric()) {
                    i += 1;
                }
                out.push(Tok::Name(b[start..i].iter().collect()));
            }
            other => return Err(format!("Syntax Error: unexpected character '{other}'")),
        }
    }
    Ok(out)
}

impl Parser {
    fn new(src: &str) -> Result<Parser, String> {
        Ok(Parser {
            toks: lex(src)?,
            pos: 0,
        })
    }

    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }

    fn next(&mut self) -> Result<Tok, String> {
        let t = self
            .toks
            .get(self.pos)
            .cloned()
            .ok_or("Syntax Error: unexpected end of the query")?;
        self.pos += 1;
        Ok(t)
    }

    fn is(&self, c: char) -> bool {
        self.peek() == Some(&Tok::Punct(c))
    }

    fn expect(&mut self, c: char) -> Result<(), String> {
        match self.next()? {
            Tok::Punct(p) if p == c => Ok(()),
            t => Err(format!("Syntax Error: expected '{c}', found {t:?}")),
        }
    }

    fn name(&mut self) -> Result<String, String> {
        match self.next()? {
            Tok::Name(n) => Ok(n),
            t => Err(format!("Syntax Error: expected a name, found {t:?}")),
        }
    }

    fn document(&mut self) -> Result<Vec<Operation>, String> {
        let mut ops = Vec::new();
        while self.peek().is_some() {
            ops.push(self.operation()?);
        }
        if ops.is_empty() {
            return Err("the query has no operation".into());
        }
        Ok(ops)
    }

    fn operation(&mut self) -> Result<Operation, String> {
        if self.is('{') {
            return Ok(Operation {
                kind: "query".into(),
                name: None,
                selection: self.selection_set(0)?,
            });
        }
        let kind = self.name()?;
        match kind.as_str() {
            "query" | "mutation" | "subscription" => {}
            "fragment" => return Err("fragments are not supported by this server".into()),
            other => return Err(format!("Syntax Error: unexpected '{other}'")),
        }
        let name = match self.peek() {
            Some(Tok::Name(_)) => Some(self.name()?),
            _ => None,
        };
        if self.is('(') {
            // Variable definitions: `$name: Type = default`, read and dropped.
            self.expect('(')?;
            let mut depth = 1;
            while depth > 0 {
                match self.next()? {
                    Tok::Punct('(') => depth += 1,
                    Tok::Punct(')') => depth -= 1,
                    _ => {}
                }
            }
        }
        self.directives()?;
        Ok(Operation {
            kind,
            name,
            selection: self.selection_set(0)?,
        })
    }

    fn directives(&mut self) -> Result<(), String> {
        while self.is('@') {
            self.expect('@')?;
            self.name()?;
            if self.is('(') {
                self.arguments(0)?;
            }
        }
        Ok(())
    }

    fn selection_set(&mut self, depth: usize) -> Result<Vec<Field>, String> {
        if depth > MAX_DEPTH {
            return Err(format!("the query nests deeper than {MAX_DEPTH} levels"));
        }
        self.expect('{')?;
        let mut fields = Vec::new();
        while !self.is('}') {
            if self.peek() == Some(&Tok::Spread) {
                return Err("fragments are not supported by this server".into());
            }
            let first = self.name()?;
            let (alias, name) = if self.is(':') {
                self.expect(':')?;
                (Some(first), self.name()?)
            } else {
                (None, first)
            };
            let args = if self.is('(') {
                self.arguments(depth)?
            } else {
                Vec::new()
            };
            self.directives()?;
            let selection = if self.is('{') {
                self.selection_set(depth + 1)?
            } else {
                Vec::new()
            };
            fields.push(Field {
                alias,
                name,
                args,
                selection,
            });
        }
        self.expect('}')?;
        Ok(fields)
    }

    fn arguments(&mut self, depth: usize) -> Result<Vec<(String, Arg)>, String> {
        self.expect('(')?;
        let mut args = Vec::new();
        while !self.is(')') {
            let k = self.name()?;
            self.expect(':')?;
            args.push((k, self.value(depth + 1)?));
        }
        self.expect(')')?;
        Ok(args)
    }

    fn value(&mut self, depth: usize) -> Result<Arg, String> {
        if depth > MAX_DEPTH {
            return Err(format!("the query nests deeper than {MAX_DEPTH} levels"));
        }
        Ok(match self.next()? {
            Tok::Punct('$') => Arg::Var(self.name()?),
            Tok::Str(s) => Arg::Lit(Value::String(s)),
            Tok::Num(n) => Arg::Lit(
                serde_json::from_str::<Value>(&n)
                    .map_err(|_| format!("Syntax Error: bad number '{n}'"))?,
            ),
            Tok::Name(n) => Arg::Lit(match n.as_str() {
                "true" => json!(true),
                "false" => json!(false),
                "null" => Value::Null,
                _ => Value::String(n),
            }),
            Tok::Punct('[') => {
                let mut a = Vec::new();
                while !self.is(']') {
                    a.push(self.value(depth + 1)?);
                }
                self.expect(']')?;
                Arg::List(a)
            }
            Tok::Punct('{') => {
                let mut o = Vec::new();
                while !self.is('}') {
                    let k = self.name()?;
                    self.expect(':')?;
                    o.push((k, self.value(depth + 1)?));
                }
                self.expect('}')?;
                Arg::Obj(o)
            }
            t => return Err(format!("Syntax Error: unexpected {t:?}")),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_ui_queries() {
        let q = r#"query GetRun($data: MlflowGetRunInput!) @component(name: "MLflow.X") {
            mlflowGetRun(input: $data) { __typename apiError { code } r: run { info { runName } } }
        }"#;
        let ops = Parser::new(q).unwrap().document().unwrap();
        assert_eq!(ops[0].name.as_deref(), Some("GetRun"));
        let f = &ops[0].selection[0];
        assert_eq!(f.name, "mlflowGetRun");
        assert!(matches!(&f.args[0].1, Arg::Var(v) if v == "data"));
        assert_eq!(f.selection[2].key(), "r");
        assert_eq!(f.selection[2].selection[0].selection[0].name, "runName");
    }

    #[test]
    fn shapes_and_projects() {
        let v = json!({"run": {"info": {"run_id": "a", "start_time": 5},
                                "data": {"metrics": [{"key": "k", "value": "NaN", "step": 2}]}}});
        let s = shape(&v, "MlflowGetRunResponse");
        assert_eq!(s["run"]["__typename"], "MlflowRunExtension");
        assert_eq!(s["run"]["info"]["startTime"], "5");
        assert_eq!(
            s["run"]["data"]["metrics"][0]["__typename"],
            "MlflowMetricExtension"
        );
        assert_eq!(s["run"]["data"]["metrics"][0]["value"], Value::Null);
        assert_eq!(s["run"]["data"]["metrics"][0]["step"], "2");
        let sel = Parser::new("{ run { __typename info { runId nope } } }")
            .unwrap()
            .document()
            .unwrap()
            .remove(0)
            .selection;
        let p = project(&s, &sel);
        assert_eq!(
            p,
            json!({"run": {"__typename": "MlflowRunExtension", "info": {"runId": "a", "nope": null}}})
        );
    }

    #[test]
    fn refuses_what_it_cannot_parse() {
        let deep = format!("{{ {} }}", "a { ".repeat(40) + &"} ".repeat(40));
        for (q, want) in [
            ("query { ...F }", "fragments"),
            ("fragment F on X { a }", "fragments"),
            ("query { x(", "Syntax Error"),
            ("query { x \"open", "unterminated"),
            (deep.as_str(), "deeper"),
        ] {
            let err = Parser::new(q).and_then(|mut p| p.document()).unwrap_err();
            assert!(err.contains(want), "{q}: {err}");
        }
        assert!(camel("run_uuid") == "runUuid" && snake("runUuid") == "run_uuid");
    }
}
