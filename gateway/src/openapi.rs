//! The OpenAPI 3.1 document generated from the app configs (one request and one response schema per
//! app, from its named features), and the self-contained `/docs` page that renders it.

use serde_json::{json, Map, Value};

use crate::config::{toml_to_json, AppConfig, FeatureType, GatewayConfig};

/// Builds the OpenAPI 3.1 document for a (checked) config.
pub fn document(cfg: &GatewayConfig) -> Value {
    let mut paths = Map::new();
    let mut schemas = Map::new();
    let auth_on = cfg.auth.is_some();
    schemas.insert(
        "Error".into(),
        json!({
            "type": "object",
            "required": ["error"],
            "properties": {"error": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {
                    "code": {"type": "string"},
                    "message": {"type": "string"},
                    "field": {"type": "string", "description": "The offending field (validation errors)."}
                }
            }}
        }),
    );
    schemas.insert(
        "ModelInfo".into(),
        json!({
            "type": "object",
            "required": ["name"],
            "properties": {
                "name": {"type": "string"},
                "version": {"type": ["string", "null"]}
            }
        }),
    );
    for app in &cfg.apps {
        let (features, prediction, response) = app_schemas(app);
        let fname = format!("{}_features", app.name);
        let pname = format!("{}_prediction", app.name);
        let rname = format!("{}_response", app.name);
        schemas.insert(fname.clone(), features);
        schemas.insert(pname, prediction);
        schemas.insert(rname.clone(), response);
        let mut op = json!({
            "operationId": format!("predict_{}", app.name.replace(['-', '.'], "_")),
            "summary": format!("Predict with app {}", app.name),
            "description": app.description.clone().unwrap_or_else(|| format!(
                "Send one object of named features, or a list of them (a batch), to app {}.", app.name)),
            "tags": [app.name],
            "parameters": [{
                "name": "probabilities",
                "in": "query",
                "required": false,
                "description": "Also return the class probabilities.",
                "schema": {"type": "boolean", "default": false}
            }],
            "requestBody": {
                "required": true,
                "content": {"application/json": {"schema": {"oneOf": [
                    {"$ref": format!("#/components/schemas/{fname}")},
                    {"type": "array", "minItems": 1, "maxItems": cfg.server.max_batch_rows,
                     "items": {"$ref": format!("#/components/schemas/{fname}")}}
                ]}}}
            },
            "responses": {
                "200": {"description": "The prediction(s).",
                        "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{rname}")}}}},
                "400": {"$ref": "#/components/responses/Error"},
                "413": {"$ref": "#/components/responses/Error"},
                "422": {"$ref": "#/components/responses/Error"},
                "502": {"$ref": "#/components/responses/Error"},
                "503": {"$ref": "#/components/responses/Error"},
                "504": {"$ref": "#/components/responses/Error"}
            }
        });
        if auth_on && app.auth {
            op["security"] = json!([{"apiKey": []}]);
            op["responses"]["401"] = json!({"$ref": "#/components/responses/Error"});
            op["responses"]["403"] = json!({"$ref": "#/components/responses/Error"});
            op["responses"]["429"] = json!({"$ref": "#/components/responses/RateLimited"});
        }
        paths.insert(app.route(), json!({ "post": op }));
    }
    paths.insert(
        "/health".into(),
        json!({"get": {"operationId": "health", "summary": "Liveness", "responses": {"200": {
            "description": "The gateway is up.",
            "content": {"application/json": {"schema": {"type": "object"}}}}}}}),
    );
    paths.insert(
        "/metrics".into(),
        json!({"get": {"operationId": "metrics", "summary": "Prometheus metrics", "responses": {"200": {
            "description": "Prometheus text exposition.",
            "content": {"text/plain": {"schema": {"type": "string"}}}}}}}),
    );
    paths.insert(
        "/openapi.json".into(),
        json!({"get": {"operationId": "openapi", "summary": "This document", "responses": {"200": {
            "description": "OpenAPI 3.1 document.",
            "content": {"application/json": {"schema": {"type": "object"}}}}}}}),
    );
    let mut components = json!({
        "schemas": schemas,
        "responses": {
            "Error": {"description": "An error.",
                      "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
            "RateLimited": {"description": "Rate limit exceeded.",
                            "headers": {"Retry-After": {"description": "Seconds to wait.",
                                                        "schema": {"type": "integer"}}},
                            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
        }
    });
    if let Some(auth) = &cfg.auth {
        components["securitySchemes"] =
            json!({"apiKey": {"type": "apiKey", "in": "header", "name": auth.header}});
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "homeml gateway",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Typed apps with named features in front of model servers."
        },
        "paths": paths,
        "components": components
    })
}

fn app_schemas(app: &AppConfig) -> (Value, Value, Value) {
    let mut props = Map::new();
    let mut required = Vec::new();
    for f in &app.features {
        let mut s = match f.kind {
            FeatureType::Float => json!({"type": "number"}),
            FeatureType::Int => json!({"type": "integer"}),
            FeatureType::Bool => json!({"type": "boolean"}),
            FeatureType::String => json!({"type": "string", "enum": f.categories}),
        };
        if let Some(lo) = f.min {
            s["minimum"] = json!(lo);
        }
        if let Some(hi) = f.max {
            s["maximum"] = json!(hi);
        }
        if let Some(d) = &f.default {
            s["default"] = toml_to_json(d);
        }
        if let Some(desc) = &f.description {
            s["description"] = json!(desc);
        }
        if f.required && f.default.is_none() {
            required.push(f.name.clone());
        } else if let Some(t) = s.get("type").cloned() {
            // An optional feature may be sent as null.
            s["type"] = json!([t, "null"]);
            if let Some(Value::Array(e)) = s.get_mut("enum") {
                e.push(Value::Null);
            }
        }
        props.insert(f.name.clone(), s);
    }
    let features = json!({
        "type": "object",
        "title": format!("{} features", app.name),
        "properties": props,
        "required": required,
        "additionalProperties": false
    });
    let labels = &app.output.labels;
    let label = if labels.is_empty() {
        json!({"type": ["integer", "number", "string"]})
    } else {
        json!({"type": "string", "enum": labels})
    };
    let probabilities = if labels.is_empty() {
        json!({"type": "array", "items": {"type": "number"}})
    } else {
        let p: Map<String, Value> = labels
            .iter()
            .map(|l| (l.clone(), json!({"type": "number"})))
            .collect();
        json!({"type": "object", "properties": p})
    };
    let prediction = json!({
        "type": "object",
        "required": ["label"],
        "properties": {
            "label": label,
            "score": {"type": "number", "description": "The score the threshold was applied to."},
            "probabilities": probabilities
        }
    });
    let pref = format!("#/components/schemas/{}_prediction", app.name);
    let response = json!({
        "type": "object",
        "required": ["model", "request_id"],
        "properties": {
            "label": label,
            "score": {"type": "number"},
            "probabilities": probabilities,
            "predictions": {"type": "array", "items": {"$ref": pref},
                            "description": "One prediction per row (batch requests)."},
            "model": {"$ref": "#/components/schemas/ModelInfo"},
            "upstream": {"type": "string"},
            "request_id": {"type": "string"}
        }
    });
    (features, prediction, response)
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The `/docs` page's one stylesheet, inline; [`docs_content_security_policy`] admits exactly it.
pub const DOCS_STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:960px;margin:2em auto;padding:0 1em;color:#222}\
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:.25em .6em;text-align:left}\
code,pre{background:#f5f5f5;padding:.1em .3em}pre{padding:.6em;overflow:auto}\
.op{border:1px solid #ddd;border-radius:6px;padding:.5em 1em;margin:1em 0}\
.m{font-weight:bold;color:#fff;background:#49cc90;padding:.1em .5em;border-radius:3px}";

/// The Content-Security-Policy of the `/docs` page: no scripts, images, frames or forms; the one inline
/// stylesheet by its SHA-256 hash; no page may frame it.
pub fn docs_content_security_policy() -> String {
    use sha2::{Digest, Sha256};
    format!(
        "default-src 'none'; style-src 'sha256-{}'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
        base64(&Sha256::digest(DOCS_STYLE.as_bytes()))
    )
}

/// Standard base64 with padding (RFC 4648), as CSP hash sources are written.
fn base64(bytes: &[u8]) -> String {
    use base64ct::Encoding;
    base64ct::Base64::encode_string(bytes)
}

/// A self-contained HTML page (no external assets) listing the operations and their schemas.
pub fn docs_page(cfg: &GatewayConfig, doc: &Value) -> String {
    let mut h = String::from(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>homeml gateway API</title>\n<style>",
    );
    h.push_str(DOCS_STYLE);
    h.push_str(
        "</style></head><body>\n<h1>homeml gateway API</h1>\n\
         <p>Generated from the gateway config. Machine-readable: <a href=\"/openapi.json\">/openapi.json</a> (OpenAPI 3.1).</p>\n",
    );
    for app in &cfg.apps {
        let route = html_escape(&app.route());
        h.push_str(&format!(
            "<div class=\"op\" id=\"app-{name}\"><h2><span class=\"m\">POST</span> <code>{route}</code></h2>\n<p>App <b>{name}</b>. {desc}</p>\n",
            name = html_escape(&app.name),
            desc = html_escape(app.description.as_deref().unwrap_or(
                "Send one object of named features, or a list of them; add ?probabilities=true for class probabilities."))
        ));
        if cfg.auth.is_some() && app.auth {
            let header = cfg.auth.as_ref().map(|a| a.header.as_str()).unwrap_or("");
            h.push_str(&format!(
                "<p>Needs an API key in header <code>{}</code>.</p>\n",
                html_escape(header)
            ));
        }
        h.push_str("<table><tr><th>feature</th><th>type</th><th>required</th><th>default</th><th>min</th><th>max</th><th>values</th></tr>\n");
        let mut example = Map::new();
        for f in &app.features {
            let cell = |v: Option<String>| v.map(|s| html_escape(&s)).unwrap_or_default();
            h.push_str(&format!(
                "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
                html_escape(&f.name),
                f.kind.as_str(),
                if f.required && f.default.is_none() { "yes" } else { "no" },
                cell(f.default.as_ref().map(|d| toml_to_json(d).to_string())),
                cell(f.min.map(|x| x.to_string())),
                cell(f.max.map(|x| x.to_string())),
                cell((!f.categories.is_empty()).then(|| f.categories.join(", "))),
            ));
            let v = match f.kind {
                FeatureType::Float => json!(f.min.unwrap_or(1.0)),
                FeatureType::Int => json!(f.min.map(|x| x as i64).unwrap_or(1)),
                FeatureType::Bool => json!(true),
                FeatureType::String => json!(f.categories.first()),
            };
            example.insert(f.name.clone(), v);
        }
        h.push_str("</table>\n");
        if !app.output.labels.is_empty() {
            h.push_str(&format!(
                "<p>Labels: {}</p>\n",
                html_escape(&app.output.labels.join(", "))
            ));
        }
        h.push_str(&format!(
            "<p>Example body:</p><pre>{}</pre>\n",
            html_escape(&Value::Object(example).to_string())
        ));
        h.push_str(&format!(
            "<p>Upstreams: {}</p></div>\n",
            html_escape(
                &app.upstreams
                    .iter()
                    .enumerate()
                    .map(|(i, u)| format!(
                        "{} ({}, weight {})",
                        u.name_or(&app.name, i),
                        u.protocol.as_str(),
                        u.weight
                    ))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        ));
    }
    h.push_str("<div class=\"op\"><h2>Operations</h2><table><tr><th>method</th><th>path</th><th>summary</th></tr>\n");
    if let Some(paths) = doc.get("paths").and_then(Value::as_object) {
        for (path, item) in paths {
            if let Some(ops) = item.as_object() {
                for (method, op) in ops {
                    h.push_str(&format!(
                        "<tr><td>{}</td><td><code>{}</code></td><td>{}</td></tr>\n",
                        html_escape(&method.to_uppercase()),
                        html_escape(path),
                        html_escape(op.get("summary").and_then(Value::as_str).unwrap_or(""))
                    ));
                }
            }
        }
    }
    h.push_str("</table></div>\n<h2>Schemas</h2>\n");
    if let Some(schemas) = doc
        .pointer("/components/schemas")
        .and_then(Value::as_object)
    {
        for (name, schema) in schemas {
            h.push_str(&format!(
                "<h3 id=\"schema-{n}\">{n}</h3><pre>{}</pre>\n",
                html_escape(&serde_json::to_string_pretty(schema).unwrap_or_default()),
                n = html_escape(name)
            ));
        }
    }
    h.push_str("</body></html>\n");
    h
}
