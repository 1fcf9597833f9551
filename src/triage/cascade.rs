//! Failure cascades over a service dependency graph: which failure is upstream (a root cause),
//! which failures are explained by one upstream of them, and which services and tenants are
//! downstream of each root.
//!
//! The graph names each service, what it depends on, the CI jobs that build, test or deploy it,
//! and the tenants it serves:
//!
//! ```toml
//! [services.edge-api]
//! kind = "api-gateway"
//! depends_on = ["orders-fn"]
//! [services.orders-fn]
//! kind = "lambda"
//! depends_on = ["orders-db"]
//! jobs = ["orders-it"]
//! tenants = ["acme", "globex"]
//! [services.orders-db]
//! kind = "rds"
//! jobs = ["migrate-tenants"]
//! tenants = "*"
//! ```

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::Path;

use serde::{Deserialize, Serialize};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot read the service graph {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("service graph {origin}: {message}")]
    Invalid { origin: String, message: String },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    services: BTreeMap<String, Spec>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Spec {
    #[serde(default)]
    kind: Option<String>,
    #[serde(default)]
    depends_on: Vec<String>,
    #[serde(default)]
    jobs: Vec<String>,
    #[serde(default)]
    tenants: Option<Tenants>,
}

/// The tenants a service serves: a list, or `"*"` for all of them.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(untagged)]
pub enum Tenants {
    All(String),
    Some(Vec<String>),
}

impl Tenants {
    fn serves(&self, tenant: &str) -> bool {
        match self {
            Tenants::All(_) => true,
            Tenants::Some(list) => list.iter().any(|t| t == tenant),
        }
    }
}

/// One service of the graph.
#[derive(Debug, Clone)]
pub struct Service {
    pub name: String,
    pub kind: Option<String>,
    pub depends_on: Vec<String>,
    pub jobs: Vec<String>,
    pub tenants: Option<Tenants>,
}

/// A checked, acyclic service dependency graph.
#[derive(Debug, Clone)]
pub struct Graph {
    services: BTreeMap<String, Service>,
}

impl Graph {
    /// Read a graph from TOML, or JSON when the file ends in `.json`.
    pub fn from_file(path: &Path) -> Result<Graph, Error> {
        let text =
            std::fs::read_to_string(path).map_err(|source| Error::Io { path: path.display().to_string(), source })?;
        let json = path.extension().is_some_and(|e| e.eq_ignore_ascii_case("json"));
        Graph::parse(&text, &path.display().to_string(), json)
    }

    /// Parse graph text; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str, json: bool) -> Result<Graph, Error> {
        let invalid = |message: String| Error::Invalid { origin: origin.to_string(), message };
        let file: File = if json {
            serde_json::from_str(text).map_err(|e| invalid(e.to_string()))?
        } else {
            toml::from_str(text).map_err(|e| invalid(e.message().to_string()))?
        };
        let mut services = BTreeMap::new();
        for (name, spec) in file.services {
            if let Some(Tenants::All(all)) = &spec.tenants
                && all != "*"
            {
                return Err(invalid(format!(
                    "service {name:?}: tenants = {all:?}: use a list, or \"*\" for every tenant"
                )));
            }
            services.insert(
                name.clone(),
                Service { name, kind: spec.kind, depends_on: spec.depends_on, jobs: spec.jobs, tenants: spec.tenants },
            );
        }
        for service in services.values() {
            if let Some(unknown) = service.depends_on.iter().find(|d| !services.contains_key(*d)) {
                return Err(invalid(format!(
                    "service {:?} depends on {unknown:?}, which the graph does not define",
                    service.name
                )));
            }
        }
        let graph = Graph { services };
        if let Some(cycle) = graph.cycle() {
            return Err(invalid(format!("the dependencies form a cycle: {}", cycle.join(" -> "))));
        }
        Ok(graph)
    }

    pub fn services(&self) -> impl Iterator<Item = &Service> {
        self.services.values()
    }

    pub fn service(&self, name: &str) -> Option<&Service> {
        self.services.get(name)
    }

    /// The service a CI job belongs to: the one listing the job, or else the one named like it.
    pub fn service_of_job(&self, job: &str) -> Option<&Service> {
        self.services.values().find(|s| s.jobs.iter().any(|j| j == job)).or_else(|| self.services.get(job))
    }

    /// Services that depend on `name`, directly.
    fn dependents(&self, name: &str) -> impl Iterator<Item = &Service> {
        self.services.values().filter(move |s| s.depends_on.iter().any(|d| d == name))
    }

    fn cycle(&self) -> Option<Vec<String>> {
        // Colours: absent = unvisited, false = on the stack, true = done.
        fn visit<'g>(
            g: &'g Graph,
            name: &'g str,
            state: &mut BTreeMap<&'g str, bool>,
            stack: &mut Vec<&'g str>,
        ) -> Option<Vec<String>> {
            match state.get(name) {
                Some(true) => return None,
                Some(false) => {
                    let from = stack.iter().position(|s| *s == name).unwrap_or(0);
                    let mut cycle: Vec<String> = stack[from..].iter().map(|s| s.to_string()).collect();
                    cycle.push(name.to_string());
                    return Some(cycle);
                }
                None => {}
            }
            state.insert(name, false);
            stack.push(name);
            for dep in &g.services[name].depends_on {
                if let Some(cycle) = visit(g, dep, state, stack) {
                    return Some(cycle);
                }
            }
            stack.pop();
            state.insert(name, true);
            None
        }
        let mut state = BTreeMap::new();
        self.services.keys().find_map(|name| visit(self, name, &mut state, &mut Vec::new()))
    }
}

/// A failure seen in CI, on a service.
#[derive(Debug, Clone)]
pub struct Failure {
    pub service: String,
    pub cause: String,
    pub job: String,
}

/// How a service stands in a cascade.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// Failed, and nothing it depends on failed: a root cause.
    Root,
    /// Failed, and something it depends on failed too: likely a consequence.
    Cascaded,
    /// Did not fail in CI, but depends on a failed service.
    Impacted,
}

impl Role {
    pub fn name(self) -> &'static str {
        match self {
            Role::Root => "root",
            Role::Cascaded => "cascaded",
            Role::Impacted => "impacted",
        }
    }
}

/// One service's place in the cascade, ordered from the roots downstream.
#[derive(Debug, Clone, Serialize)]
pub struct Step {
    /// 1-based position: roots first, then by distance from them.
    pub order: usize,
    pub service: String,
    pub kind: Option<String>,
    pub role: Role,
    /// The cause CI gave for this service's own failure.
    pub cause: Option<String>,
    pub job: Option<String>,
    /// The root failures upstream of this service (itself, for a root).
    pub roots: Vec<String>,
    /// Dependency hops from the nearest root.
    pub depth: usize,
    /// Services this one depends on that are failed or impacted: the path the failure took.
    pub via: Vec<String>,
    /// The tenants it serves that the failure reaches (`*` when it serves every tenant).
    pub tenants: Vec<String>,
}

/// The cascade of `failures` over `graph`. Failures on services the graph does not know are
/// an error naming them.
pub fn cascade(graph: &Graph, failures: &[Failure]) -> Result<Vec<Step>, Error> {
    let mut failed: BTreeMap<&str, &Failure> = BTreeMap::new();
    for f in failures {
        if graph.service(&f.service).is_none() {
            return Err(Error::Invalid {
                origin: "failures".into(),
                message: format!("job {:?} failed on service {:?}, which the graph does not define", f.job, f.service),
            });
        }
        failed.entry(f.service.as_str()).or_insert(f);
    }
    // Everything downstream of each failed service, with hop counts.
    let mut reach: BTreeMap<&str, BTreeMap<&str, usize>> = BTreeMap::new();
    for &start in failed.keys() {
        let mut seen: BTreeMap<&str, usize> = BTreeMap::from([(start, 0)]);
        let mut queue = VecDeque::from([start]);
        while let Some(name) = queue.pop_front() {
            let depth = seen[name];
            for dependent in graph.dependents(name) {
                if !seen.contains_key(dependent.name.as_str()) {
                    seen.insert(&dependent.name, depth + 1);
                    queue.push_back(&dependent.name);
                }
            }
        }
        reach.insert(start, seen);
    }
    let upstream_failed = |name: &str| failed.keys().any(|&f| f != name && reach[f].contains_key(name));
    let roots: Vec<&str> = failed.keys().copied().filter(|f| !upstream_failed(f)).collect();
    let affected: BTreeSet<&str> = roots.iter().flat_map(|r| reach[r].keys().copied()).collect();
    let mut steps: Vec<Step> = affected
        .iter()
        .map(|&name| {
            let service = graph.service(name).expect("reached services exist");
            let by: Vec<(&str, usize)> = roots.iter().filter_map(|r| reach[r].get(name).map(|d| (*r, *d))).collect();
            let role = match failed.get(name) {
                Some(_) if by.iter().all(|(r, _)| *r == name) => Role::Root,
                Some(_) => Role::Cascaded,
                None => Role::Impacted,
            };
            Step {
                order: 0,
                service: name.to_string(),
                kind: service.kind.clone(),
                role,
                cause: failed.get(name).map(|f| f.cause.clone()),
                job: failed.get(name).map(|f| f.job.clone()),
                roots: by.iter().map(|(r, _)| r.to_string()).collect(),
                depth: by.iter().map(|(_, d)| *d).min().unwrap_or(0),
                via: service.depends_on.iter().filter(|d| affected.contains(d.as_str())).cloned().collect(),
                tenants: Vec::new(),
            }
        })
        .collect();
    steps.sort_by(|a, b| a.depth.cmp(&b.depth).then_with(|| a.service.cmp(&b.service)));
    for (i, step) in steps.iter_mut().enumerate() {
        step.order = i + 1;
        step.tenants = match &graph.service(&step.service).expect("exists").tenants {
            Some(Tenants::All(_)) => vec!["*".into()],
            Some(Tenants::Some(list)) => list.clone(),
            None => Vec::new(),
        };
    }
    Ok(steps)
}

/// How many services downstream of a root failure serve `tenant` (the fan-out a rollback for
/// that tenant has to answer for).
pub fn fan_out(steps: &[Step], graph: &Graph, tenant: &str) -> Vec<String> {
    steps
        .iter()
        .filter(|s| s.role != Role::Root)
        .filter(|s| graph.service(&s.service).and_then(|svc| svc.tenants.as_ref()).is_some_and(|t| t.serves(tenant)))
        .map(|s| s.service.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const GRAPH: &str = r#"
[services.edge-api]
kind = "api-gateway"
depends_on = ["orders-fn", "settings-fn"]
[services.orders-fn]
kind = "lambda"
depends_on = ["orders-db"]
jobs = ["orders-it"]
tenants = ["acme", "globex"]
[services.settings-fn]
kind = "lambda"
tenants = "*"
[services.orders-db]
kind = "rds"
jobs = ["migrate"]
tenants = "*"
"#;

    fn failure(service: &str, cause: &str) -> Failure {
        Failure { service: service.into(), cause: cause.into(), job: format!("{service}-job") }
    }

    #[test]
    fn the_upstream_failure_is_the_root_and_the_rest_follow_in_order() {
        let graph = Graph::parse(GRAPH, "g.toml", false).unwrap();
        let steps =
            cascade(&graph, &[failure("orders-fn", "timeout"), failure("orders-db", "database-migration")]).unwrap();
        let got: Vec<(&str, Role, usize)> = steps.iter().map(|s| (s.service.as_str(), s.role, s.depth)).collect();
        assert_eq!(
            got,
            [("orders-db", Role::Root, 0), ("orders-fn", Role::Cascaded, 1), ("edge-api", Role::Impacted, 2)]
        );
        assert_eq!(steps[2].via, ["orders-fn"]);
        assert_eq!(steps[2].roots, ["orders-db"]);
        assert_eq!(fan_out(&steps, &graph, "acme"), ["orders-fn"]);
        assert!(fan_out(&steps, &graph, "initech").is_empty());
    }

    #[test]
    fn independent_failures_are_each_a_root() {
        let graph = Graph::parse(GRAPH, "g.toml", false).unwrap();
        let steps = cascade(&graph, &[failure("settings-fn", "oom"), failure("orders-db", "x")]).unwrap();
        let roots: Vec<&str> = steps.iter().filter(|s| s.role == Role::Root).map(|s| s.service.as_str()).collect();
        assert_eq!(roots, ["orders-db", "settings-fn"]);
        let edge = steps.iter().find(|s| s.service == "edge-api").unwrap();
        assert_eq!(edge.roots, ["orders-db", "settings-fn"]);
        assert_eq!(edge.depth, 1);
    }

    #[test]
    fn bad_graphs_are_named() {
        let cycle = "[services.a]\ndepends_on = [\"b\"]\n[services.b]\ndepends_on = [\"a\"]\n";
        let err = Graph::parse(cycle, "g.toml", false).unwrap_err().to_string();
        assert_eq!(err, "service graph g.toml: the dependencies form a cycle: a -> b -> a");
        let unknown = "[services.a]\ndepends_on = [\"nope\"]\n";
        let err = Graph::parse(unknown, "g.toml", false).unwrap_err().to_string();
        assert!(err.contains("depends on \"nope\", which the graph does not define"), "{err}");
        let graph = Graph::parse(GRAPH, "g.toml", false).unwrap();
        let err = cascade(&graph, &[failure("ghost", "x")]).unwrap_err().to_string();
        assert!(err.contains("service \"ghost\", which the graph does not define"), "{err}");
        let json = r#"{"services": {"a": {"depends_on": []}}}"#;
        assert!(Graph::parse(json, "g.json", true).is_ok());
    }
}
