//! Helpers shared by the integration tests.

#![allow(dead_code, unreachable_pub)] // each test binary uses a different subset

use assert_cmd::Command;

/// `hale` with a clean environment: no server settings or config file of
/// the machine running the tests leak in.
pub fn hale() -> Command {
    let mut cmd = Command::cargo_bin("hale").unwrap();
    for var in [
        "HALE_SERVER",
        "HALE_TOKEN",
        "HALE_TENANT",
        "HALE_CLI_CONFIG",
        "XDG_CONFIG_HOME",
    ] {
        cmd.env_remove(var);
    }
    cmd
}

/// A loopback port nothing listens on.
pub fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}
