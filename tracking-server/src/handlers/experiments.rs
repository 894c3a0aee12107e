//! Experiments: create, get, get-by-name, search, update, delete, restore, tags.

use homeml_tracking::api::{CreateExperiment, SearchExperiments};
use serde_json::{json, Value};

use super::{empty, max_results, order_by, view_type, Ctx};
use crate::error::ApiError;
use crate::json;
use crate::request::Message;

/// `experiments/create`.
pub fn create(c: &Ctx, m: &Message) -> Result<Value, ApiError> {
    let name = m.req_str("name")?;
    let artifact_location = m.opt_str("artifact_location")?.filter(|s| !s.is_empty());
    if let Some(loc) = &artifact_location {
        crate::validate::artifact_location(c, loc)?;
    }
    let id = c.store.create_experiment(CreateExperiment {
        name,
        artifact_location,
        tags: m.key_value_map("tags")?,
    })?;
    Ok(json!({"experiment_id": id}))
}

/// `experiments/get`.
pub fn get(c: &Ctx, m: &Message) -> Result<Value, ApiError> {
    let e = c.store.get_experiment(&m.req_str("experiment_id")?)?;
    Ok(json!({"experiment": json::experiment(&e)}))
}

/// `experiments/get-by-name`.
pub fn get_by_name(c: &Ctx, m: &Message) -> Result<Value, ApiError> {
    let name = m.req_str("experiment_name")?;
    match c.store.get_experiment_by_name(&name)? {
        Some(e) => Ok(json!({"experiment": json::experiment(&e)})),
        None => Err(ApiError::not_found(format!(
            "Could not find experiment with name '{name}'"
        ))),
    }
}

/// `experiments/search`.
pub fn search(c: &Ctx, m: &Message) -> Result<Value, ApiError> {
    let page = c.store.search_experiments(&SearchExperiments {
        filter: m.opt_str("filter")?,
        order_by: order_by(m)?,
        max_results: max_results(m, 1000)?,
        page_token: m.opt_str("page_token")?,
        view: view_type(m, "view_type")?,
    })?;
    Ok(json::page(
        "experiments",
        page.items.iter().map(json::experiment).collect(),
        page.next_page_token,
    ))
}

/// `experiments/update`.
pub fn update(c: &Ctx, m: &Message) -> Result<Value, ApiError> {
    let id = m.req_str("experiment_id")?;
    if let Some(name) = m.opt_str("new_name")?.filter(|n| !n.is_empty()) {
        c.store.rename_experiment(&id, &name)?;
    }
    Ok(empty())
}

/// `experiments/delete`.
pub fn delete(c: &Ctx, m: &Message) -> Result<Value, ApiError> {
    c.store.delete_experiment(&m.req_str("experiment_id")?)?;
    Ok(empty())
}

/// `experiments/restore`.
pub fn restore(c: &Ctx, m: &Message) -> Result<Value, ApiError> {
    c.store.restore_experiment(&m.req_str("experiment_id")?)?;
    Ok(empty())
}

/// `experiments/set-experiment-tag`.
pub fn set_tag(c: &Ctx, m: &Message) -> Result<Value, ApiError> {
    c.store.set_experiment_tag(
        &m.req_str("experiment_id")?,
        &m.req_str("key")?,
        &m.opt_str("value")?.unwrap_or_default(),
    )?;
    Ok(empty())
}

/// `experiments/delete-experiment-tag`.
pub fn delete_tag(c: &Ctx, m: &Message) -> Result<Value, ApiError> {
    c.store
        .delete_experiment_tag(&m.req_str("experiment_id")?, &m.req_str("key")?)?;
    Ok(empty())
}

/// `experiments/search-datasets` (the UI's run table): no dataset summaries are kept.
pub fn search_datasets(_c: &Ctx, _m: &Message) -> Result<Value, ApiError> {
    Ok(json!({"dataset_summaries": []}))
}
