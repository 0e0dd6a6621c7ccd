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

#[cfg(test)]
mod tests {
    use super::*;

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
