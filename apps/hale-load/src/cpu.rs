//! CPU time a process and its children used during a measured window,
//! from `/proc/<pid>/stat` (`utime + stime`): how much work each alert cost
//! hale-server, Postgres (the postmaster and its backends) or Redis.
//!
//! A [`Watch`] reads every process of its groups at the start and at the
//! end of the window and sums the differences. A process born during the
//! window counts whole; one that exited during it is lost, because its
//! time is no longer in `/proc` (it went to its parent's `cutime`, which
//! only a `wait` collects). The benchmarks keep that loss small: the
//! server holds its Postgres pool open, so the backends doing the work
//! live through the run; only short-lived autovacuum workers can slip out.

use std::collections::BTreeMap;
use std::time::Duration;

/// Clock ticks per second in `/proc/<pid>/stat` (`USER_HZ`: 100 on every
/// Linux architecture the benchmarks run on).
const TICKS_PER_SEC: u64 = 100;

/// One process's line of `/proc/<pid>/stat`, as far as it matters here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stat {
    /// The parent's pid.
    pub ppid: u32,
    /// `utime + stime`, in clock ticks.
    pub ticks: u64,
    /// When the process started, in ticks since boot (tells a reused pid
    /// from the process that had it before).
    pub started: u64,
}

/// Parses a `/proc/<pid>/stat` line. The command name is in parentheses
/// and may hold spaces and parentheses itself, so fields are counted from
/// the last `)`.
pub fn parse_stat(text: &str) -> Option<Stat> {
    let (_, rest) = text.rsplit_once(')')?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // `rest` starts at field 3 (state): field n is fields[n - 3].
    let field = |n: usize| -> Option<u64> { fields.get(n - 3)?.parse().ok() };
    Some(Stat {
        ppid: u32::try_from(field(4)?).ok()?,
        ticks: field(14)? + field(15)?,
        started: field(22)?,
    })
}

/// A named process and its direct children (Postgres's backends are
/// children of the postmaster).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    /// For the report (`postgres`, `hale-server`).
    pub name: String,
    /// The root process.
    pub pid: u32,
}

impl Group {
    /// Parses `NAME=PID`.
    pub fn parse(s: &str) -> Result<Group, String> {
        let (name, pid) = s
            .split_once('=')
            .ok_or_else(|| format!("expected NAME=PID, got {s:?}"))?;
        let pid = pid
            .trim()
            .parse()
            .map_err(|e| format!("{s:?}: the pid: {e}"))?;
        Ok(Group {
            name: name.trim().to_owned(),
            pid,
        })
    }
}

/// Every process's ticks at one moment, by (pid, start time).
type Snapshot = BTreeMap<(u32, u64), u64>;

/// Reads the processes of `group` now.
fn snapshot(group: &Group, all: &[(u32, Stat)]) -> Snapshot {
    all.iter()
        .filter(|(pid, s)| *pid == group.pid || s.ppid == group.pid)
        .map(|(pid, s)| ((*pid, s.started), s.ticks))
        .collect()
}

/// Every process in `/proc` this user may read.
fn processes() -> Vec<(u32, Stat)> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(Result::ok)
        .filter_map(|e| {
            let pid: u32 = e.file_name().to_str()?.parse().ok()?;
            let text = std::fs::read_to_string(e.path().join("stat")).ok()?;
            Some((pid, parse_stat(&text)?))
        })
        .collect()
}

/// What one group used during a window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Used {
    /// The group's name.
    pub name: String,
    /// `utime + stime` summed over its processes.
    pub cpu: Duration,
    /// How many of its processes were alive at the end.
    pub processes: usize,
}

impl Used {
    /// Microseconds of CPU per alert, or None when no alert was taken.
    pub fn micros_per_alert(&self, alerts: u64) -> Option<f64> {
        (alerts > 0).then(|| self.cpu.as_secs_f64() * 1e6 / alerts as f64)
    }
}

/// The CPU time used between `before` and `after`: live processes' growth,
/// and the whole time of processes born in between.
fn used(before: &Snapshot, after: &Snapshot) -> Duration {
    let ticks: u64 = after
        .iter()
        .map(|(k, t)| t.saturating_sub(before.get(k).copied().unwrap_or(0)))
        .sum();
    Duration::from_millis(ticks * 1000 / TICKS_PER_SEC)
}

/// The groups' processes read at the start of a window.
#[derive(Debug, Clone)]
pub struct Watch {
    groups: Vec<Group>,
    start: Vec<Snapshot>,
}

impl Watch {
    /// Reads the groups' processes now: the window starts.
    pub fn start(groups: &[Group]) -> Watch {
        let all = processes();
        Watch {
            groups: groups.to_vec(),
            start: groups.iter().map(|g| snapshot(g, &all)).collect(),
        }
    }

    /// Reads them again: what each group used since [`Watch::start`].
    pub fn stop(&self) -> Vec<Used> {
        let all = processes();
        self.groups
            .iter()
            .zip(&self.start)
            .map(|(g, before)| {
                let after = snapshot(g, &all);
                Used {
                    name: g.name.clone(),
                    cpu: used(before, &after),
                    processes: after.len(),
                }
            })
            .collect()
    }
}

/// One report line: `label (N alerts): NAME X µs/alert (S s, P processes), ...`.
pub fn report(label: &str, alerts: u64, used: &[Used]) -> String {
    let parts: Vec<String> = used
        .iter()
        .map(|u| {
            let per = u
                .micros_per_alert(alerts)
                .map_or_else(|| "n/a".to_owned(), |m| format!("{m:.0} µs/alert"));
            format!(
                "{} {per} ({:.2} s CPU, {} process{})",
                u.name,
                u.cpu.as_secs_f64(),
                u.processes,
                if u.processes == 1 { "" } else { "es" }
            )
        })
        .collect();
    format!("CPU {label} ({alerts} alerts): {}", parts.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_lines_parse_even_with_parentheses_in_the_name() {
        let line = "4242 (postgres: a (b)) S 100 4242 4242 0 -1 4194560 500 0 0 0 \
                    250 50 0 0 20 0 1 0 987654 200000000 3000 18446744073709551615";
        assert_eq!(
            parse_stat(line),
            Some(Stat {
                ppid: 100,
                ticks: 300,
                started: 987_654
            })
        );
        assert_eq!(parse_stat("4242 (x) S"), None);
    }

    #[test]
    fn a_window_counts_growth_and_newborns_but_not_the_past() {
        let before: Snapshot = [((10, 1), 500), ((11, 2), 100), ((12, 3), 7)].into();
        // 11 exited; 10 grew by 150 ticks; 13 was born with 40; pid 12 was
        // reused by a process that started later and used 5.
        let after: Snapshot = [((10, 1), 650), ((12, 9), 5), ((13, 4), 40)].into();
        assert_eq!(used(&before, &after), Duration::from_millis(1950));
    }

    #[test]
    fn this_process_is_found_and_its_time_only_grows() {
        let me = Group::parse(&format!("me={}", std::process::id())).unwrap();
        let watch = Watch::start(std::slice::from_ref(&me));
        let mut x = 0u64;
        for i in 0..5_000_000u64 {
            x = x.wrapping_mul(31).wrapping_add(i);
        }
        std::hint::black_box(x);
        let used = watch.stop();
        assert_eq!(used.len(), 1);
        assert_eq!(used[0].name, "me");
        assert!(used[0].processes >= 1);
        assert!(report("during x", 10, &used).starts_with("CPU during x (10 alerts): me "));
    }

    #[test]
    fn groups_parse_and_per_alert_needs_alerts() {
        assert_eq!(
            Group::parse("postgres=123"),
            Ok(Group {
                name: "postgres".into(),
                pid: 123
            })
        );
        assert!(Group::parse("postgres").is_err());
        assert!(Group::parse("postgres=x").is_err());
        let u = Used {
            name: "p".into(),
            cpu: Duration::from_millis(2500),
            processes: 3,
        };
        assert_eq!(u.micros_per_alert(1000), Some(2500.0));
        assert_eq!(u.micros_per_alert(0), None);
    }
}
