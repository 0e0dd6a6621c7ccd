//! Plain-text tables for the terminal and for docs/benchmarks.md (the rows
//! are Markdown table rows, so a run's output can be pasted as it is).

use std::fmt::Write;

use crate::driver::RunResult;
use crate::stats::ms;

/// The header of [`intake_row`]'s table.
pub fn intake_header() -> String {
    "| target | alerts/s | requests/s | request p50 (ms) | request p99 (ms) | request max (ms) | per-alert p50 (ms) | per-alert p99 (ms) | non-2xx |\n\
     | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
        .to_owned()
}

/// One target's row.
pub fn intake_row(name: &str, r: &RunResult) -> String {
    let req = r.per_request.summary();
    let alert = r.per_alert.summary();
    format!(
        "| {name} | {:.0} | {:.0} | {} | {} | {} | {} | {} | {} |",
        r.alerts_per_sec(),
        r.requests_per_sec(),
        ms(req.p50),
        ms(req.p99),
        ms(req.max),
        ms(alert.p50),
        ms(alert.p99),
        r.failures(),
    )
}

/// `/proc/loadavg`'s first three fields, or `?`.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|| "?".to_owned())
}

/// `nproc`, the CPU model and the load average, in one line.
pub fn machine() -> String {
    let cpus = std::thread::available_parallelism().map_or(0, std::num::NonZero::get);
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, m)| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".to_owned());
    let mut out = String::new();
    let _ = write!(
        out,
        "{cpus} CPUs ({model}), load average {}",
        load_average()
    );
    out
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn a_row_has_as_many_columns_as_the_header() {
        let mut r = RunResult {
            requests: 10,
            alerts_ok: 100,
            elapsed: Duration::from_secs(1),
            ..RunResult::default()
        };
        r.per_request.record(Duration::from_millis(2));
        r.per_alert.record(Duration::from_micros(200));
        r.statuses.insert(200, 10);
        let row = intake_row("hale", &r);
        let cols = |s: &str| s.lines().next().unwrap().matches('|').count();
        assert_eq!(cols(&row), cols(&intake_header()));
        assert!(row.starts_with("| hale | 100 | 10 | 2.00 |"), "{row}");
    }
}
