//! Gives end-to-end tests a real kube-apiserver (started by `scripts/test-apiserver.sh`) and
//! says plainly when there is none.
//!
//! Use it from a test binary with `mod e2e_support;`. [`shared`] starts one server per test
//! binary on first use; [`ApiServer::start`] gives a test its own server, stopped on drop.
//! Without a built binary the tier is skipped with a reason, unless `MESHDOCTOR_E2E` is set
//! (as in `.ci/run`), where a missing or broken server fails the tests instead.
#![allow(
    dead_code,
    reason = "each test binary that includes this module uses a different part of it"
)]

pub mod injector;
pub mod istio;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The script that builds, starts and stops the server.
pub const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/test-apiserver.sh");

/// Set (to anything but `0` or empty) where the tier must run: a missing server is a failure.
pub const REQUIRED_VAR: &str = "MESHDOCTOR_E2E";

/// Set to keep a server's directory (etcd data, certificates, logs) after it stops.
pub const KEEP_VAR: &str = "MESHDOCTOR_E2E_KEEP";

/// Why there is no server for the tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unavailable {
    /// The tier is optional here and cannot run; the tests pass with this reason printed.
    Skip(String),
    /// The tier should have run and could not; the tests must fail with this message.
    Failed(String),
}

impl fmt::Display for Unavailable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Unavailable::Skip(reason) => write!(f, "skipped: {reason}"),
            Unavailable::Failed(message) => write!(f, "failed: {message}"),
        }
    }
}

/// A running etcd + kube-apiserver pair, with the facts the script wrote to `DIR/env`.
#[derive(Debug)]
pub struct ApiServer {
    dir: PathBuf,
    kubeconfig: PathBuf,
    env: BTreeMap<String, String>,
    keep: bool,
}

impl ApiServer {
    /// Starts a server of its own in a fresh temporary directory; dropping it stops the server.
    pub fn start() -> Result<ApiServer, Unavailable> {
        Self::start_with(None)
    }

    /// Starts a server that also stops when process `owner` exits (the script's watchdog), for
    /// the shared server, which lives in a static and is therefore never dropped.
    fn start_with(owner: Option<u32>) -> Result<ApiServer, Unavailable> {
        let required = required();
        let built = run(Command::new(SCRIPT).arg("binary"));
        match built {
            Ok(_) => {}
            Err(message) if required => {
                return Err(Unavailable::Failed(format!(
                    "{REQUIRED_VAR} is set but the kube-apiserver is not built: {message}"
                )));
            }
            Err(_) => {
                return Err(Unavailable::Skip(format!(
                    "no kube-apiserver build (run `scripts/test-apiserver.sh build`, \
                     or set {REQUIRED_VAR}=1 to make this a failure)"
                )));
            }
        }

        let dir = fresh_dir();
        let mut command = Command::new(SCRIPT);
        command.arg("start").arg(&dir);
        if let Some(pid) = owner {
            command.arg("--owner-pid").arg(pid.to_string());
        }
        let output = run(&mut command).map_err(Unavailable::Failed)?;
        // The script prints only the kubeconfig path on stdout; progress goes to stderr.
        let stdout = String::from_utf8_lossy(&output.stdout);
        let Some(kubeconfig) = stdout.lines().last().map(PathBuf::from) else {
            return Err(Unavailable::Failed(format!(
                "{SCRIPT} start printed no kubeconfig path"
            )));
        };
        let env_file = dir.join("env");
        let env = std::fs::read_to_string(&env_file)
            .map(|text| parse_env(&text))
            .map_err(|err| Unavailable::Failed(format!("{}: {err}", env_file.display())))?;
        Ok(ApiServer {
            dir,
            kubeconfig,
            env,
            keep: flag(KEEP_VAR),
        })
    }

    /// The kubeconfig whose current context is the admin (`system:masters`) user; the
    /// `meshdoctor-e2e-nobody` context is a user with no RBAC bindings at all.
    pub fn kubeconfig(&self) -> &Path {
        &self.kubeconfig
    }

    /// The server URL, `https://127.0.0.1:PORT`.
    pub fn server_url(&self) -> &str {
        self.env
            .get("MESHDOCTOR_E2E_SERVER")
            .map_or("", String::as_str)
    }

    /// The directory holding certificates, tokens, etcd data and the two logs.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Everything the script wrote to `DIR/env` (KUBECONFIG, pids, CA file, version).
    pub fn env(&self) -> &BTreeMap<String, String> {
        &self.env
    }

    /// The server's log so far, for a failing test's message.
    pub fn log_tail(&self, lines: usize) -> String {
        let log = std::fs::read_to_string(self.dir.join("apiserver.log")).unwrap_or_default();
        let all: Vec<&str> = log.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }
}

impl Drop for ApiServer {
    fn drop(&mut self) {
        let stopped = run(Command::new(SCRIPT)
            .arg("stop")
            .arg(&self.dir)
            .arg("--purge"));
        if let Err(message) = stopped {
            eprintln!(
                "e2e: stopping the kube-apiserver in {}: {message}",
                self.dir.display()
            );
        } else if !self.keep {
            // Best effort: a leftover temporary directory is not worth a panic in drop.
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// The server shared by every test in this binary, started on first use. It stops when the
/// test binary exits: statics are never dropped, so the script's `--owner-pid` watchdog does it.
pub fn shared() -> Result<&'static ApiServer, Unavailable> {
    static SERVER: OnceLock<Result<ApiServer, Unavailable>> = OnceLock::new();
    SERVER
        .get_or_init(|| ApiServer::start_with(Some(std::process::id())))
        .as_ref()
        .map_err(Clone::clone)
}

/// The shared server, or `None` after printing why the test is skipped. Panics when the tier
/// is required or the server is built but would not start: those are failures, not skips.
pub fn shared_or_skip(test: &str) -> Option<&'static ApiServer> {
    match shared() {
        Ok(server) => Some(server),
        Err(Unavailable::Skip(reason)) => {
            eprintln!("{test}: skipped: {reason}");
            None
        }
        Err(failed @ Unavailable::Failed(_)) => panic!("{test}: real kube-apiserver {failed}"),
    }
}

/// True when `MESHDOCTOR_E2E` asks for the tier to run.
pub fn required() -> bool {
    flag(REQUIRED_VAR)
}

fn flag(name: &str) -> bool {
    std::env::var_os(name).is_some_and(|value| !value.is_empty() && value != "0")
}

/// A directory name no other server of this or another test process uses.
fn fresh_dir() -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    std::env::temp_dir().join(format!("meshdoctor-e2e-{}-{n}", std::process::id()))
}

/// Runs the script; a failure carries its exit status and stderr.
fn run(command: &mut Command) -> Result<Output, String> {
    let output = command
        .output()
        .map_err(|err| format!("running {SCRIPT}: {err}"))?;
    if output.status.success() {
        Ok(output)
    } else {
        Err(format!(
            "{SCRIPT} exited with {}: {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        ))
    }
}

/// Parses `KEY=value` lines; the script writes no quoting.
fn parse_env(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(|line| line.split_once('='))
        .map(|(key, value)| (key.trim().to_owned(), value.trim().to_owned()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_env_reads_key_value_lines() {
        let env = parse_env("KUBECONFIG=/tmp/x/kubeconfig\nMESHDOCTOR_E2E_ETCD_PID=42\n\nnoise\n");
        assert_eq!(
            env.get("KUBECONFIG").map(String::as_str),
            Some("/tmp/x/kubeconfig")
        );
        assert_eq!(
            env.get("MESHDOCTOR_E2E_ETCD_PID").map(String::as_str),
            Some("42")
        );
        assert_eq!(env.len(), 2);
    }

    #[test]
    fn unavailable_says_whether_it_skips_or_fails() {
        assert_eq!(
            Unavailable::Skip("no build".into()).to_string(),
            "skipped: no build"
        );
        assert_eq!(
            Unavailable::Failed("boom".into()).to_string(),
            "failed: boom"
        );
    }
}
