//! `MESHDOCTOR_TIMINGS=1`: how long each phase of a command took, on stderr. For finding
//! where a large cluster's time goes (`scripts/bench-scale.sh`), not for users' reports.

use std::time::Instant;

/// Phase timer; does nothing unless `MESHDOCTOR_TIMINGS` is set.
pub struct Timings {
    last: Option<Instant>,
}

impl Timings {
    pub fn from_env() -> Timings {
        Timings {
            last: std::env::var_os("MESHDOCTOR_TIMINGS").map(|_| Instant::now()),
        }
    }

    /// Whether timings are being reported.
    pub fn enabled(&self) -> bool {
        self.last.is_some()
    }

    /// Reports the time since the previous phase ended (or since the timer started), and the
    /// process's resident memory now and at its peak so far, where the system tells them.
    pub fn phase(&mut self, name: &str) {
        if let Some(last) = self.last {
            let now = Instant::now();
            eprintln!(
                "meshdoctor: timing: {name}: {:.3} s{}",
                now.duration_since(last).as_secs_f64(),
                memory()
            );
            self.last = Some(now);
        }
    }
}

/// ` (rss N MiB, peak M MiB)` from `/proc/self/status` (Linux); empty elsewhere.
fn memory() -> String {
    let Ok(status) = std::fs::read_to_string("/proc/self/status") else {
        return String::new();
    };
    let mib = |key: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map(|kb| kb / 1024)
    };
    match (mib("VmRSS:"), mib("VmHWM:")) {
        (Some(rss), Some(peak)) => format!(" (rss {rss} MiB, peak {peak} MiB)"),
        _ => String::new(),
    }
}
