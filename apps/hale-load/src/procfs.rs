//! A process's memory from `/proc/<pid>/status`: `VmHWM` is the peak
//! resident set size since the process started (what "peak RSS" means in
//! the reports), `VmRSS` the current one.

/// Resident memory of a process, in KiB.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Memory {
    /// Peak resident set (`VmHWM`).
    pub peak_kib: u64,
    /// Current resident set (`VmRSS`).
    pub current_kib: u64,
}

impl Memory {
    /// The peak in MiB.
    pub fn peak_mib(&self) -> f64 {
        self.peak_kib as f64 / 1024.0
    }

    /// The current value in MiB.
    pub fn current_mib(&self) -> f64 {
        self.current_kib as f64 / 1024.0
    }
}

/// Reads `/proc/<pid>/status`.
pub fn memory(pid: u32) -> std::io::Result<Memory> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    parse_status(&text).ok_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("/proc/{pid}/status has no VmHWM/VmRSS lines"),
        )
    })
}

/// The `VmHWM` and `VmRSS` lines of a status file.
pub fn parse_status(text: &str) -> Option<Memory> {
    let field = |name: &str| -> Option<u64> {
        let line = text.lines().find(|l| l.starts_with(name))?;
        line[name.len()..]
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse()
            .ok()
    };
    Some(Memory {
        peak_kib: field("VmHWM:")?,
        current_kib: field("VmRSS:")?,
    })
}

/// A process's resident memory sampled once a second while a run goes on:
/// the evidence that memory stays flat, not only how high it peaked.
pub struct Sampler {
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<Timeline>,
}

impl Sampler {
    /// Starts sampling `pid` every second.
    pub fn start(pid: u32) -> Sampler {
        let (stop, mut stopped) = tokio::sync::oneshot::channel();
        let task = tokio::spawn(async move {
            let start = tokio::time::Instant::now();
            let mut ticker = tokio::time::interval(std::time::Duration::from_secs(1));
            let mut t = Timeline::default();
            loop {
                tokio::select! {
                    _ = &mut stopped => break,
                    _ = ticker.tick() => {}
                }
                if let Ok(m) = memory(pid) {
                    t.samples.push((start.elapsed(), m));
                }
            }
            t
        });
        Sampler { stop, task }
    }

    /// Stops sampling and returns what was seen.
    pub async fn stop(self) -> Timeline {
        let _ = self.stop.send(());
        self.task.await.unwrap_or_default()
    }
}

/// Samples of a process's memory, by time since sampling started.
#[derive(Debug, Clone, Default)]
pub struct Timeline {
    /// (time since the start, memory then), in order.
    pub samples: Vec<(std::time::Duration, Memory)>,
}

impl Timeline {
    /// The current RSS (KiB) of the last sample at or before `at`.
    pub fn current_at(&self, at: std::time::Duration) -> Option<u64> {
        self.samples
            .iter()
            .take_while(|(t, _)| *t <= at)
            .last()
            .map(|(_, m)| m.current_kib)
    }

    /// The highest current RSS (KiB) sampled after `after`.
    pub fn max_after(&self, after: std::time::Duration) -> Option<u64> {
        self.samples
            .iter()
            .filter(|(t, _)| *t > after)
            .map(|(_, m)| m.current_kib)
            .max()
    }

    /// Text for the report: RSS at `warmup` and the most after it (how much
    /// memory grew once the first minute was over), then one line per
    /// `every`.
    pub fn report(&self, warmup: std::time::Duration, every: std::time::Duration) -> String {
        let mib = |k: u64| k as f64 / 1024.0;
        let mut out = String::new();
        match (self.current_at(warmup), self.max_after(warmup)) {
            (Some(at), Some(max)) => out.push_str(&format!(
                "RSS after {} s: {:.1} MiB; highest after that: {:.1} MiB (growth {:+.1} MiB)\n",
                warmup.as_secs(),
                mib(at),
                mib(max),
                mib(max) - mib(at)
            )),
            _ => out.push_str(&format!(
                "the run was shorter than {} s: no growth figure\n",
                warmup.as_secs()
            )),
        }
        out.push_str("RSS timeline (s, current MiB, peak MiB):");
        let mut next = std::time::Duration::ZERO;
        for (t, m) in &self.samples {
            if *t >= next {
                out.push_str(&format!(
                    " {}:{:.0}/{:.0}",
                    t.as_secs(),
                    m.current_mib(),
                    m.peak_mib()
                ));
                next = *t + every;
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: u64, current_kib: u64) -> (std::time::Duration, Memory) {
        (
            std::time::Duration::from_secs(secs),
            Memory {
                peak_kib: current_kib,
                current_kib,
            },
        )
    }

    #[test]
    fn the_timeline_reports_growth_after_the_warmup() {
        let t = Timeline {
            samples: vec![
                at(0, 10_240),
                at(30, 40_960),
                at(60, 51_200),
                at(90, 53_248),
                at(120, 52_224),
            ],
        };
        let sixty = std::time::Duration::from_secs(60);
        assert_eq!(t.current_at(sixty), Some(51_200));
        assert_eq!(t.max_after(sixty), Some(53_248));
        let text = t.report(sixty, std::time::Duration::from_secs(60));
        assert!(
            text.contains(
                "RSS after 60 s: 50.0 MiB; highest after that: 52.0 MiB (growth +2.0 MiB)"
            ),
            "{text}"
        );
        assert!(text.contains(" 0:10/10 60:50/50 120:51/51"), "{text}");
    }

    #[test]
    fn status_lines_parse() {
        let text =
            "Name:\thale-server\nVmPeak:\t  900000 kB\nVmHWM:\t   40960 kB\nVmRSS:\t   30720 kB\n";
        let m = parse_status(text).unwrap();
        assert_eq!(m.peak_kib, 40960);
        assert_eq!(m.current_kib, 30720);
        assert_eq!(m.peak_mib(), 40.0);
        assert!(parse_status("Name: x\n").is_none());
    }

    #[test]
    fn this_process_has_a_peak_at_least_its_current_size() {
        let m = memory(std::process::id()).unwrap();
        assert!(m.peak_kib >= m.current_kib && m.current_kib > 0);
    }
}
