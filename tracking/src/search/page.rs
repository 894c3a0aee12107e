//! Opaque page tokens (base64 of `{"offset": N}`, as MLflow's stores make them) and slicing a sorted
//! result into a page.

use base64::Engine as _;

use super::ast::SearchError;

/// The token of the page starting at `offset`.
pub fn encode(offset: usize) -> String {
    base64::engine::general_purpose::STANDARD.encode(format!("{{\"offset\": {offset}}}"))
}

/// The offset a token stands for (empty or absent: 0).
pub fn decode(token: Option<&str>) -> Result<usize, SearchError> {
    let Some(token) = token.filter(|t| !t.is_empty()) else {
        return Ok(0);
    };
    let bad = || {
        SearchError(format!(
            "Invalid page token, could not base64-decode '{token}'"
        ))
    };
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(token)
        .or_else(|_| base64::engine::general_purpose::URL_SAFE.decode(token))
        .map_err(|_| bad())?;
    let v: serde_json::Value = serde_json::from_slice(&bytes).map_err(|_| bad())?;
    v.get("offset")
        .and_then(serde_json::Value::as_u64)
        .map(|o| o as usize)
        .ok_or_else(|| SearchError(format!("Invalid page token '{token}': no offset")))
}

/// The page of `items` (already filtered and sorted) at `token`, of at most `max` items, with the
/// token of the next page when there is one.
pub fn paginate<T>(
    items: Vec<T>,
    max: usize,
    token: Option<&str>,
) -> Result<(Vec<T>, Option<String>), SearchError> {
    let offset = decode(token)?;
    let total = items.len();
    let end = offset.saturating_add(max).min(total);
    let page: Vec<T> = items
        .into_iter()
        .skip(offset)
        .take(end.saturating_sub(offset))
        .collect();
    let next = (end < total).then(|| encode(end));
    Ok((page, next))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_pages() {
        assert_eq!(decode(Some(&encode(42))).unwrap(), 42);
        assert_eq!(decode(None).unwrap(), 0);
        assert!(decode(Some("!!!")).is_err());
        let (p, next) = paginate((0..5).collect(), 2, None).unwrap();
        assert_eq!(p, vec![0, 1]);
        let (p, next) = paginate((0..5).collect(), 2, next.as_deref()).unwrap();
        assert_eq!(p, vec![2, 3]);
        let (p, next) = paginate((0..5).collect(), 2, next.as_deref()).unwrap();
        assert_eq!((p, next), (vec![4], None));
    }
}
