//! Routing: which handler answers a method and path. Every proto endpoint is served under
//! `/api/2.0/mlflow/`, `/api/2.0/preview/mlflow/` and `/ajax-api/2.0/mlflow/`, after an optional
//! `--static-prefix`.

use hyper::Method;

use crate::handlers::{
    experiments as e, logged_models as lm, registry as r, runs, ui_data, Handler,
};

/// What answers a request.
#[derive(Debug)]
pub enum Route {
    /// A proto endpoint, with path parameters to add to its message.
    Proto(Handler, Vec<(&'static str, String)>),
    /// `GET /health`.
    Health,
    /// `GET /version`.
    Version,
    /// `GET /api/3.0/mlflow/server-info`.
    ServerInfo,
    /// `GET mlflow-artifacts/artifacts?path=`.
    ArtifactList,
    /// `GET mlflow-artifacts/artifacts/<path>` (raw path, still percent-encoded).
    ArtifactGet(String),
    /// `PUT mlflow-artifacts/artifacts/<path>`.
    ArtifactPut(String),
    /// `DELETE mlflow-artifacts/artifacts/<path>`.
    ArtifactDelete(String),
    /// A route of the web UI (static bundle, pages, `/graphql`, artifact downloads).
    Ui(crate::ui::UiRoute),
    /// The path exists with other methods.
    MethodNotAllowed,
    /// No such endpoint.
    NotFound,
}

const PROTO_PREFIXES: &[&str] = &[
    "/api/2.0/mlflow/",
    "/api/2.0/preview/mlflow/",
    "/ajax-api/2.0/mlflow/",
];
const ARTIFACT_API_PREFIXES: &[&str] = &[
    "/api/2.0/mlflow-artifacts/",
    "/ajax-api/2.0/mlflow-artifacts/",
];
const ARTIFACT_PREFIXES: &[&str] = &[
    "/api/2.0/mlflow-artifacts/artifacts",
    "/ajax-api/2.0/mlflow-artifacts/artifacts",
];

/// The route of `method path` (path without the query, after the static prefix is removed).
pub fn route(method: &Method, path: &str) -> Route {
    match path {
        "/health" if method == Method::GET => return Route::Health,
        "/version" if method == Method::GET => return Route::Version,
        "/api/3.0/mlflow/server-info" | "/ajax-api/3.0/mlflow/server-info" => {
            return if method == Method::GET {
                Route::ServerInfo
            } else {
                Route::MethodNotAllowed
            }
        }
        _ => {}
    }
    if let Some(u) = crate::ui::route(method, path) {
        return Route::Ui(u);
    }
    for p in ARTIFACT_PREFIXES {
        if let Some(rest) = path.strip_prefix(p) {
            if rest.is_empty() || rest == "/" {
                return match *method {
                    Method::GET => Route::ArtifactList,
                    _ => Route::MethodNotAllowed,
                };
            }
            let Some(rest) = rest.strip_prefix('/') else {
                return Route::NotFound;
            };
            return match *method {
                Method::GET => Route::ArtifactGet(rest.to_string()),
                Method::PUT => Route::ArtifactPut(rest.to_string()),
                Method::DELETE => Route::ArtifactDelete(rest.to_string()),
                _ => Route::MethodNotAllowed,
            };
        }
    }
    for p in ARTIFACT_API_PREFIXES {
        if let Some(r) = path
            .strip_prefix(p)
            .and_then(|rest| multipart(method, rest))
        {
            return r;
        }
    }
    for p in PROTO_PREFIXES {
        if let Some(rest) = path.strip_prefix(p) {
            return proto(method, rest.trim_end_matches('/'));
        }
    }
    Route::NotFound
}

/// `mpu/{create,complete,abort}/<path>` (POST) and `presigned/<path>` (GET) under the artifact
/// proxy's prefix; `None` for other paths.
fn multipart(method: &Method, rest: &str) -> Option<Route> {
    use crate::handlers::multipart as mp;
    let (want, f, tail): (Method, Handler, &str) = if let Some(t) = rest.strip_prefix("mpu/create/")
    {
        (Method::POST, mp::create, t)
    } else if let Some(t) = rest.strip_prefix("mpu/complete/") {
        (Method::POST, mp::complete, t)
    } else if let Some(t) = rest.strip_prefix("mpu/abort/") {
        (Method::POST, mp::abort, t)
    } else if let Some(t) = rest.strip_prefix("presigned/") {
        (Method::GET, mp::presigned, t)
    } else {
        return None;
    };
    if tail.is_empty() {
        return Some(Route::NotFound);
    }
    if *method != want {
        return Some(Route::MethodNotAllowed);
    }
    let path = crate::request::path_decode(tail);
    Some(Route::Proto(f, vec![("artifact_path", path)]))
}

fn h(f: Handler) -> Route {
    Route::Proto(f, Vec::new())
}

/// A proto endpoint by its path under the prefix.
fn proto(method: &Method, rest: &str) -> Route {
    use Method as M;
    let m = method.clone();
    let known = |get: Option<Handler>, post: Option<Handler>| -> Route {
        match (m.clone(), get, post) {
            (M::GET, Some(f), _) => h(f),
            (M::POST, _, Some(f)) => h(f),
            _ => Route::MethodNotAllowed,
        }
    };
    let only = |want: M, f: Handler| -> Route {
        if m == want {
            h(f)
        } else {
            Route::MethodNotAllowed
        }
    };
    match rest {
        "experiments/create" => only(M::POST, e::create),
        "experiments/get" => only(M::GET, e::get),
        "experiments/get-by-name" => only(M::GET, e::get_by_name),
        "experiments/search" => known(Some(e::search), Some(e::search)),
        "experiments/update" => only(M::POST, e::update),
        "experiments/delete" => only(M::POST, e::delete),
        "experiments/restore" => only(M::POST, e::restore),
        "experiments/set-experiment-tag" => only(M::POST, e::set_tag),
        "experiments/delete-experiment-tag" => only(M::POST, e::delete_tag),
        "experiments/search-datasets" => only(M::POST, e::search_datasets),
        "runs/create" => only(M::POST, runs::create),
        "runs/get" => only(M::GET, runs::get),
        "runs/update" => only(M::POST, runs::update),
        "runs/delete" => only(M::POST, runs::delete),
        "runs/restore" => only(M::POST, runs::restore),
        "runs/search" => known(Some(runs::search), Some(runs::search)),
        "runs/log-batch" => only(M::POST, runs::log_batch),
        "runs/log-metric" => only(M::POST, runs::log_metric),
        "runs/log-parameter" => only(M::POST, runs::log_param),
        "runs/set-tag" => only(M::POST, runs::set_tag),
        "runs/delete-tag" => only(M::POST, runs::delete_tag),
        "runs/log-inputs" => only(M::POST, runs::log_inputs),
        "runs/outputs" => only(M::POST, runs::log_outputs),
        "runs/log-model" => only(M::POST, runs::log_model),
        "metrics/get-history" => only(M::GET, runs::get_history),
        "metrics/get-history-bulk" => only(M::GET, ui_data::history_bulk),
        "metrics/get-history-bulk-interval" => only(M::GET, ui_data::history_bulk_interval),
        "gateway-proxy" => known(Some(ui_data::gateway_proxy), Some(ui_data::gateway_proxy)),
        "artifacts/list" => only(M::GET, crate::handlers::artifacts::list),
        "logged-models" => only(M::POST, lm::create),
        "logged-models/search" => only(M::POST, lm::search),
        "registered-models/create" => only(M::POST, r::create),
        "registered-models/get" => only(M::GET, r::get),
        "registered-models/search" => only(M::GET, r::search),
        "registered-models/rename" => only(M::POST, r::rename),
        "registered-models/update" => only(M::PATCH, r::update),
        "registered-models/delete" => only(M::DELETE, r::delete),
        "registered-models/set-tag" => only(M::POST, r::set_tag),
        "registered-models/delete-tag" => only(M::DELETE, r::delete_tag),
        "registered-models/get-latest-versions" => {
            known(Some(r::latest_versions), Some(r::latest_versions))
        }
        "registered-models/alias" => match m {
            M::POST => h(r::set_alias),
            M::GET => h(r::get_by_alias),
            M::DELETE => h(r::delete_alias),
            _ => Route::MethodNotAllowed,
        },
        "model-versions/create" => only(M::POST, r::create_version),
        "model-versions/get" => only(M::GET, r::get_version),
        "model-versions/search" => only(M::GET, r::search_versions),
        "model-versions/get-download-uri" => only(M::GET, r::download_uri),
        "model-versions/update" => only(M::PATCH, r::update_version),
        "model-versions/transition-stage" => only(M::POST, r::transition_stage),
        "model-versions/delete" => only(M::DELETE, r::delete_version),
        "model-versions/set-tag" => only(M::POST, r::set_version_tag),
        "model-versions/delete-tag" => only(M::DELETE, r::delete_version_tag),
        _ => logged_model_paths(method, rest),
    }
}

/// `logged-models/{model_id}[/tags[/{key}]|/params]`.
fn logged_model_paths(method: &Method, rest: &str) -> Route {
    let Some(tail) = rest.strip_prefix("logged-models/") else {
        return Route::NotFound;
    };
    let parts: Vec<&str> = tail.splitn(3, '/').collect();
    let id = |p: &str| vec![("model_id", crate::request::path_decode(p))];
    match (method, parts.as_slice()) {
        (&Method::GET, [mid]) => Route::Proto(lm::get, id(mid)),
        (&Method::PATCH, [mid]) => Route::Proto(lm::finalize, id(mid)),
        (&Method::DELETE, [mid]) => Route::Proto(lm::delete, id(mid)),
        (&Method::PATCH, [mid, "tags"]) => Route::Proto(lm::set_tags, id(mid)),
        (&Method::POST, [mid, "params"]) => Route::Proto(lm::log_params, id(mid)),
        (&Method::GET, [mid, "artifacts", "directories"]) => {
            Route::Proto(ui_data::logged_model_artifacts, id(mid))
        }
        (&Method::DELETE, [mid, "tags", key]) => {
            let mut p = id(mid);
            p.push(("tag_key", crate::request::path_decode(key)));
            Route::Proto(lm::delete_tag, p)
        }
        (_, [_]) | (_, [_, "tags"]) | (_, [_, "params"]) | (_, [_, "tags", _]) => {
            Route::MethodNotAllowed
        }
        _ => Route::NotFound,
    }
}
