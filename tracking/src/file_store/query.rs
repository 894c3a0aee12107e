//! Running a search over objects read from disk: parse the filter and order_by, keep what matches,
//! sort (order_by first, then the caller's default order), cut one page.

use std::cmp::Ordering;

use crate::api::Page;
use crate::error::{Result, TrackingError};
use crate::search::eval::{self, Searchable};
use crate::search::{page, parse_filter, parse_order_by, Dialect, Filter, OrderBy, SearchError};

pub(crate) fn search_error(e: SearchError) -> TrackingError {
    TrackingError::InvalidValue {
        what: "search",
        reason: e.0,
    }
}

/// `max_results` in 1..=limit.
pub(crate) fn check_max_results(max: usize, limit: usize) -> Result<()> {
    if max == 0 || max > limit {
        return Err(TrackingError::InvalidValue {
            what: "max_results",
            reason: format!(
                "Invalid value {max} for parameter 'max_results' supplied. It must be a positive integer at most {limit}"
            ),
        });
    }
    Ok(())
}

pub(crate) fn parse_orders(order_by: &[String], dialect: Dialect) -> Result<Vec<OrderBy>> {
    order_by
        .iter()
        .filter(|o| !o.trim().is_empty())
        .map(|o| parse_order_by(o, dialect).map_err(search_error))
        .collect()
}

/// A search's filter, order and page.
pub(crate) struct Spec<'a> {
    pub(crate) filter: Option<&'a str>,
    pub(crate) orders: Vec<OrderBy>,
    pub(crate) dialect: Dialect,
    pub(crate) max_results: usize,
    pub(crate) page_token: Option<&'a str>,
}

/// The search's filter, parsed (empty: every object matches).
pub(crate) fn parse(spec: &Spec<'_>) -> Result<Filter> {
    parse_filter(spec.filter.unwrap_or(""), spec.dialect).map_err(search_error)
}

/// Filters, sorts (order_by, then `default_order`) and pages `items`.
pub(crate) fn run<T: Searchable>(
    items: Vec<T>,
    spec: &Spec<'_>,
    default_order: impl Fn(&T, &T) -> Ordering,
) -> Result<Page<T>> {
    run_parsed(items, spec, &parse(spec)?, default_order)
}

/// [`run`] with the spec's filter already parsed by [`parse`].
pub(crate) fn run_parsed<T: Searchable>(
    items: Vec<T>,
    spec: &Spec<'_>,
    filter: &Filter,
    default_order: impl Fn(&T, &T) -> Ordering,
) -> Result<Page<T>> {
    let mut kept: Vec<T> = items
        .into_iter()
        .filter(|t| eval::matches(filter, t))
        .collect();
    kept.sort_by(|a, b| eval::compare(&spec.orders, a, b).then_with(|| default_order(a, b)));
    let (items, next_page_token) =
        page::paginate(kept, spec.max_results, spec.page_token).map_err(search_error)?;
    Ok(Page {
        items,
        next_page_token,
    })
}
