//! Real services for adapter tests.
//!
//! Service-backed tests read `HALE_TEST_DATABASE_URL` and
//! `HALE_TEST_REDIS_URL`. Under plain `cargo test` a missing service skips
//! the test with a printed notice; `scripts/test.sh` sets
//! `HALE_REQUIRE_SERVICES=1`, and then a missing service fails the test.

/// Whether missing services must fail tests (`HALE_REQUIRE_SERVICES=1`).
pub fn services_required() -> bool {
    matches!(
        std::env::var("HALE_REQUIRE_SERVICES").as_deref(),
        Ok("1" | "true" | "yes")
    )
}

/// The value of `var`, or `None` after printing a skip notice. Panics (fails
/// the test) when the variable is unset and services are required.
pub fn service_url(var: &str, test: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(v) if !v.trim().is_empty() => Some(v),
        _ => {
            assert!(
                !services_required(),
                "{test}: {var} is not set but HALE_REQUIRE_SERVICES=1; run scripts/test.sh"
            );
            #[allow(clippy::print_stderr)] // the notice is the point
            {
                eprintln!(
                    "SKIPPED {test}: {var} is not set (scripts/test.sh starts the real service)"
                );
            }
            None
        }
    }
}

/// `HALE_TEST_DATABASE_URL` (a Postgres superuser URL), or skip.
pub fn database_url(test: &str) -> Option<String> {
    service_url("HALE_TEST_DATABASE_URL", test)
}

/// `HALE_TEST_REDIS_URL`, or skip.
pub fn redis_url(test: &str) -> Option<String> {
    service_url("HALE_TEST_REDIS_URL", test)
}

/// `HALE_TEST_DATABASE_TLS_URL`: the superuser URL of the same Postgres
/// over TLS (`sslmode=verify-full`, `sslrootcert` = the test CA), or skip.
pub fn database_tls_url(test: &str) -> Option<String> {
    service_url("HALE_TEST_DATABASE_TLS_URL", test)
}

/// `HALE_TEST_REDIS_TLS_URL` (`rediss://`, the same Redis's TLS port), or
/// skip.
pub fn redis_tls_url(test: &str) -> Option<String> {
    service_url("HALE_TEST_REDIS_TLS_URL", test)
}

/// `HALE_TEST_TLS_CA_FILE`: the PEM certificate of the CA that signed both
/// services' TLS certificates, or skip.
pub fn tls_ca_file(test: &str) -> Option<String> {
    service_url("HALE_TEST_TLS_CA_FILE", test)
}
