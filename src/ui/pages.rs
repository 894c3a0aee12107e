//! The pages of `homeml ui`, each rendered from the tracking store on request.

use std::collections::BTreeSet;
use std::fmt::Write;

use homeml_tracking::{Store, TrackingError, ViewType};

use crate::ui::chart::{line_chart, short_number};
use crate::ui::html::{duration, encode_segment, escape, page, time};

/// A rendered page, or `None` when what the URL names does not exist.
pub type PageResult = Result<Option<String>, Box<TrackingError>>;

/// True for errors that mean the URL names no object: unknown, or not a valid name at all.
fn names_nothing(e: &TrackingError) -> bool {
    e.is_not_found() || matches!(e, TrackingError::InvalidName { .. })
}

/// `/`: experiments and registered models.
pub fn home(store: &Store) -> PageResult {
    let mut body = String::from(
        "<h2>Experiments</h2><table><tr><th>id</th><th>name</th><th>runs</th><th>created</th></tr>",
    );
    let (experiments, skipped) = store.list_experiments_skipping(ViewType::ActiveOnly)?;
    for exp in experiments {
        let runs = store.search_runs(&[exp.experiment_id.as_str()])?.len();
        let _ = write!(
            body,
            r#"<tr><td>{id}</td><td><a href="/experiments/{link}">{name}</a></td><td class="num">{runs}</td><td>{t}</td></tr>"#,
            id = escape(&exp.experiment_id),
            link = encode_segment(&exp.experiment_id),
            name = escape(&exp.name),
            t = time(exp.creation_time),
        );
    }
    body.push_str("</table>");
    if !skipped.is_empty() {
        // Which folders, never the files' paths or contents (the server's log has the details).
        let ids: Vec<String> = skipped
            .iter()
            .filter_map(|f| f.parent()?.file_name())
            .map(|id| format!("<code>{}</code>", escape(&id.to_string_lossy())))
            .collect();
        let _ = write!(
            body,
            r#"<p class="notice">{n} experiment(s) could not be read and are not shown ({ids}): their <code>meta.yaml</code> is damaged. The server's log names the files.</p>"#,
            n = skipped.len(),
            ids = ids.join(", "),
        );
    }
    body.push_str("<h2>Registered models</h2>");
    let models = store.list_registered_models()?;
    if models.is_empty() {
        body.push_str(r#"<p class="muted">No registered model yet.</p>"#);
    } else {
        body.push_str(
            "<table><tr><th>name</th><th>latest version</th><th>aliases</th><th>updated</th></tr>",
        );
        for m in models {
            let latest = store
                .search_model_versions(Some(&m.name))?
                .iter()
                .map(|v| v.version)
                .max();
            let aliases: Vec<String> = m
                .aliases
                .iter()
                .map(|(a, v)| format!("<code>@{}</code> → {v}", escape(a)))
                .collect();
            let _ = write!(
                body,
                r#"<tr><td><a href="/models/{link}">{name}</a></td><td class="num">{latest}</td><td>{aliases}</td><td>{t}</td></tr>"#,
                link = encode_segment(&m.name),
                name = escape(&m.name),
                latest = latest.map(|v| v.to_string()).unwrap_or_else(|| "-".into()),
                aliases = aliases.join(" "),
                t = time(m.last_updated_timestamp),
            );
        }
        body.push_str("</table>");
    }
    Ok(Some(page("Experiments and models", &body)))
}

/// `/experiments/{id}`: the runs of one experiment with params and latest metrics.
pub fn experiment(store: &Store, id: &str) -> PageResult {
    let exp = match store.get_experiment(id) {
        Ok(e) => e,
        Err(e) if names_nothing(&e) => return Ok(None),
        Err(e) => return Err(Box::new(e)),
    };
    let runs = store.search_runs(&[id])?;
    let metric_keys: BTreeSet<&String> = runs.iter().flat_map(|r| r.data.metrics.keys()).collect();
    let param_keys: BTreeSet<&String> = runs.iter().flat_map(|r| r.data.params.keys()).collect();
    let mut body = format!(
        r#"<p class="muted">experiment {} · {} runs · artifacts at <code>{}</code></p><table><tr><th>run</th><th>status</th><th>start</th><th>duration</th>"#,
        escape(&exp.experiment_id),
        runs.len(),
        escape(&exp.artifact_location)
    );
    for k in &param_keys {
        let _ = write!(body, "<th>{}</th>", escape(k));
    }
    for k in &metric_keys {
        let _ = write!(body, "<th>{}</th>", escape(k));
    }
    body.push_str("</tr>");
    for run in &runs {
        let _ = write!(
            body,
            r#"<tr><td><a href="/runs/{link}">{name}</a></td><td>{status}</td><td>{start}</td><td>{dur}</td>"#,
            link = encode_segment(run.id()),
            name = escape(&run.info.run_name),
            status = run.info.status.as_str(),
            start = time(run.info.start_time),
            dur = duration(run.info.start_time, run.info.end_time),
        );
        for k in &param_keys {
            let v = run.data.params.get(*k).map(String::as_str).unwrap_or("");
            let _ = write!(body, "<td>{}</td>", escape(v));
        }
        for k in &metric_keys {
            let v = run
                .data
                .metrics
                .get(*k)
                .map(|m| short_number(m.value))
                .unwrap_or_default();
            let _ = write!(body, r#"<td class="num">{v}</td>"#);
        }
        body.push_str("</tr>");
    }
    body.push_str("</table>");
    Ok(Some(page(&format!("Experiment {}", exp.name), &body)))
}

/// `/runs/{id}`: one run's params, tags and a chart per metric history.
pub fn run(store: &Store, id: &str) -> PageResult {
    let run = match store.get_run(id) {
        Ok(r) => r,
        Err(e) if names_nothing(&e) => return Ok(None),
        Err(e) => return Err(Box::new(e)),
    };
    let mut body = format!(
        r#"<p class="muted">run <code>{id}</code> in <a href="/experiments/{exp_link}">experiment {exp}</a> · {status} · started {start} · {dur}</p>"#,
        id = escape(run.id()),
        exp_link = encode_segment(&run.info.experiment_id),
        exp = escape(&run.info.experiment_id),
        status = run.info.status.as_str(),
        start = time(run.info.start_time),
        dur = duration(run.info.start_time, run.info.end_time),
    );
    body.push_str(r#"<h2>Metrics</h2><div class="charts">"#);
    for key in run.data.metrics.keys() {
        let history = store.get_metric_history(id, key)?;
        let points: Vec<(i64, f64)> = history.iter().map(|m| (m.step, m.value)).collect();
        let latest = run
            .data
            .metrics
            .get(key)
            .map(|m| short_number(m.value))
            .unwrap_or_default();
        let chart = line_chart(key, &points)
            .unwrap_or_else(|| r#"<p class="muted">no finite value</p>"#.to_string());
        let _ = write!(
            body,
            r#"<figure><figcaption><b>{k}</b> latest {latest} · {n} values</figcaption>{chart}</figure>"#,
            k = escape(key),
            n = history.len(),
        );
    }
    body.push_str("</div><h2>Params</h2><table>");
    for (k, v) in &run.data.params {
        let _ = write!(
            body,
            "<tr><th>{}</th><td>{}</td></tr>",
            escape(k),
            escape(v)
        );
    }
    body.push_str("</table><h2>Tags</h2><table>");
    for (k, v) in &run.data.tags {
        let _ = write!(
            body,
            "<tr><th>{}</th><td>{}</td></tr>",
            escape(k),
            escape(v)
        );
    }
    body.push_str("</table>");
    if !run.model_outputs.is_empty() {
        body.push_str("<h2>Logged models</h2><ul>");
        for m in &run.model_outputs {
            let _ = write!(body, "<li><code>models:/{}</code></li>", escape(m));
        }
        body.push_str("</ul>");
    }
    Ok(Some(page(&format!("Run {}", run.info.run_name), &body)))
}

/// `/models/{name}`: a registered model's versions, stages and aliases.
pub fn model(store: &Store, name: &str) -> PageResult {
    let m = match store.get_registered_model(name) {
        Ok(m) => m,
        Err(e) if names_nothing(&e) => return Ok(None),
        Err(e) => return Err(Box::new(e)),
    };
    let mut versions = store.search_model_versions(Some(name))?;
    versions.sort_by_key(|v| std::cmp::Reverse(v.version));
    let mut body = String::new();
    if let Some(d) = m.description.as_deref().filter(|d| !d.is_empty()) {
        let _ = write!(body, "<p>{}</p>", escape(d));
    }
    body.push_str("<table><tr><th>version</th><th>aliases</th><th>stage</th><th>run</th><th>created</th><th>tags</th></tr>");
    for v in &versions {
        let aliases: Vec<String> = v
            .aliases
            .iter()
            .map(|a| format!("<code>@{}</code>", escape(a)))
            .collect();
        let run = match &v.run_id {
            Some(r) => format!(r#"<a href="/runs/{}">{}</a>"#, encode_segment(r), escape(r)),
            None => "-".into(),
        };
        let tags: Vec<String> = v
            .tags
            .iter()
            .map(|(k, val)| format!("{}={}", escape(k), escape(val)))
            .collect();
        let _ = write!(
            body,
            r#"<tr><td class="num">{ver}</td><td>{aliases}</td><td>{stage}</td><td>{run}</td><td>{t}</td><td>{tags}</td></tr>"#,
            ver = v.version,
            aliases = aliases.join(" "),
            stage = v.current_stage.as_str(),
            t = time(v.creation_timestamp),
            tags = tags.join(", "),
        );
    }
    body.push_str("</table>");
    let _ = write!(
        body,
        r#"<p class="muted">Serve it: <code>homeml serve -m models:/{}@&lt;alias&gt;</code></p>"#,
        escape(name)
    );
    Ok(Some(page(&format!("Model {}", m.name), &body)))
}
