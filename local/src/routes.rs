//! The route table, read from template.yaml: the same file SAM deploys, so
//! the local gateway can never serve a route that production lacks.

use std::collections::BTreeMap;

use anyhow::{bail, Context};
use serde_yaml::Value;

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Route {
    pub method: http::Method,
    /// API Gateway path template, e.g. `/events/{id}/seats`.
    pub path: String,
    /// The function crate (= SAM `BuildProperties.Binary`) that serves it.
    pub function: String,
}

/// A function of the template: its binary and the Kafka topics it consumes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionSpec {
    pub logical_id: String,
    pub binary: String,
    pub routes: Vec<Route>,
    pub topics: Vec<String>,
    /// MSK event source settings (the emulator honours them).
    pub batch_size: usize,
    pub batching_window: std::time::Duration,
    pub schedule: Option<String>,
}

fn text<'a>(value: &'a Value, path: &[&str]) -> Option<&'a str> {
    path.iter().try_fold(value, |v, key| v.get(*key))?.as_str()
}

/// Every `AWS::Serverless::Function` in the template, sorted by binary.
pub fn functions(template: &str) -> anyhow::Result<Vec<FunctionSpec>> {
    let doc: Value = serde_yaml::from_str(template).context("template.yaml is not valid YAML")?;
    let resources = doc.get("Resources").and_then(Value::as_mapping).context("template has no Resources")?;
    let mut specs = Vec::new();
    for (id, resource) in resources {
        if text(resource, &["Type"]) != Some("AWS::Serverless::Function") {
            continue;
        }
        let logical_id = id.as_str().unwrap_or_default().to_owned();
        let binary = text(resource, &["Metadata", "BuildProperties", "Binary"])
            .with_context(|| format!("{logical_id} has no Metadata.BuildProperties.Binary"))?
            .to_owned();
        let mut spec = FunctionSpec {
            logical_id,
            binary,
            routes: Vec::new(),
            topics: Vec::new(),
            batch_size: 100,
            batching_window: std::time::Duration::ZERO,
            schedule: None,
        };
        let events = resource.get("Properties").and_then(|p| p.get("Events")).and_then(Value::as_mapping);
        for event in events.into_iter().flat_map(|m| m.values()) {
            let props = event.get("Properties").cloned().unwrap_or(Value::Null);
            match text(event, &["Type"]) {
                Some("HttpApi") => {
                    let (Some(method), Some(path)) = (text(&props, &["Method"]), text(&props, &["Path"])) else {
                        bail!("{}: HttpApi event needs Method and Path", spec.logical_id);
                    };
                    let method = method.to_uppercase().parse().with_context(|| format!("bad method {method}"))?;
                    spec.routes.push(Route { method, path: path.to_owned(), function: spec.binary.clone() });
                }
                Some("MSK") | Some("SelfManagedKafka") => {
                    if let Some(size) = props.get("BatchSize").and_then(Value::as_u64) {
                        spec.batch_size = size.clamp(1, 10_000) as usize;
                    }
                    if let Some(window) = props.get("MaximumBatchingWindowInSeconds").and_then(Value::as_u64) {
                        spec.batching_window = std::time::Duration::from_secs(window);
                    }
                    for topic in props.get("Topics").and_then(Value::as_sequence).into_iter().flatten() {
                        if let Some(topic) = topic.as_str() {
                            if !spec.topics.iter().any(|t| t == topic) {
                                spec.topics.push(topic.to_owned());
                            }
                        }
                    }
                }
                Some("Schedule") | Some("ScheduleV2") => {
                    spec.schedule =
                        text(&props, &["Schedule"]).or(text(&props, &["ScheduleExpression"])).map(str::to_owned);
                }
                _ => {}
            }
        }
        specs.push(spec);
    }
    specs.sort_by(|a, b| a.binary.cmp(&b.binary));
    Ok(specs)
}

pub fn routes(template: &str) -> anyhow::Result<Vec<Route>> {
    let mut routes: Vec<Route> = functions(template)?.into_iter().flat_map(|f| f.routes).collect();
    routes.sort();
    Ok(routes)
}

/// The outcome of matching a request against the table.
#[derive(Debug)]
pub enum Match<'a> {
    Found {
        route: &'a Route,
        params: BTreeMap<String, String>,
    },
    /// The path exists, but not with this method.
    MethodNotAllowed {
        allowed: Vec<http::Method>,
    },
    NotFound,
}

#[derive(Debug, Clone)]
pub struct Router {
    routes: Vec<(Route, Vec<Segment>)>,
}

#[derive(Debug, Clone)]
enum Segment {
    Literal(String),
    Param(String),
}

impl Router {
    pub fn new(routes: Vec<Route>) -> Router {
        let mut compiled: Vec<(Route, Vec<Segment>)> = routes
            .into_iter()
            .map(|route| {
                let segments = route
                    .path
                    .split('/')
                    .filter(|s| !s.is_empty())
                    .map(|s| match s.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                        Some(name) => Segment::Param(name.to_owned()),
                        None => Segment::Literal(s.to_owned()),
                    })
                    .collect();
                (route, segments)
            })
            .collect();
        // API Gateway prefers the most specific route: literals before
        // parameters, segment by segment.
        compiled
            .sort_by_key(|(_, segments)| segments.iter().map(|s| matches!(s, Segment::Param(_))).collect::<Vec<_>>());
        Router { routes: compiled }
    }

    pub fn routes(&self) -> impl Iterator<Item = &Route> {
        self.routes.iter().map(|(route, _)| route)
    }

    pub fn find(&self, method: &http::Method, path: &str) -> Match<'_> {
        let parts: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        let mut allowed = Vec::new();
        for (route, segments) in &self.routes {
            if segments.len() != parts.len() {
                continue;
            }
            let mut params = BTreeMap::new();
            let matched = segments.iter().zip(&parts).all(|(segment, part)| match segment {
                Segment::Literal(literal) => literal == part,
                Segment::Param(name) => {
                    let decoded = percent_decode(part);
                    params.insert(name.clone(), decoded);
                    true
                }
            });
            if !matched {
                continue;
            }
            if route.method == method {
                return Match::Found { route, params };
            }
            allowed.push(route.method.clone());
        }
        if allowed.is_empty() {
            Match::NotFound
        } else {
            Match::MethodNotAllowed { allowed }
        }
    }
}

/// API Gateway hands path parameters to the function decoded.
fn percent_decode(segment: &str) -> String {
    form_urlencoded::parse(format!("x={}", segment.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEMPLATE: &str = r#"
Resources:
  Api:
    Type: AWS::Serverless::HttpApi
  EventsGet:
    Type: AWS::Serverless::Function
    Metadata: { BuildMethod: rust-cargolambda, BuildProperties: { Binary: events-get } }
    Properties:
      Events:
        Get: { Type: HttpApi, Properties: { ApiId: !Ref Api, Method: GET, Path: "/events/{id}" } }
  EventsSeats:
    Type: AWS::Serverless::Function
    Metadata: { BuildMethod: rust-cargolambda, BuildProperties: { Binary: events-seats } }
    Properties:
      Events:
        Get: { Type: HttpApi, Properties: { Method: get, Path: "/events/{id}/seats" } }
  EventsCreate:
    Type: AWS::Serverless::Function
    Metadata: { BuildProperties: { Binary: events-create } }
    Properties:
      Events:
        Post: { Type: HttpApi, Properties: { Method: POST, Path: /events } }
  Reserver:
    Type: AWS::Serverless::Function
    Metadata: { BuildProperties: { Binary: seat-reserver } }
    Properties:
      Events:
        Msk: { Type: MSK, Properties: { Topics: [booking.requested] } }
"#;

    #[test]
    fn reads_routes_and_topics_from_the_template() {
        let specs = functions(TEMPLATE).unwrap();
        let reserver = specs.iter().find(|f| f.binary == "seat-reserver").unwrap();
        assert_eq!(reserver.topics, ["booking.requested"]);
        assert_eq!(routes(TEMPLATE).unwrap().len(), 3);
    }

    #[test]
    fn matches_paths_with_parameters() {
        let router = Router::new(routes(TEMPLATE).unwrap());
        match router.find(&http::Method::GET, "/events/abc%20d/seats") {
            Match::Found { route, params } => {
                assert_eq!(route.function, "events-seats");
                assert_eq!(params["id"], "abc d");
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(router.find(&http::Method::DELETE, "/events/x"), Match::MethodNotAllowed { .. }));
        assert!(matches!(router.find(&http::Method::GET, "/nope"), Match::NotFound));
        assert!(matches!(router.find(&http::Method::GET, "/events/x/seats/y"), Match::NotFound));
    }
}
