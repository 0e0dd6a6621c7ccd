//! `hale-fake-kube --listen 127.0.0.1:0 [--rollout-after-gets N]`: runs the
//! fake Kubernetes API server and prints `listening on http://ADDR` as the
//! first line of stdout, so a test harness can read the port.

use std::io::Write;

use hale_fake_kube::{FakeConfig, FakeKube};

const USAGE: &str = "usage: hale-fake-kube [--listen 127.0.0.1:0] [--rollout-after-gets N]";

fn parse(args: &[String]) -> Result<(String, FakeConfig), String> {
    let mut listen = "127.0.0.1:0".to_owned();
    let mut config = FakeConfig::default();
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--listen" => listen = it.next().ok_or("--listen needs an address")?.clone(),
            "--rollout-after-gets" => {
                config.rollout_after_gets = it
                    .next()
                    .ok_or("--rollout-after-gets needs a number")?
                    .parse()
                    .map_err(|e| format!("--rollout-after-gets: {e}"))?;
            }
            "-h" | "--help" => return Err(USAGE.to_owned()),
            other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
        }
    }
    Ok((listen, config))
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (listen, config) = match parse(&args) {
        Ok(p) => p,
        Err(e) => {
            // A command-line tool reports usage errors on stderr.
            #[allow(clippy::print_stderr)]
            {
                eprintln!("{e}");
            }
            return std::process::ExitCode::from(2);
        }
    };
    let fake = match FakeKube::start(&listen, config).await {
        Ok(f) => f,
        Err(e) => {
            // Same: the one line an operator needs when the bind fails.
            #[allow(clippy::print_stderr)]
            {
                eprintln!("cannot listen on {listen}: {e}");
            }
            return std::process::ExitCode::FAILURE;
        }
    };
    // The bound address is this binary's output: harnesses read it.
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "listening on {}", fake.url());
    let _ = out.flush();
    drop(out);
    let _ = tokio::signal::ctrl_c().await;
    fake.stop().await;
    std::process::ExitCode::SUCCESS
}
