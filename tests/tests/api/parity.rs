//! One source of truth for routing: template.yaml. These tests keep the
//! function crates, the template, the gateway's linked handlers and the
//! `cargo lambda watch` router table in agreement.

use std::{collections::BTreeSet, path::Path};

fn root() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

fn template() -> String {
    std::fs::read_to_string(root().join("template.yaml")).unwrap()
}

#[test]
fn every_function_crate_is_in_the_template_and_back() {
    let crates = function_crates();
    let in_template: BTreeSet<String> =
        local_gateway::routes::functions(&template()).unwrap().into_iter().map(|f| f.binary).collect();
    assert_eq!(crates, in_template);
}

#[test]
fn the_gateway_links_every_http_function_of_the_template() {
    let routed: BTreeSet<String> =
        local_gateway::routes::routes(&template()).unwrap().into_iter().map(|r| r.function).collect();
    let linked: BTreeSet<String> = local_gateway::dispatch::HTTP_FUNCTIONS.iter().map(|s| s.to_string()).collect();
    assert_eq!(routed, linked);
}

#[test]
fn the_watch_router_table_matches_the_template_routes() {
    let manifest: toml_edit::DocumentMut = std::fs::read_to_string(root().join("Cargo.toml")).unwrap().parse().unwrap();
    let table = manifest["workspace"]["metadata"]["lambda"]["watch"]["router"].as_table().expect("router table");
    let mut watch = BTreeSet::new();
    for (path, entries) in table.iter() {
        for entry in entries.as_array().expect("array of routes").iter() {
            let entry = entry.as_inline_table().expect("inline table");
            watch.insert((
                entry["method"].as_str().unwrap().to_owned(),
                path.to_owned(),
                entry["function"].as_str().unwrap().to_owned(),
            ));
        }
    }
    let template: BTreeSet<(String, String, String)> = local_gateway::routes::routes(&template())
        .unwrap()
        .into_iter()
        .map(|r| (r.method.to_string(), r.path, r.function))
        .collect();
    assert_eq!(watch, template);
}

#[test]
fn the_emulators_link_every_consumer_and_scheduled_function() {
    let functions = local_gateway::routes::functions(&template()).unwrap();
    let consumers: BTreeSet<String> =
        functions.iter().filter(|f| !f.topics.is_empty()).map(|f| f.binary.clone()).collect();
    let linked: BTreeSet<String> = local_gateway::dispatch::KAFKA_FUNCTIONS.iter().map(|s| s.to_string()).collect();
    assert_eq!(consumers, linked);
    let scheduled: BTreeSet<String> =
        functions.iter().filter(|f| f.schedule.is_some()).map(|f| f.binary.clone()).collect();
    let linked: BTreeSet<String> = local_gateway::dispatch::SCHEDULED_FUNCTIONS.iter().map(|s| s.to_string()).collect();
    assert_eq!(scheduled, linked);
}

#[test]
fn both_variants_of_each_consumer_read_the_same_topics() {
    let functions = local_gateway::routes::functions(&template()).unwrap();
    for consumer in local_gateway::dispatch::KAFKA_FUNCTIONS {
        let variants: Vec<&Vec<String>> =
            functions.iter().filter(|f| f.binary == *consumer).map(|f| &f.topics).collect();
        assert_eq!(variants.len(), 2, "{consumer}: one MSK and one self-managed resource");
        assert_eq!(variants[0], variants[1], "{consumer}");
    }
}

/// The names in a manifest's dependency table that are function crates.
fn function_dependencies(manifest: &str, table: &[&str]) -> BTreeSet<String> {
    let manifest: toml_edit::DocumentMut = std::fs::read_to_string(root().join(manifest)).unwrap().parse().unwrap();
    let mut item = manifest.as_item();
    for key in table {
        item = &item[*key];
    }
    let crates = function_crates();
    item.as_table()
        .expect("a dependency table")
        .iter()
        .map(|(name, _)| name.to_owned())
        .filter(|n| crates.contains(n))
        .collect()
}

fn function_crates() -> BTreeSet<String> {
    std::fs::read_dir(root().join("functions"))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

/// Adding a function means its crate, template.yaml and the list in
/// local/src/dispatch.rs; this names any manifest that was forgotten.
#[test]
fn every_function_crate_is_a_workspace_dependency_of_the_gateway() {
    let crates = function_crates();
    assert_eq!(function_dependencies("Cargo.toml", &["workspace", "dependencies"]), crates, "[workspace.dependencies]");
    assert_eq!(function_dependencies("local/Cargo.toml", &["dependencies"]), crates, "local/Cargo.toml");
    let dispatched: BTreeSet<String> =
        crates.iter().filter(|name| local_gateway::dispatch::aws_access(name).is_some()).cloned().collect();
    assert_eq!(dispatched, crates, "local/src/dispatch.rs functions! list");
}

/// The domain stays pure (docs/architecture.md): no HTTP, storage, service
/// or error-mapping type in shared/src/domain/, so a rule can be read and
/// tested without any of them. It may name the message types (the topic
/// constants in `kafka`), which are part of what a rule is about.
#[test]
fn the_domain_uses_no_layer_above_or_beside_it() {
    let forbidden = [
        "ApiError",
        "sqlx",
        "mongodb",
        "redis",
        "lambda_http",
        "reqwest",
        "http::",
        "crate::repo",
        "crate::state",
        "crate::http",
        "crate::error",
        "crate::bookings",
        "crate::catalog",
        "crate::consumers",
    ];
    let mut found = Vec::new();
    for entry in std::fs::read_dir(root().join("shared/src/domain")).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        for (number, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or_default();
            for word in forbidden.iter().filter(|word| code.contains(*word)) {
                found.push(format!("{}:{}: {word}", path.display(), number + 1));
            }
        }
    }
    assert!(found.is_empty(), "the domain reaches outwards:\n{}", found.join("\n"));
}
