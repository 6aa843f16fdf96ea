//! The endpoints under `/api/v1/`: one per command, each building the command's parameters from
//! the request and answering through the same `Request::prepare` and [`Job::run`] as the command
//! line, plus `tip`, `health` and `openapi.json`. [`ROUTES`] is the one list of them: the router
//! is built from it, and a test holds it equal to the OpenAPI document's paths.

use axum::extract::State;
use axum::http::{header, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, MethodRouter};
use axum::{middleware, Router};
use serde::Serialize;

use super::asked::{Asked, NoParams};
use super::errors::ApiError;
use super::{auth, AppState, Weight};
use crate::chain::{Chain, Resolver};
use crate::cli::Format;
use crate::cmd::address::{self, AddressParams};
use crate::cmd::cluster::{self, ClusterParams};
use crate::cmd::exposure::{self, ExposureParams};
use crate::cmd::path::{self, PathParams};
use crate::cmd::tags::{self, TagsShowParams};
use crate::cmd::taint::{self, TaintParams};
use crate::cmd::trace::{self, TraceParams};
use crate::cmd::tx::{self, TxParams};
use crate::cmd::Job;

/// The OpenAPI 3 description of the endpoints, kept in the repository.
pub const OPENAPI: &str = include_str!("../../openapi.json");

/// One endpoint: its path (axum's syntax, which is OpenAPI's) and its handler.
pub struct Route {
    pub path: &'static str,
    pub method: fn() -> MethodRouter<AppState>,
}

/// Every endpoint.
pub const ROUTES: &[Route] = &[
    Route { path: "/api/v1/tx/{txid}", method: || get(tx_handler) },
    Route { path: "/api/v1/address/{address}", method: || get(address_handler) },
    Route { path: "/api/v1/trace/{direction}/{target}", method: || get(trace_handler) },
    Route { path: "/api/v1/path", method: || get(path_handler) },
    Route { path: "/api/v1/cluster/{address}", method: || get(cluster_handler) },
    Route { path: "/api/v1/exposure/{target}", method: || get(exposure_handler) },
    Route { path: "/api/v1/taint/{target}", method: || get(taint_handler) },
    Route { path: "/api/v1/tags/{address}", method: || get(tags_handler) },
    Route { path: "/api/v1/tip", method: || get(tip_handler) },
    Route { path: "/api/v1/health", method: || get(health_handler) },
    Route { path: "/api/v1/openapi.json", method: || get(openapi_handler) },
];

/// The router: every route of [`ROUTES`], JSON errors for unknown paths and methods, and the
/// token check in front of all of them.
pub fn router(state: AppState) -> Router {
    let routes = ROUTES.iter().fold(Router::new(), |router, route| router.route(route.path, (route.method)()));
    routes
        .fallback(|uri: Uri| async move { ApiError::NoRoute(uri.path().to_string()) })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .layer(middleware::from_fn_with_state(state.clone(), auth::check))
        .with_state(state)
}

type Answer = Result<Response, ApiError>;

async fn tx_handler(State(s): State<AppState>, a: Asked<TxParams>) -> Answer {
    s.answer("tx", a.format, Weight::Light, |_| Ok(Job::Tx(tx::Request::prepare(&a.params)?))).await
}

async fn address_handler(State(s): State<AppState>, a: Asked<AddressParams>) -> Answer {
    s.answer("address", a.format, Weight::Light, |set| Ok(Job::Address(address::Request::prepare(&a.params, set)?)))
        .await
}

async fn trace_handler(State(s): State<AppState>, a: Asked<TraceParams>) -> Answer {
    s.answer("trace", a.format, Weight::Heavy, |set| Ok(Job::Trace(trace::Request::prepare(&a.params, set)?))).await
}

async fn path_handler(State(s): State<AppState>, a: Asked<PathParams>) -> Answer {
    s.answer("path", a.format, Weight::Heavy, |set| Ok(Job::Path(path::Request::prepare(&a.params, set)?))).await
}

async fn cluster_handler(State(s): State<AppState>, a: Asked<ClusterParams>) -> Answer {
    let command = if a.params.why.is_some() { "cluster --why" } else { "cluster" };
    s.answer(command, a.format, Weight::Light, |_| Ok(Job::Cluster(cluster::Request::prepare(&a.params)?))).await
}

async fn exposure_handler(State(s): State<AppState>, a: Asked<ExposureParams>) -> Answer {
    s.answer("exposure", a.format, Weight::Heavy, |set| Ok(Job::Exposure(exposure::Request::prepare(&a.params, set)?)))
        .await
}

async fn taint_handler(State(s): State<AppState>, a: Asked<TaintParams>) -> Answer {
    s.answer("taint", a.format, Weight::Heavy, |set| Ok(Job::Taint(taint::Request::prepare(&a.params, set)?))).await
}

async fn tags_handler(State(s): State<AppState>, a: Asked<TagsShowParams>) -> Answer {
    s.answer("tags", a.format, Weight::Light, |_| Ok(Job::Tags(tags::Request::show(&a.params)?))).await
}

/// The indexed tip, as `tip` and `health` show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TipView {
    pub network: String,
    /// None before the first block is indexed, like `hash` and `time`.
    pub height: Option<u32>,
    pub hash: Option<String>,
    /// The block's time, UTC (ISO 8601).
    pub time: Option<String>,
}

impl TipView {
    pub fn of(chain: &Chain) -> crate::error::Result<TipView> {
        let block = chain.tip_height().map(|h| Resolver::new(chain).block(h)).transpose()?;
        Ok(TipView {
            network: chain.network().core_name().to_string(),
            height: chain.tip_height(),
            hash: block.as_ref().map(|b| b.hash.clone()),
            time: block.map(|b| b.time),
        })
    }
}

#[derive(Debug, Serialize)]
struct HealthView {
    status: &'static str,
    tip: TipView,
}

async fn tip_handler(State(s): State<AppState>, _: Asked<NoParams>) -> Answer {
    let text = s.read(|chain| json(&TipView::of(chain)?)).await?;
    s.send(text, Format::Json)
}

async fn health_handler(State(s): State<AppState>, _: Asked<NoParams>) -> Answer {
    let text = s.read(|chain| json(&HealthView { status: "ok", tip: TipView::of(chain)? })).await?;
    s.send(text, Format::Json)
}

async fn openapi_handler(_: Asked<NoParams>) -> Answer {
    Ok(([(header::CONTENT_TYPE, "application/json")], OPENAPI).into_response())
}

/// Pretty JSON with a final newline, as the command line prints it.
fn json<T: Serialize>(value: &T) -> Result<String, ApiError> {
    let mut text = serde_json::to_string_pretty(value).map_err(|e| ApiError::Internal(e.to_string()))?;
    text.push('\n');
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn the_openapi_document_describes_exactly_the_routes() {
        let doc: serde_json::Value = serde_json::from_str(OPENAPI).unwrap();
        assert!(doc["openapi"].as_str().unwrap().starts_with("3.0"));
        let documented: BTreeSet<&str> = doc["paths"].as_object().unwrap().keys().map(String::as_str).collect();
        let routed: BTreeSet<&str> = ROUTES.iter().map(|r| r.path).collect();
        assert_eq!(routed.len(), ROUTES.len(), "a route is listed twice");
        assert_eq!(documented, routed);
        for route in ROUTES {
            let get = &doc["paths"][route.path]["get"];
            assert!(get.is_object(), "{} has no GET", route.path);
            let declared: BTreeSet<&str> = get["parameters"]
                .as_array()
                .map(|ps| ps.iter().filter(|p| p["in"] == "path").filter_map(|p| p["name"].as_str()).collect())
                .unwrap_or_default();
            let segments: BTreeSet<&str> =
                route.path.split('/').filter_map(|s| s.strip_prefix('{')?.strip_suffix('}')).collect();
            assert_eq!(declared, segments, "path parameters of {}", route.path);
            let named: BTreeSet<String> = get["parameters"]
                .as_array()
                .map(|ps| {
                    ps.iter().filter_map(|p| p["name"].as_str()).filter(|n| *n != "format").map(String::from).collect()
                })
                .unwrap_or_default();
            assert_eq!(named, accepted(route.path), "parameters of {}", route.path);
        }
    }

    /// The parameters an endpoint reads, as its parameters' type names them when refusing an
    /// unknown one.
    fn accepted(path: &str) -> BTreeSet<String> {
        fn fields<T: serde::de::DeserializeOwned + std::fmt::Debug>() -> BTreeSet<String> {
            let err = super::super::asked::read::<T>(&[], "zz=1").unwrap_err().to_string();
            let listed = err.split_once("expected ").map_or("", |(_, names)| names);
            let listed = listed.strip_prefix("one of ").unwrap_or(listed);
            listed.split(", ").map(|n| n.trim_matches('`').to_string()).filter(|n| !n.is_empty()).collect()
        }
        match path {
            "/api/v1/tx/{txid}" => fields::<TxParams>(),
            "/api/v1/address/{address}" => fields::<AddressParams>(),
            "/api/v1/trace/{direction}/{target}" => fields::<TraceParams>(),
            "/api/v1/path" => fields::<PathParams>(),
            "/api/v1/cluster/{address}" => fields::<ClusterParams>(),
            "/api/v1/exposure/{target}" => fields::<ExposureParams>(),
            "/api/v1/taint/{target}" => fields::<TaintParams>(),
            "/api/v1/tags/{address}" => fields::<TagsShowParams>(),
            _ => fields::<NoParams>(),
        }
    }
}
