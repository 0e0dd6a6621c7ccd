//! Any byte string fed to the Alertmanager payload parser yields a message
//! or an error naming a field; it never panics, and every accepted payload
//! converts into alerts (or a clear error) without panicking either.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match hale_domain::alertmanager::parse_webhook(data) {
        Ok(msg) => {
            let n = msg.alerts.len();
            if let Ok(alerts) = msg.into_alerts() {
                assert_eq!(alerts.len(), n);
            }
        }
        Err(e) => {
            assert!(!e.path().is_empty());
        }
    }
});
