//! Arbitrary method, path, query, headers, body and bearer token against
//! the whole router (over in-memory ports, two tenants): never a panic,
//! never a 5xx other than 503. The decoding and the check live in
//! `hale_http_fuzz` (tests/hale-http-fuzz), which the test suite also runs
//! for a bounded, deterministic number of inputs on the stable toolchain.

#![no_main]

use std::cell::RefCell;

use libfuzzer_sys::fuzz_target;

thread_local! {
    static HARNESS: RefCell<hale_http_fuzz::Harness> = RefCell::new(hale_http_fuzz::Harness::new());
}

fuzz_target!(|data: &[u8]| {
    HARNESS.with(|h| {
        if let Err(finding) = h.borrow_mut().run(data) {
            panic!("{finding}");
        }
    });
});
