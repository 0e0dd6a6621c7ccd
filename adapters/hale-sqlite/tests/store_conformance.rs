//! The shared store conformance suite (hale-testkit), unchanged, against
//! SQLite: one new database file per check.

mod common;

hale_testkit::store_conformance_tests!(common::test_store("conformance"));
