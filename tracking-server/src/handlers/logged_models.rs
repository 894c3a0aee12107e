//! MLflow 3 logged models: create, get, finalize, search, delete, tags, params.

use homeml_tracking::api::{
    CreateLoggedModel, LoggedModelOrder, LoggedModelStatus, SearchLoggedModels,
};
use serde_json::{json, Value};

use super::{empty, Ctx};
use crate::error::ApiError;
use crate::json;
use crate::request::Message;

/// `POST logged-models`.
pub fn create(c: &Ctx, m: &Message) -> Result<Value, ApiError> {
    let lm = c.store.create_logged_model(CreateLoggedModel {
        experiment_id: m.req_str("experiment_id")?,
        name: m.opt_str("name")?,
        model_type: m.opt_str("model_type")?.filter(|s| !s.is_empty()),
        source_run_id: m.opt_str("source_run_id")?.filter(|s| !s.is_empty()),
        params: m.key_value_map("params")?,
        tags: m.key_value_map("tags")?,
    })?;
    Ok(json!({"model": json::logged_model(&lm)}))
}

/// `GET logged-models/{model_id}`.
pub fn get(c: &Ctx, m: &Message) -> Result<Value, ApiError> {
    let id = m.req_str("model_id")?;
    let allow_deleted = m.opt_bool("allow_deleted")?.unwrap_or(false);
    Ok(json!({"model": json::logged_model(&c.store.get_logged_model(&id, allow_deleted)?)}))
}

/// `PATCH logged-models/{model_id}` (finalize).
pub fn finalize(c: &Ctx, m: &Message) -> Result<Value, ApiError> {
    let id = m.req_str("model_id")?;
    let status = LoggedModelStatus::parse(&m.req_str("status")?)
        .map_err(|e| ApiError::invalid(e.to_string()))?;
    let lm = c.store.finalize_logged_model(&id, status)?;
    Ok(json!({"model": json::logged_model(&lm)}))
}

/// `DELETE logged-models/{model_id}`.
pub fn delete(c: &Ctx, m: &Message) -> Result<Value, ApiError> {
    c.store.delete_logged_model(&m.req_str("model_id")?)?;
    Ok(empty())
}

/// `PATCH logged-models/{model_id}/tags`.
pub fn set_tags(c: &Ctx, m: &Message) -> Result<Value, ApiError> {
    let id = m.req_str("model_id")?;
    c.store
        .set_logged_model_tags(&id, &m.key_value_map("tags")?)?;
    // MLflow answers an empty message here (the proto's model field is never set).
    Ok(empty())
}

/// `DELETE logged-models/{model_id}/tags/{tag_key}`.
pub fn delete_tag(c: &Ctx, m: &Message) -> Result<Value, ApiError> {
    c.store
        .delete_logged_model_tag(&m.req_str("model_id")?, &m.req_str("tag_key")?)?;
    Ok(empty())
}

/// `POST logged-models/{model_id}/params`.
pub fn log_params(c: &Ctx, m: &Message) -> Result<Value, ApiError> {
    c.store
        .log_logged_model_params(&m.req_str("model_id")?, &m.key_value_map("params")?)?;
    Ok(empty())
}

/// `POST logged-models/search`.
pub fn search(c: &Ctx, m: &Message) -> Result<Value, ApiError> {
    let order_by = m
        .objects("order_by")?
        .iter()
        .map(|o| {
            Ok(LoggedModelOrder {
                field_name: o.req_str("field_name")?,
                ascending: o.opt_bool("ascending")?.unwrap_or(true),
            })
        })
        .collect::<Result<_, ApiError>>()?;
    let page = c.store.search_logged_models(&SearchLoggedModels {
        experiment_ids: m.strings("experiment_ids")?,
        filter: m.opt_str("filter")?,
        order_by,
        max_results: super::max_results(m, 100)?,
        page_token: m.opt_str("page_token")?,
    })?;
    Ok(json::page(
        "models",
        page.items.iter().map(json::logged_model).collect(),
        page.next_page_token,
    ))
}
