//! A progress line on stderr for reads that take a while: the live scan and `--from` loads.
//!
//! It is for a person watching, so it is shown only when stderr is a terminal, not when the
//! output is JSON or YAML going to a pipe (a tool is reading; a spinner beside it is noise),
//! and not when `--no-progress` or `MESHDOCTOR_NO_PROGRESS` turn it off. Even then nothing is
//! drawn before the operation has run for [`DELAY`]: a load that ends in a blink must not
//! flash a line on the terminal.

use std::io::IsTerminal;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// How long an operation runs before its progress is drawn.
pub const DELAY: Duration = Duration::from_secs(1);

/// The environment variable that turns progress off (any value but empty, `0`, `false`, `no`,
/// `off`), as `--no-progress` does.
pub const DISABLE_ENV: &str = "MESHDOCTOR_NO_PROGRESS";

/// What decides whether progress may be shown at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Context {
    pub stderr_terminal: bool,
    pub stdout_terminal: bool,
    /// The command prints JSON or YAML on stdout.
    pub machine_output: bool,
    /// `--no-progress` or [`DISABLE_ENV`].
    pub disabled: bool,
}

impl Context {
    /// This process's terminals, for a command whose output is (or is not) machine-readable.
    pub fn detect(disabled: bool, machine_output: bool) -> Context {
        Context {
            stderr_terminal: std::io::stderr().is_terminal(),
            stdout_terminal: std::io::stdout().is_terminal(),
            machine_output,
            disabled,
        }
    }

    /// Whether progress may be drawn.
    pub fn allows(self) -> bool {
        let tool_reads_stdout = self.machine_output && !self.stdout_terminal;
        !self.disabled && self.stderr_terminal && !tool_reads_stdout
    }
}

/// Whether an operation that has run for `elapsed` has earned a progress line ([`DELAY`] in
/// the CLI).
pub fn due(elapsed: Duration, delay: Duration) -> bool {
    elapsed >= delay
}

/// A spinner with a count of objects, drawn once [`DELAY`] has passed; or nothing. Clones
/// share one line.
#[derive(Clone, Default)]
pub struct Progress(Option<Arc<Line>>);

struct Line {
    bar: ProgressBar,
    /// Held while the line is made visible, so that a line that ended meanwhile is never
    /// drawn again.
    state: Mutex<LineState>,
}

#[derive(Debug, Default)]
struct LineState {
    finished: bool,
    drawn: bool,
}

impl Drop for Line {
    fn drop(&mut self) {
        // An operation that failed leaves no half-drawn line behind its error message.
        self.bar.finish_and_clear();
    }
}

impl std::fmt::Debug for Progress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() {
            "Progress(shown)"
        } else {
            "Progress(hidden)"
        })
    }
}

impl Progress {
    /// A line labelled `what` (`reading the cluster`), when `allowed`.
    pub fn new(allowed: bool, what: &str) -> Progress {
        Progress::after(DELAY, allowed, what)
    }

    fn after(delay: Duration, allowed: bool, what: &str) -> Progress {
        if !allowed {
            return Progress(None);
        }
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::hidden());
        if let Ok(style) =
            ProgressStyle::with_template("{spinner} {prefix}: {pos} objects {msg} [{elapsed}]")
        {
            bar.set_style(style);
        }
        bar.set_prefix(what.to_owned());
        let line = Arc::new(Line {
            bar,
            state: Mutex::new(LineState::default()),
        });
        let weak = Arc::downgrade(&line);
        let started = std::time::Instant::now();
        // The waiting thread holds only a weak reference: an operation that ends first drops
        // the line, and the thread finds nothing to show.
        std::thread::spawn(move || {
            std::thread::sleep(delay);
            let Some(line) = weak.upgrade() else {
                return;
            };
            let mut state = line.state.lock().unwrap_or_else(|e| e.into_inner());
            if !state.finished && due(started.elapsed(), delay) {
                line.bar.set_draw_target(ProgressDrawTarget::stderr());
                line.bar.enable_steady_tick(Duration::from_millis(120));
                state.drawn = true;
            }
        });
        Progress(Some(line))
    }

    /// `n` more objects read.
    pub fn add(&self, n: usize) {
        if let Some(l) = &self.0 {
            l.bar.inc(u64::try_from(n).unwrap_or(u64::MAX));
        }
    }

    /// What is being read now (`(120 pods read)`, the file name).
    pub fn note(&self, msg: String) {
        if let Some(l) = &self.0 {
            l.bar.set_message(msg);
        }
    }

    /// Ends the line and clears it from the terminal.
    pub fn finish(&self) {
        if let Some(l) = &self.0 {
            let mut state = l.state.lock().unwrap_or_else(|e| e.into_inner());
            state.finished = true;
            l.bar.finish_and_clear();
        }
    }

    /// Whether this line can ever be drawn.
    pub fn is_shown(&self) -> bool {
        self.0.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(stderr: bool, stdout: bool, machine: bool, disabled: bool) -> Context {
        Context {
            stderr_terminal: stderr,
            stdout_terminal: stdout,
            machine_output: machine,
            disabled,
        }
    }

    #[test]
    fn shown_only_to_a_person_watching() {
        // A terminal, table output: shown, also when stdout goes to a file or a pager.
        assert!(ctx(true, true, false, false).allows());
        assert!(ctx(true, false, false, false).allows());
        // JSON or YAML on the terminal itself: a person reads it.
        assert!(ctx(true, true, true, false).allows());
        // JSON or YAML into a pipe: a tool reads it.
        assert!(!ctx(true, false, true, false).allows());
        // stderr is not a terminal (CI logs, 2>file): never.
        assert!(!ctx(false, true, false, false).allows());
        assert!(!ctx(false, false, false, false).allows());
        // --no-progress / MESHDOCTOR_NO_PROGRESS win over everything.
        assert!(!ctx(true, true, false, true).allows());
    }

    #[test]
    fn drawn_only_after_the_delay() {
        assert!(!due(Duration::ZERO, DELAY));
        assert!(!due(Duration::from_millis(999), DELAY));
        assert!(due(Duration::from_secs(1), DELAY));
        assert!(due(Duration::from_secs(30), DELAY));
    }

    #[test]
    fn a_hidden_line_ignores_everything() {
        let p = Progress::new(false, "loading");
        assert!(!p.is_shown());
        p.add(3);
        p.note("x".into());
        p.finish();
        assert_eq!(format!("{p:?}"), "Progress(hidden)");
    }

    fn drawn(p: &Progress) -> bool {
        p.0.as_ref()
            .is_some_and(|l| l.state.lock().is_ok_and(|s| s.drawn))
    }

    #[test]
    fn a_line_is_drawn_once_the_delay_has_passed_and_not_before() {
        let delay = Duration::from_millis(50);
        let quick = Progress::after(delay, true, "loading");
        assert!(quick.is_shown());
        quick.add(2);
        quick.finish();
        let slow = Progress::after(delay, true, "loading");
        slow.add(5);
        assert!(!drawn(&slow));
        // Polled, not slept for a fixed time: on a busy machine the thread may be late.
        let waited = std::time::Instant::now();
        while !drawn(&slow) && waited.elapsed() < Duration::from_secs(10) {
            std::thread::sleep(delay);
        }
        assert!(
            drawn(&slow),
            "a line still running after the delay was not drawn"
        );
        std::thread::sleep(delay);
        assert!(
            !drawn(&quick),
            "a line that ended before the delay was drawn"
        );
        slow.finish();
    }
}
