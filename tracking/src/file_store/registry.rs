//! The file store's model registry over the API: creation with tags, search, latest versions.

use std::collections::BTreeMap;

use super::query::{self, check_max_results, parse_orders, Spec};
use crate::api::{validate, CreateModelVersion, CreateRegisteredModel, Page, SearchRegistry};
use crate::entities::{ModelVersion, RegisteredModel, Stage};
use crate::error::Result;
use crate::registry::ModelVersionOptions;
use crate::search::Dialect;
use crate::store::Store;

/// Most registered models one search page holds (MLflow's limit).
const MAX_REGISTERED_MODELS_PER_PAGE: usize = 1000;
/// Most model versions one search page holds (MLflow's limit).
const MAX_MODEL_VERSIONS_PER_PAGE: usize = 200_000;

impl Store {
    pub(crate) fn api_create_registered_model(
        &self,
        req: CreateRegisteredModel,
    ) -> Result<RegisteredModel> {
        for (k, v) in &req.tags {
            validate::tag(k, v)?;
        }
        self.create_registered_model(&req.name)?;
        if let Some(d) = req.description.as_deref().filter(|d| !d.is_empty()) {
            self.set_registered_model_description(&req.name, Some(d))?;
        }
        for (k, v) in &req.tags {
            self.set_registered_model_tag(&req.name, k, v)?;
        }
        self.get_registered_model(&req.name)
    }

    pub(crate) fn api_search_registered_models(
        &self,
        req: &SearchRegistry,
    ) -> Result<Page<RegisteredModel>> {
        let max = if req.max_results == 0 {
            100
        } else {
            req.max_results
        };
        check_max_results(max, MAX_REGISTERED_MODELS_PER_PAGE)?;
        let spec = Spec {
            filter: req.filter.as_deref(),
            orders: parse_orders(&req.order_by, Dialect::RegisteredModels)?,
            dialect: Dialect::RegisteredModels,
            max_results: max,
            page_token: req.page_token.as_deref(),
        };
        query::run(self.list_registered_models()?, &spec, |a, b| {
            a.name.cmp(&b.name)
        })
    }

    pub(crate) fn api_latest_versions(
        &self,
        name: &str,
        stages: &[Stage],
    ) -> Result<Vec<ModelVersion>> {
        let mut latest: BTreeMap<&'static str, ModelVersion> = BTreeMap::new();
        for mv in self.search_model_versions(Some(name))? {
            if !stages.is_empty() && !stages.contains(&mv.current_stage) {
                continue;
            }
            let key = mv.current_stage.as_str();
            if latest.get(key).is_none_or(|old| old.version < mv.version) {
                latest.insert(key, mv);
            }
        }
        let mut out: Vec<ModelVersion> = latest.into_values().collect();
        out.sort_by_key(|mv| mv.version);
        Ok(out)
    }

    pub(crate) fn api_create_model_version(&self, req: CreateModelVersion) -> Result<ModelVersion> {
        for (k, v) in &req.tags {
            validate::tag(k, v)?;
        }
        self.create_model_version_with(
            &req.name,
            &req.source,
            ModelVersionOptions {
                run_id: req.run_id.filter(|r| !r.is_empty()),
                model_id: req.model_id.filter(|m| !m.is_empty()),
                description: req.description.filter(|d| !d.is_empty()),
                tags: req.tags,
            },
        )
    }

    pub(crate) fn api_search_model_versions(
        &self,
        req: &SearchRegistry,
    ) -> Result<Page<ModelVersion>> {
        let max = if req.max_results == 0 {
            10_000
        } else {
            req.max_results
        };
        check_max_results(max, MAX_MODEL_VERSIONS_PER_PAGE)?;
        let spec = Spec {
            filter: req.filter.as_deref(),
            orders: parse_orders(&req.order_by, Dialect::ModelVersions)?,
            dialect: Dialect::ModelVersions,
            max_results: max,
            page_token: req.page_token.as_deref(),
        };
        // MLflow's default order: last_updated_timestamp DESC, name ASC, version DESC.
        query::run(self.search_model_versions(None)?, &spec, |a, b| {
            b.last_updated_timestamp
                .cmp(&a.last_updated_timestamp)
                .then(a.name.cmp(&b.name))
                .then(b.version.cmp(&a.version))
        })
    }
}
