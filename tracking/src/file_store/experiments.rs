//! The file store's experiments over the API: creation with tags and a location, search.

use super::query::{self, check_max_results, parse_orders, Spec};
use crate::api::{validate, CreateExperiment, Page, SearchExperiments};
use crate::entities::Experiment;
use crate::error::Result;
use crate::search::Dialect;
use crate::store::Store;

/// Most experiments one search page holds (MLflow's SEARCH_MAX_RESULTS_THRESHOLD).
pub(crate) const MAX_EXPERIMENTS_PER_PAGE: usize = 50_000;

impl Store {
    pub(crate) fn api_create_experiment(&self, req: CreateExperiment) -> Result<String> {
        for (k, v) in &req.tags {
            validate::experiment_tag(k, v)?;
        }
        let id = self.create_experiment_at(&req.name, req.artifact_location.as_deref())?;
        for (k, v) in &req.tags {
            self.set_experiment_tag(&id, k, v)?;
        }
        Ok(id)
    }

    pub(crate) fn api_search_experiments(
        &self,
        req: &SearchExperiments,
    ) -> Result<Page<Experiment>> {
        check_max_results(req.max_results, MAX_EXPERIMENTS_PER_PAGE)?;
        let spec = Spec {
            filter: req.filter.as_deref(),
            orders: parse_orders(&req.order_by, Dialect::Experiments)?,
            dialect: Dialect::Experiments,
            max_results: req.max_results,
            page_token: req.page_token.as_deref(),
        };
        let all = self.list_experiments_view(req.view)?;
        // MLflow's default: newest first, then by id.
        query::run(all, &spec, |a, b| {
            b.creation_time.cmp(&a.creation_time).then_with(|| {
                (a.experiment_id.len(), &a.experiment_id)
                    .cmp(&(b.experiment_id.len(), &b.experiment_id))
            })
        })
    }
}
