//! Any text fed to the server's configuration parser yields a validated
//! configuration or errors that each name where the problem is; it never
//! panics, and an accepted configuration converts into engine policies and
//! settings without panicking either.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match hale_server::config::parse_str(text, "fuzz.toml") {
        Ok(config) => {
            let policies = config.tenant_policies();
            assert_eq!(policies.len(), config.tenants.len());
            let _ = config.engine_config();
            let _ = config.global_flags();
            let _ = config.listen_addr();
            let _ = config.sqlite_path();
        }
        Err(errors) => {
            assert!(!errors.0.is_empty());
            for e in &errors.0 {
                assert!(!e.message.is_empty(), "{e:?}");
                assert!(e.to_string().starts_with("fuzz.toml"), "{e}");
            }
        }
    }
});
