//! What a request asks: the URL's path segments (`{txid}`, `{target}`, ...) and its query string
//! read together as one set of named values into a command's parameters, plus `format`.
//!
//! The names are the parameters' own (the command line's flags with underscores: `max_txs`,
//! `min_value`); an unknown name, a repeated one or a value that does not read is refused with
//! a one-line reason naming the parameter.

use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;
use axum::http::HeaderValue;
use serde::de::DeserializeOwned;

use super::errors::ApiError;
use crate::cli::Format;
use crate::params::choice;

/// The formats answers are served in.
const SERVED: [Format; 4] = [Format::Json, Format::Csv, Format::Dot, Format::Graphml];

/// A command's parameters and the format asked for.
#[derive(Debug)]
pub struct Asked<T> {
    pub params: T,
    pub format: Format,
}

/// No parameters: for the endpoints that take none (they refuse unknown ones all the same).
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoParams {}

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for Asked<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        use axum::extract::rejection::PathRejection;
        let path = match Path::<Vec<(String, String)>>::from_request_parts(parts, state).await {
            Ok(Path(pairs)) => pairs,
            Err(PathRejection::MissingPathParams(_)) => Vec::new(),
            Err(e) => return Err(ApiError::BadRequest(e.body_text())),
        };
        read(&path, parts.uri.query().unwrap_or(""))
    }
}

/// Reads the parameters from the path's named segments and the query string.
pub fn read<T: DeserializeOwned>(path: &[(String, String)], query: &str) -> Result<Asked<T>, ApiError> {
    let mut format = Format::Json;
    let mut named = form_urlencoded::Serializer::new(String::new());
    let mut formats = 0;
    for (name, value) in form_urlencoded::parse(query.as_bytes()) {
        if name == "format" {
            formats += 1;
            format = served_format(&value)?;
        } else {
            named.append_pair(&name, &value);
        }
    }
    if formats > 1 {
        return Err(ApiError::BadRequest("format is given more than once".into()));
    }
    for (name, value) in path {
        named.append_pair(name, value);
    }
    let encoded = named.finish();
    let reader = serde_urlencoded::Deserializer::new(form_urlencoded::parse(encoded.as_bytes()));
    let params = serde_path_to_error::deserialize(reader).map_err(|e| {
        let at = e.path().to_string();
        let inner = e.into_inner().to_string();
        // An unknown parameter's message names it already.
        ApiError::BadRequest(if at == "." || inner.starts_with("unknown field") {
            inner
        } else {
            format!("{at}: {inner}")
        })
    })?;
    Ok(Asked { params, format })
}

/// A format the server sends: json, csv, dot or graphml.
fn served_format(text: &str) -> Result<Format, ApiError> {
    let format = choice::<Format>(text).map_err(|e| ApiError::BadRequest(format!("format: {e}")))?;
    if !SERVED.contains(&format) {
        return Err(ApiError::BadRequest(format!(
            "format {} is not served: ask for json, csv, dot or graphml (svg and png: render the dot with Graphviz)",
            format.name()
        )));
    }
    Ok(format)
}

/// The content type of an answer in `format`.
pub fn content_type(format: Format) -> HeaderValue {
    HeaderValue::from_static(match format {
        Format::Csv => "text/csv; charset=utf-8",
        Format::Dot => "text/vnd.graphviz; charset=utf-8",
        Format::Graphml => "application/graphml+xml",
        _ => "application/json",
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmd::path::PathParams;
    use crate::cmd::trace::TraceParams;
    use crate::engine::Direction;

    fn path(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect()
    }

    fn refused<T: DeserializeOwned + std::fmt::Debug>(segments: &[(&str, &str)], query: &str) -> String {
        match read::<T>(&path(segments), query).unwrap_err() {
            ApiError::BadRequest(reason) => reason,
            other => panic!("expected 400, got {other:?}"),
        }
    }

    #[test]
    fn path_segments_and_the_query_string_make_one_set_of_parameters() {
        let asked: Asked<TraceParams> = read(
            &path(&[("direction", "backward"), ("target", "t:1")]),
            "hops=7&min_value=2btc&stop_at_category=exchange%2Cmixing_service&format=dot",
        )
        .unwrap();
        assert_eq!(asked.format, Format::Dot);
        let p = asked.params;
        assert_eq!((p.direction, p.target.as_str(), p.hops, p.min_value), (Direction::Backward, "t:1", 7, 200_000_000));
        assert_eq!(p.stop_at_category, ["exchange", "mixing_service"]);
        let asked: Asked<PathParams> = read(&[], "from=a&to=b&max_txs=5").unwrap();
        assert_eq!((asked.params.max_txs, asked.params.max_hops, asked.format), (Some(5), 30, Format::Json));
    }

    #[test]
    fn bad_parameters_are_refused_naming_the_parameter() {
        let trace = [("direction", "forward"), ("target", "t")];
        assert_eq!(refused::<TraceParams>(&trace, "hops=x"), "hops: invalid digit found in string");
        assert_eq!(refused::<TraceParams>(&trace, "hops=-1"), "hops: invalid digit found in string");
        let unknown = refused::<TraceParams>(&trace, "hop=3");
        assert!(unknown.starts_with("unknown field `hop`, expected one of `direction`"), "{unknown}");
        assert!(refused::<TraceParams>(&trace, "target=u").contains("duplicate field `target`"));
        let sideways = refused::<TraceParams>(&[("direction", "sideways"), ("target", "t")], "");
        assert_eq!(sideways, "direction: 'sideways' is not one of forward, backward");
        assert_eq!(refused::<PathParams>(&[], "from=a"), "missing field `to`");
        assert!(
            refused::<PathParams>(&[], "from=a&to=b&min_value=lots").starts_with("min_value: 'lots' is not an amount")
        );
        assert!(refused::<PathParams>(&[], "from=a&to=b&format=svg").contains("not served"));
        assert!(refused::<PathParams>(&[], "from=a&to=b&format=xml").starts_with("format: 'xml' is not one of json"));
        assert_eq!(refused::<NoParams>(&[], "format=json&format=csv"), "format is given more than once");
        assert!(refused::<NoParams>(&[], "x=1").starts_with("unknown field `x`"));
    }

    #[test]
    fn each_format_has_its_content_type() {
        assert_eq!(content_type(Format::Json), "application/json");
        assert_eq!(content_type(Format::Csv), "text/csv; charset=utf-8");
        assert_eq!(content_type(Format::Graphml), "application/graphml+xml");
    }
}
