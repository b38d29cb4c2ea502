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

    /// Reports the time since the previous phase ended (or since the timer started).
    pub fn phase(&mut self, name: &str) {
        if let Some(last) = self.last {
            let now = Instant::now();
            eprintln!(
                "meshdoctor: timing: {name}: {:.3} s",
                now.duration_since(last).as_secs_f64()
            );
            self.last = Some(now);
        }
    }
}
