//! What the PostgreSQL tests share: a fresh database per test on the
//! server `DATABASE_URL` names, dropped at the end.

// Each test file uses its own part of this module.
#![allow(dead_code)]

use std::future::Future;
use tokio_postgres::NoTls;

const SKIP: &str = "DATABASE_URL is not set (./infra/test.sh starts a local PostgreSQL)";

/// `DATABASE_URL`, or `None` after saying the test is skipped.
pub fn database_url() -> Option<String> {
    let url = std::env::var("DATABASE_URL").ok();
    if url.is_none() {
        chat_ports::conformance::skip(SKIP);
    }
    url
}

/// An admin connection to the server of `DATABASE_URL`.
pub async fn admin(url: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(url, NoTls)
        .await
        .expect("DATABASE_URL accepts connections");
    tokio::spawn(async move {
        let _ = connection.await;
    });
    client
}

/// `url` with its database name replaced by `name`, for both the URL form
/// (`postgres://…/db?…`) and the key=value form.
fn with_dbname(url: &str, name: &str) -> String {
    for scheme in ["postgres://", "postgresql://"] {
        if let Some(rest) = url.strip_prefix(scheme) {
            let (main, query) = match rest.split_once('?') {
                Some((m, q)) => (m, format!("?{q}")),
                None => (rest, String::new()),
            };
            let authority = main.split_once('/').map_or(main, |(a, _)| a);
            return format!("{scheme}{authority}/{name}{query}");
        }
    }
    format!("{url} dbname={name}")
}

/// Runs `body` with the URL of a fresh, empty database, then drops that
/// database (also when `body` panics, whose panic then goes on).
pub async fn with_database<F, Fut>(body: F)
where
    F: FnOnce(String) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let Some(server) = database_url() else {
        return;
    };
    let name = format!("chat_test_{}", uuid::Uuid::new_v4().simple());
    let client = admin(&server).await;
    client
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await
        .expect("create the test database");
    let outcome = tokio::spawn(body(with_dbname(&server, &name))).await;
    client
        .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .await
        .expect("drop the test database");
    if let Err(e) = outcome {
        if e.is_panic() {
            std::panic::resume_unwind(e.into_panic());
        }
        panic!("the test task failed: {e}");
    }
}
