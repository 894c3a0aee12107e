//! The model registry: registered models, model versions, tags, aliases, stages, download URIs.

use homeml_tracking::api::{CreateModelVersion, CreateRegisteredModel, SearchRegistry};
use homeml_tracking::{RegisteredModel, Stage};
use serde_json::{json, Value};

use super::{empty, max_results, order_by, Ctx};
use crate::error::ApiError;
use crate::json;
use crate::request::Message;

fn version(m: &Message) -> Result<u64, ApiError> {
    let v = m.req_str("version")?;
    v.trim().parse::<u64>().map_err(|_| {
        ApiError::invalid(format!("Parameter 'version' must be an integer, got '{v}'"))
    })
}

fn stage(s: &str) -> Result<Stage, ApiError> {
    Stage::parse(s).ok_or_else(|| {
        ApiError::invalid(format!(
            "Invalid Model Version stage: {s}. Value must be one of None, Staging, Production, Archived."
        ))
    })
}

fn registered(c: &Ctx, rm: &RegisteredModel) -> Result<Value, ApiError> {
    let latest = c.store.get_latest_versions(&rm.name, &[])?;
    Ok(json::registered_model(rm, &latest))
}

/// `registered-models/create`.
pub fn create(c: &Ctx, m: &Message) -> Result<Value, ApiError> {
    let rm = c.store.create_registered_model(CreateRegisteredModel {
        name: m.req_str("name")?,
        description: m.opt_str("description")?,
        tags: m.key_value_map("tags")?,
    })?;
    Ok(json!({"registered_model": registered(c, &rm)?}))
}

/// `registered-models/get`.
pub fn get(c: &Ctx, m: &Message) -> Result<Value, ApiError> {
    let rm = c.store.get_registered_model(&m.req_str("name")?)?;
    Ok(json!({"registered_model": registered(c, &rm)?}))
}

fn search_req(m: &Message, default_max: usize) -> Result<SearchRegistry, ApiError> {
    Ok(SearchRegistry {
        filter: m.opt_str("filter")?,
        order_by: order_by(m)?,
        max_results: max_results(m, default_max)?,
        page_token: m.opt_str("page_token")?,
    })
}

/// `registered-models/search`.
pub fn search(c: &Ctx, m: &Message) -> Result<Value, ApiError> {
    let page = c.store.search_registered_models(&search_req(m, 100)?)?;
    let items = page
        .items
        .iter()
        .map(|rm| registered(c, rm))
        .collect::<Result<_, _>>()?;
    Ok(json::page("registered_models", items, page.next_page_token))
}

/// `registered-models/rename`.
pub fn rename(c: &Ctx, m: &Message) -> Result<Value, ApiError> {
    let new_name = m.req_str("new_name")?;
    let rm = c
        .store
        .rename_registered_model(&m.req_str("name")?, &new_name)?;
    Ok(json!({"registered_model": registered(c, &rm)?}))
}

/// `registered-models/update`.
pub fn update(c: &Ctx, m: &Message) -> Result<Value, ApiError> {
    let description = m.opt_str("description")?;
    let rm = c
        .store
        .update_registered_model(&m.req_str("name")?, description.as_deref())?;
    Ok(json!({"registered_model": registered(c, &rm)?}))
}

/// `registered-models/delete`.
pub fn delete(c: &Ctx, m: &Message) -> Result<Value, ApiError> {
    c.store.delete_registered_model(&m.req_str("name")?)?;
    Ok(empty())
}

/// `registered-models/set-tag`.
pub fn set_tag(c: &Ctx, m: &Message) -> Result<Value, ApiError> {
    c.store.set_registered_model_tag(
        &m.req_str("name")?,
        &m.req_str("key")?,
        &m.opt_str("value")?.unwrap_or_default(),
    )?;
    Ok(empty())
}

/// `registered-models/delete-tag`.
pub fn delete_tag(c: &Ctx, m: &Message) -> Result<Value, ApiError> {
    c.store
        .delete_registered_model_tag(&m.req_str("name")?, &m.req_str("key")?)?;
    Ok(empty())
}

/// `registered-models/get-latest-versions`.
pub fn latest_versions(c: &Ctx, m: &Message) -> Result<Value, ApiError> {
    let stages = m
        .strings("stages")?
        .iter()
        .map(|s| stage(s))
        .collect::<Result<Vec<_>, _>>()?;
    let versions = c.store.get_latest_versions(&m.req_str("name")?, &stages)?;
    Ok(json::page(
        "model_versions",
        versions.iter().map(json::model_version).collect(),
        None,
    ))
}

/// `POST registered-models/alias`.
pub fn set_alias(c: &Ctx, m: &Message) -> Result<Value, ApiError> {
    c.store
        .set_registered_model_alias(&m.req_str("name")?, &m.req_str("alias")?, version(m)?)?;
    Ok(empty())
}

/// `DELETE registered-models/alias`.
pub fn delete_alias(c: &Ctx, m: &Message) -> Result<Value, ApiError> {
    c.store
        .delete_registered_model_alias(&m.req_str("name")?, &m.req_str("alias")?)?;
    Ok(empty())
}

/// `GET registered-models/alias`.
pub fn get_by_alias(c: &Ctx, m: &Message) -> Result<Value, ApiError> {
    let alias = m.req_str("alias")?;
    let mv = match c
        .store
        .get_model_version_by_alias(&m.req_str("name")?, &alias)
    {
        // MLflow answers a missing alias with 400 INVALID_PARAMETER_VALUE, in these words.
        Err(homeml_tracking::TrackingError::NotFound { kind: "alias", .. }) => {
            return Err(ApiError::invalid(format!(
                "Registered model alias {alias} not found."
            )))
        }
        r => r?,
    };
    Ok(json!({"model_version": json::model_version(&mv)}))
}

/// `model-versions/create`.
pub fn create_version(c: &Ctx, m: &Message) -> Result<Value, ApiError> {
    let name = m.req_str("name")?;
    let source = m.req_str("source")?;
    let run_id = m.opt_str("run_id")?.filter(|s| !s.is_empty());
    let model_id = m.opt_str("model_id")?.filter(|s| !s.is_empty());
    let model_id =
        crate::validate::model_version_source(c, &source, run_id.as_deref(), model_id.as_deref())?;
    let mv = c.store.create_model_version(CreateModelVersion {
        name,
        source,
        run_id,
        model_id,
        run_link: m.opt_str("run_link")?,
        description: m.opt_str("description")?,
        tags: m.key_value_map("tags")?,
    })?;
    Ok(json!({"model_version": json::model_version(&mv)}))
}

/// `model-versions/get`.
pub fn get_version(c: &Ctx, m: &Message) -> Result<Value, ApiError> {
    let mv = c
        .store
        .get_model_version(&m.req_str("name")?, version(m)?)?;
    Ok(json!({"model_version": json::model_version(&mv)}))
}

/// `model-versions/search`.
pub fn search_versions(c: &Ctx, m: &Message) -> Result<Value, ApiError> {
    let page = c.store.search_model_versions(&search_req(m, 10_000)?)?;
    Ok(json::page(
        "model_versions",
        page.items.iter().map(json::model_version).collect(),
        page.next_page_token,
    ))
}

/// `model-versions/update`.
pub fn update_version(c: &Ctx, m: &Message) -> Result<Value, ApiError> {
    let description = m.opt_str("description")?;
    let mv =
        c.store
            .update_model_version(&m.req_str("name")?, version(m)?, description.as_deref())?;
    Ok(json!({"model_version": json::model_version(&mv)}))
}

/// `model-versions/transition-stage`.
pub fn transition_stage(c: &Ctx, m: &Message) -> Result<Value, ApiError> {
    let mv = c.store.transition_model_version_stage(
        &m.req_str("name")?,
        version(m)?,
        stage(&m.req_str("stage")?)?,
        m.opt_bool("archive_existing_versions")?.unwrap_or(false),
    )?;
    Ok(json!({"model_version": json::model_version(&mv)}))
}

/// `model-versions/delete`.
pub fn delete_version(c: &Ctx, m: &Message) -> Result<Value, ApiError> {
    c.store
        .delete_model_version(&m.req_str("name")?, version(m)?)?;
    Ok(empty())
}

/// `model-versions/set-tag`.
pub fn set_version_tag(c: &Ctx, m: &Message) -> Result<Value, ApiError> {
    c.store.set_model_version_tag(
        &m.req_str("name")?,
        version(m)?,
        &m.req_str("key")?,
        &m.opt_str("value")?.unwrap_or_default(),
    )?;
    Ok(empty())
}

/// `model-versions/delete-tag`.
pub fn delete_version_tag(c: &Ctx, m: &Message) -> Result<Value, ApiError> {
    c.store
        .delete_model_version_tag(&m.req_str("name")?, version(m)?, &m.req_str("key")?)?;
    Ok(empty())
}

/// `model-versions/get-download-uri`.
pub fn download_uri(c: &Ctx, m: &Message) -> Result<Value, ApiError> {
    let uri = c
        .store
        .get_model_version_download_uri(&m.req_str("name")?, version(m)?)?;
    Ok(json!({"artifact_uri": uri}))
}
