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

/// The README is what a newcomer trusts, so what it lists must be the
/// code's (issue 34). Routes: each one the README or docs/api.md names is
/// routed by template.yaml, and each one template.yaml routes is named in
/// one of them. Commands: each `make X` the README shows is a Makefile
/// target. Settings: each UPPER_SNAKE name in backticks in the README's
/// Configuration section or docs/configuration.md is read in
/// shared/src/config.rs (in docs/configuration.md's "Read outside
/// config.rs" section: by shared/src/secrets.rs, shared/src/telemetry.rs,
/// the local gateway, or config.rs itself).
#[test]
fn the_readme_agrees_with_the_code() {
    let readme = read("README.md");
    let api = read("docs/api.md");
    let mut wrong = Vec::new();

    let routed: BTreeSet<String> = local_gateway::routes::routes(&template())
        .unwrap()
        .into_iter()
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    let (in_readme, in_api) = (named_routes(&readme), named_routes(&api));
    for (doc, named) in [("README.md", &in_readme), ("docs/api.md", &in_api)] {
        for route in named.difference(&routed) {
            wrong.push(format!("{doc} names `{route}`, which template.yaml does not route"));
        }
    }
    for route in routed.iter().filter(|r| !in_readme.contains(*r) && !in_api.contains(*r)) {
        wrong.push(format!("template.yaml routes `{route}`, which neither README.md nor docs/api.md names"));
    }

    let targets: BTreeSet<String> = read("Makefile")
        .lines()
        .filter_map(|line| line.split_once(':').map(|(name, _)| name))
        .filter(|name| !name.is_empty() && name.chars().all(|c| c.is_ascii_lowercase() || c == '-'))
        .map(str::to_owned)
        .collect();
    for target in make_commands(&readme).difference(&targets) {
        wrong.push(format!("README.md shows `make {target}`, which the Makefile does not define"));
    }

    let config = read("shared/src/config.rs");
    let elsewhere: Vec<String> = ["shared/src/config.rs", "shared/src/secrets.rs", "shared/src/telemetry.rs"]
        .iter()
        .map(|path| read(path))
        .chain(
            std::fs::read_dir(root().join("local/src"))
                .unwrap()
                .map(|entry| std::fs::read_to_string(entry.unwrap().path()).unwrap_or_default()),
        )
        .collect();
    let readme_settings = section(&readme, "## Configuration");
    let reference = read("docs/configuration.md");
    let (in_config, outside) = reference.split_once("## Read outside config.rs").unwrap_or((&reference, ""));
    for (doc, text) in [("README.md", readme_settings), ("docs/configuration.md", in_config)] {
        for name in settings(text).iter().filter(|name| !config.contains(&format!("\"{name}\""))) {
            wrong.push(format!("{doc} lists `{name}`, which shared/src/config.rs does not read"));
        }
    }
    for name in settings(outside).iter().filter(|name| !elsewhere.iter().any(|f| f.contains(&format!("\"{name}\"")))) {
        wrong.push(format!("docs/configuration.md lists `{name}`, which no file it names reads"));
    }

    assert!(wrong.is_empty(), "the README and docs disagree with the code:\n{}", wrong.join("\n"));
}

fn read(path: &str) -> String {
    std::fs::read_to_string(root().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The text from `heading` to the next heading of its level.
fn section<'a>(text: &'a str, heading: &str) -> &'a str {
    let start = text.find(&format!("\n{heading}\n")).unwrap_or_else(|| panic!("no `{heading}` section"));
    let rest = &text[start + 1..];
    let end = rest[heading.len()..].find("\n## ").map_or(rest.len(), |i| i + heading.len());
    &rest[..end]
}

/// The inline code spans (`…`) of Markdown prose, outside fenced blocks.
fn code_spans(text: &str) -> Vec<&str> {
    let mut fenced = false;
    let mut spans = Vec::new();
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
        } else if !fenced {
            spans.extend(line.split('`').skip(1).step_by(2));
        }
    }
    spans
}

/// `METHOD /path` spans.
fn named_routes(text: &str) -> BTreeSet<String> {
    code_spans(text)
        .into_iter()
        .filter(|span| {
            span.split_once(' ').is_some_and(|(method, path)| {
                ["GET", "POST", "PUT", "DELETE", "PATCH"].contains(&method)
                    && path.starts_with('/')
                    && !path.contains(char::is_whitespace)
            })
        })
        .map(str::to_owned)
        .collect()
}

/// The targets of `make X` in code spans and in fenced command lines.
fn make_commands(text: &str) -> BTreeSet<String> {
    let mut fenced = false;
    let mut commands = Vec::new();
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
        } else if fenced {
            commands.push(line.trim_start().trim_start_matches("$ "));
        }
    }
    commands.extend(code_spans(text));
    commands
        .into_iter()
        .filter_map(|command| command.strip_prefix("make "))
        .map(|rest| rest.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-')).next().unwrap_or_default())
        .filter(|target| !target.is_empty())
        .map(str::to_owned)
        .collect()
}

/// UPPER_SNAKE spans: the names of settings.
fn settings(text: &str) -> BTreeSet<String> {
    code_spans(text)
        .into_iter()
        .filter(|span| {
            span.contains('_')
                && span.starts_with(|c: char| c.is_ascii_uppercase())
                && !span.ends_with('_')
                && span.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
        })
        .map(str::to_owned)
        .collect()
}
