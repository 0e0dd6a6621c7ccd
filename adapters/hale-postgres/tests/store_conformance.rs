//! The shared store conformance suite (hale-testkit), unchanged, against
//! Postgres: one private schema per check, the store connected as the
//! application role under row-level security.

mod common;

hale_testkit::store_conformance_tests!(async {
    common::test_store("hale-postgres store conformance")
        .await
        .map(|(store, _db)| store)
});
