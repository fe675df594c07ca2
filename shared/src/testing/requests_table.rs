//! The DynamoDB requests-per-route tables of the services' API tests (auth's and notify's
//! `tests/api/requests.rs`): a route's row, the checks every row must pass, and the
//! markdown fragment scripts/bench.sh pastes into BENCHMARKS.md.

use std::{collections::BTreeSet, fmt::Write as _};

use axum::body::Body;
use http::Request;

use super::Reply;
use crate::{
    route_groups::RouteGroups,
    store::{
        Store,
        counting::{CountingStore, Requests},
    },
};

/// One route's budget.
pub struct Row {
    pub method: &'static str,
    pub path: &'static str,
    /// Requests the route makes: what it made when the table was last measured.
    pub allowed: u64,
    /// What the route fundamentally needs (see the table's module comment).
    pub minimum: u64,
    /// Why `allowed` exceeds `minimum`, request by request ("" when it does not).
    pub why: &'static str,
}

pub const fn row(
    method: &'static str,
    path: &'static str,
    allowed: u64,
    minimum: u64,
    why: &'static str,
) -> Row {
    Row {
        method,
        path,
        allowed,
        minimum,
        why,
    }
}

/// One measured request: what it cost, the IAM actions that took, whether it carried a
/// bearer token, its answer.
pub struct Measured {
    pub requests: Requests,
    pub actions: BTreeSet<&'static str>,
    pub bearer: bool,
    pub reply: Reply,
}

/// Sends `req` through `send`, counting only its own requests to `store`; panics with
/// the answer unless its status is `expect`.
pub async fn count<S: Store + ?Sized>(
    store: &CountingStore<S>,
    expect: u16,
    req: Request<Body>,
    send: impl AsyncFnOnce(Request<Body>) -> Reply,
) -> Measured {
    let bearer = req.headers().contains_key("authorization");
    let what = format!("{} {}", req.method(), req.uri());
    store.reset();
    let reply = send(req).await;
    let requests = store.snapshot();
    let actions = store.iam_actions();
    assert_eq!(
        reply.status.as_u16(),
        expect,
        "{what}: {}",
        String::from_utf8_lossy(&reply.bytes)
    );
    Measured {
        requests,
        actions,
        bearer,
        reply,
    }
}

/// Panics unless `table` has exactly one row for each route of `groups`, and none else.
pub fn assert_covers(table: &[Row], groups: &RouteGroups) {
    let served: BTreeSet<(&str, &str)> = groups
        .iter()
        .flat_map(|(_, routes)| routes.iter().copied())
        .collect();
    let rows: BTreeSet<(&str, &str)> = table.iter().map(|r| (r.method, r.path)).collect();
    assert_eq!(rows.len(), table.len(), "a route has two rows in TABLE");
    let unmeasured: Vec<_> = served.difference(&rows).collect();
    assert!(
        unmeasured.is_empty(),
        "routes without a row in requests::TABLE (measure them and add one): {unmeasured:?}"
    );
    let unserved: Vec<_> = rows.difference(&served).collect();
    assert!(
        unserved.is_empty(),
        "rows in requests::TABLE for routes the service does not serve: {unserved:?}"
    );
}

/// Panics when the row contradicts itself (a minimum above what it allows, or more than
/// the minimum allowed without a reason); `Some(message)` when the route made other
/// than `allowed` requests.
pub fn check(r: &Row, n: &Requests) -> Option<String> {
    assert!(
        r.minimum <= r.allowed,
        "{} {}: minimum above allowed",
        r.method,
        r.path
    );
    assert!(
        r.allowed == r.minimum || !r.why.is_empty(),
        "{} {}: say why it exceeds its minimum",
        r.method,
        r.path
    );
    let total = n.total();
    (total != r.allowed).then(|| {
        format!(
            "{} {}: {total} requests{}, allowed {}{}",
            r.method,
            r.path,
            breakdown(n),
            r.allowed,
            if total < r.allowed {
                ": fewer, lower its row"
            } else {
                ""
            }
        )
    })
}

/// ` (2 get, 1 put)`: the kinds that occurred, if any.
pub fn breakdown(n: &Requests) -> String {
    let kinds = [
        ("get", n.get),
        ("batch get", n.get_many),
        ("put", n.put),
        ("update", n.update),
        ("delete", n.delete),
        ("query", n.query),
        ("transact", n.transact),
        ("ping", n.ping),
    ];
    let parts: Vec<String> = kinds
        .iter()
        .filter(|(_, c)| *c > 0)
        .map(|(k, c)| format!("{c} {k}"))
        .collect();
    if parts.is_empty() {
        String::new()
    } else {
        format!(" ({})", parts.join(", "))
    }
}

/// `intro`, then the table of the measured rows (with what each made).
pub fn markdown<'a>(
    intro: &str,
    measured: impl IntoIterator<Item = (&'a Row, &'a Requests)>,
) -> String {
    let mut md = format!(
        "{intro}\n\n| route | requests | design minimum | why above minimum |\n\
         | --- | --- | --- | --- |\n"
    );
    for (r, n) in measured {
        let _ = writeln!(
            md,
            "| {} {} | {}{} | {} | {} |",
            r.method,
            r.path,
            n.total(),
            breakdown(n),
            r.minimum,
            r.why
        );
    }
    md
}

/// The authenticated reads of `measured` (GETs that carried a bearer token), as
/// scripts/perf/bench_report.py judges them: `[{"route": "GET /…", "requests": n}]`.
pub fn authenticated_reads(measured: &[(&Row, Requests, bool)]) -> serde_json::Value {
    measured
        .iter()
        .filter(|(r, _, bearer)| r.method == "GET" && *bearer)
        .map(|(r, n, _)| {
            serde_json::json!({"route": format!("{} {}", r.method, r.path), "requests": n.total()})
        })
        .collect()
}

/// The IAM actions each route's request took, `{"GET /…": ["dynamodb:GetItem", …]}`:
/// scripts/iam-check.py holds them against the policy of the template function serving
/// the route.
pub fn iam_actions<'a>(
    measured: impl IntoIterator<Item = (&'a Row, &'a BTreeSet<&'static str>)>,
) -> serde_json::Value {
    measured
        .into_iter()
        .map(|(r, actions)| {
            (
                format!("{} {}", r.method, r.path),
                serde_json::json!(actions),
            )
        })
        .collect::<serde_json::Map<_, _>>()
        .into()
}

/// Writes `name` into the workspace's `target/bench/`, where scripts/bench.sh reads it.
pub fn write_fragment(name: &str, contents: &str) {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../target/bench");
    std::fs::create_dir_all(dir).expect("target/bench");
    std::fs::write(format!("{dir}/{name}"), contents).expect("write the fragment");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_count_other_than_allowed_is_reported_with_its_kinds() {
        let r = row("GET", "/x/v1/items", 1, 1, "");
        let n = Requests {
            get: 2,
            query: 1,
            ..Requests::default()
        };
        assert_eq!(
            check(&r, &n).as_deref(),
            Some("GET /x/v1/items: 3 requests (2 get, 1 query), allowed 1")
        );
        let fewer = row("GET", "/x/v1/items", 4, 1, "why");
        assert!(
            check(&fewer, &n)
                .unwrap()
                .ends_with(": fewer, lower its row")
        );
        assert_eq!(check(&row("GET", "/x", 3, 3, ""), &n), None);
    }

    #[test]
    #[should_panic(expected = "say why it exceeds its minimum")]
    fn a_row_above_its_minimum_must_say_why() {
        check(&row("GET", "/x", 2, 1, ""), &Requests::default());
    }
}
