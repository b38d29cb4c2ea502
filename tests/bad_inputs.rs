//! The bad-input catalogue: runs the real `meshdoctor` binary on every hostile or broken input
//! listed in `tests/bad-inputs/expected.yaml` and checks that it never panics, hangs or runs
//! away with memory, and that it answers as the catalogue says: exit 2 with one located line,
//! or (for input that is merely incomplete) a result with the expected finding or skip.
//!
//! Huge inputs (200 MB documents, 10,000-deep nesting, alias bombs) are generated into a
//! temporary directory by the recipes below, never committed.
//!
//! Each case runs with `RLIMIT_AS` as a safety net and its peak RSS (from `wait4`) must stay
//! under 1 GiB; a child still running after [`HANG_KILL`] is killed and the case fails. Wall
//! times are measured and printed (`--nocapture`) but not asserted: the < 5 s target is a
//! figure reported by `scripts/bench-bad-inputs.sh`, as performance targets never become
//! timing assertions in tests.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs::File;
use std::io::Write as _;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde::Deserialize;

/// A child running longer than this is hung: killed, and the case fails.
const HANG_KILL: Duration = Duration::from_secs(20);
/// Peak resident memory a case may use.
const MAX_RSS_BYTES: u64 = 1 << 30;
/// Address-space limit for the child: a safety net well above the RSS bound (a debug binary
/// maps ~300 MB and glibc reserves arenas per thread), so that a runaway allocation fails
/// fast instead of swapping the machine.
const ADDRESS_SPACE_LIMIT: u64 = 4 << 30;

/// The binary under test: this build's, or `MESHDOCTOR_BIN` (the bench script points it at a
/// release build without building the test harness in release).
fn binary() -> PathBuf {
    std::env::var_os("MESHDOCTOR_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_meshdoctor")))
}

fn catalogue_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/bad-inputs")
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Catalogue {
    cases: Vec<Case>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    /// The input, relative to `tests/bad-inputs/` (or, with `generate`, the name of the
    /// generated file in the temporary directory).
    file: String,
    /// A recipe name from [`generate`]: the file is written by the test.
    #[serde(default)]
    generate: Option<String>,
    /// What the input is and why the outcome is right.
    why: String,
    /// The command line; `{file}` is the input's path, `{dir}` the catalogue directory.
    /// Default: `check -A --from {file} -o json`.
    #[serde(default)]
    args: Option<Vec<String>>,
    /// Feed the input on stdin (for `--from -`).
    #[serde(default)]
    stdin: bool,
    /// Environment for the child (`KUBECONFIG: "{file}"` for live-mode cases).
    #[serde(default)]
    env: BTreeMap<String, String>,
    /// The expected exit code.
    exit: i32,
    /// Exit 2: a fragment of the one stderr line (`{file}` substituted). The line must also
    /// name the input file, unless `names_file: false`.
    #[serde(default)]
    stderr: Option<String>,
    #[serde(default = "yes")]
    names_file: bool,
    /// Exit 0/1: fragments that must appear on stdout.
    #[serde(default)]
    stdout: Vec<String>,
    /// Exit 0/1 with `-o json`: check ids that must be among the findings.
    #[serde(default)]
    findings: Vec<String>,
    /// Exit 0/1 with `-o json`: check ids that must be among the skips.
    #[serde(default)]
    skipped: Vec<String>,
}

fn yes() -> bool {
    true
}

/// What one run measured.
struct Run {
    code: Option<i32>,
    signal: Option<i32>,
    killed: bool,
    elapsed: Duration,
    max_rss_bytes: u64,
    stdout: String,
    stderr: String,
}

fn load_catalogue() -> Catalogue {
    let path = catalogue_dir().join("expected.yaml");
    let text = std::fs::read_to_string(&path).expect("tests/bad-inputs/expected.yaml is readable");
    serde_saphyr::from_str(&text).expect("tests/bad-inputs/expected.yaml parses")
}

/// Writes a generated input. Sizes are what the issue asks for: 10,000-deep nesting, 200 MB
/// documents, a 50 MB single line, alias bombs with many levels.
fn generate(recipe: &str, path: &Path) {
    let file = File::create(path).expect("create generated input");
    let mut w = std::io::BufWriter::new(file);
    const DEEP: usize = 10_000;
    const HUGE: usize = 200 << 20;
    let head = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: hostile, namespace: shop}\n";
    let r = match recipe {
        // `data: [[[[...]]]]`, flow style.
        "deep-flow-yaml" => writeln!(w, "{head}data: {}{}", "[".repeat(DEEP), "]".repeat(DEEP)),
        // `- - - - ... leaf`: block sequences, each one level deeper, on one line.
        "deep-block-yaml" => writeln!(w, "{head}data:\n  {}leaf", "- ".repeat(DEEP)),
        // Block mappings, one per line, each indented one more space.
        "deep-block-mappings-yaml" => {
            let mut s = format!("{head}data:\n");
            for i in 1..=DEEP {
                s.push_str(&" ".repeat(i));
                s.push_str("a:\n");
            }
            s.push_str(&" ".repeat(DEEP + 1));
            s.push_str("leaf\n");
            w.write_all(s.as_bytes())
        }
        "deep-json-arrays" => writeln!(
            w,
            "{{\"apiVersion\": \"v1\", \"kind\": \"ConfigMap\", \"metadata\": {{\"name\": \"deep\", \"namespace\": \"shop\"}}, \"data\": {}{}}}",
            "[".repeat(DEEP),
            "]".repeat(DEEP)
        ),
        "deep-json-objects" => writeln!(
            w,
            "{{\"apiVersion\": \"v1\", \"kind\": \"Gizmo\", \"metadata\": {{\"name\": \"deep\"}}, \"spec\": {}1{}}}",
            "{\"a\": ".repeat(DEEP),
            "}".repeat(DEEP)
        ),
        // The top-level array of items itself nests 10,000 deep.
        "deep-json-top-array" => writeln!(w, "{}{}", "[".repeat(DEEP), "]".repeat(DEEP)),
        // 40 levels that each double the one before: 2^40 strings if expanded.
        "alias-bomb-40-levels" => {
            let mut s = format!("{head}l0: &l0 [lol, lol]\n");
            for i in 1..40 {
                let _ = writeln!(s, "l{i}: &l{i} [*l{p}, *l{p}]", p = i - 1);
            }
            w.write_all(s.as_bytes())
        }
        // Few aliases of one long string: 1,500 copies of 1 MiB.
        "alias-of-a-long-string" => {
            let refs = vec!["*big"; 1500].join(", ");
            writeln!(
                w,
                "{head}big: &big \"{}\"\nrefs: [{refs}]",
                "x".repeat(1 << 20)
            )
        }
        // A pod whose one annotation is 200 MB: large, but valid.
        "huge-annotation-yaml" => writeln!(
            w,
            "apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\n  namespace: shop\n  annotations:\n    blob: \"{}\"\nspec:\n  containers: [{{name: app, image: nginx}}]",
            "x".repeat(HUGE)
        ),
        "huge-annotation-json" => writeln!(
            w,
            "{{\"apiVersion\": \"v1\", \"kind\": \"Pod\", \"metadata\": {{\"name\": \"web\", \"namespace\": \"shop\", \"annotations\": {{\"blob\": \"{}\"}}}}, \"spec\": {{\"containers\": [{{\"name\": \"app\", \"image\": \"nginx\"}}]}}}}",
            "x".repeat(HUGE)
        ),
        // 200 MB of YAML-looking garbage lines.
        "garbage-200mb" => {
            let line = "}{ ][ :: -- ?? !! && ** || >> %% @@ `` \"\" '' ## ,, ..\n";
            w.write_all(line.repeat(HUGE / line.len()).as_bytes())
        }
        // One 50 MB line with no newline: a plain scalar, not an object.
        "single-line-50mb" => w.write_all("y".repeat(50 << 20).as_bytes()),
        // A 1 MiB mapping key.
        "long-key" => writeln!(w, "{head}{}: value", "k".repeat(1 << 20)),
        // 100,000 empty documents.
        "many-empty-documents" => w.write_all("---\n".repeat(100_000).as_bytes()),
        other => panic!("unknown generate recipe {other:?} in expected.yaml"),
    };
    r.expect("write generated input");
    w.flush().expect("flush generated input");
}

fn substitute(s: &str, file: &str) -> String {
    s.replace("{file}", file)
        .replace("{dir}", &catalogue_dir().display().to_string())
}

/// Runs the binary with the address-space limit, a hang kill and per-child resource usage.
#[expect(
    clippy::zombie_processes,
    reason = "the child is reaped with wait4, which also reports its peak RSS"
)]
fn run(
    args: &[String],
    env: &BTreeMap<String, String>,
    stdin: Option<&Path>,
    scratch: &Path,
    id: usize,
) -> Run {
    let out_path = scratch.join(format!("{id}.stdout"));
    let err_path = scratch.join(format!("{id}.stderr"));
    let mut cmd = Command::new(binary());
    cmd.args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        // No cluster and no kubeconfig but the case's own: live-mode cases must not wander.
        .env_remove("KUBECONFIG")
        .env("HOME", scratch)
        .env_remove("KUBERNETES_SERVICE_HOST")
        .env("NO_COLOR", "1")
        .stdin(match stdin {
            Some(p) => Stdio::from(File::open(p).expect("stdin input")),
            None => Stdio::null(),
        })
        .stdout(File::create(&out_path).expect("stdout file"))
        .stderr(File::create(&err_path).expect("stderr file"));
    for (k, v) in env {
        cmd.env(k, v);
    }
    // SAFETY: only async-signal-safe calls (setrlimit) between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            let limit = libc::rlimit {
                rlim_cur: ADDRESS_SPACE_LIMIT,
                rlim_max: ADDRESS_SPACE_LIMIT,
            };
            if libc::setrlimit(libc::RLIMIT_AS, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let start = Instant::now();
    let mut child = cmd.spawn().expect("spawn meshdoctor");
    let pid = libc::pid_t::try_from(child.id()).expect("pid fits pid_t");
    let mut status: libc::c_int = 0;
    // SAFETY: a zeroed rusage is a valid value for wait4 to fill.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let mut killed = false;
    loop {
        // SAFETY: pid is our own unreaped child; status and usage are valid out-pointers.
        let r = unsafe { libc::wait4(pid, &mut status, libc::WNOHANG, &mut usage) };
        if r == pid {
            break;
        }
        assert!(r == 0, "wait4 failed: {}", std::io::Error::last_os_error());
        if start.elapsed() > HANG_KILL && !killed {
            let _ = child.kill();
            killed = true;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let elapsed = start.elapsed();
    let (code, signal) = if libc::WIFEXITED(status) {
        (Some(libc::WEXITSTATUS(status)), None)
    } else if libc::WIFSIGNALED(status) {
        (None, Some(libc::WTERMSIG(status)))
    } else {
        (None, None)
    };
    let read =
        |p: &Path| String::from_utf8_lossy(&std::fs::read(p).unwrap_or_default()).into_owned();
    Run {
        code,
        signal,
        killed,
        elapsed,
        // Linux reports ru_maxrss in KiB.
        max_rss_bytes: u64::try_from(usage.ru_maxrss).unwrap_or(0) * 1024,
        stdout: read(&out_path),
        stderr: read(&err_path),
    }
}

/// Checks one case's run against the catalogue; returns what is wrong.
fn verdict(case: &Case, file: &str, r: &Run) -> Vec<String> {
    let mut bad = Vec::new();
    if r.killed {
        bad.push(format!("hung: killed after {HANG_KILL:?}"));
    }
    if let Some(sig) = r.signal {
        bad.push(format!("died of signal {sig}"));
    }
    if r.stderr.contains("panicked") || r.code == Some(101) {
        bad.push(format!("panicked: {}", r.stderr.trim()));
    }
    if r.max_rss_bytes >= MAX_RSS_BYTES {
        bad.push(format!("peak RSS {} MiB >= 1 GiB", r.max_rss_bytes >> 20));
    }
    if r.code != Some(case.exit) {
        bad.push(format!(
            "exit {:?}, expected {} (stderr: {})",
            r.code,
            case.exit,
            r.stderr.trim()
        ));
    }
    if case.exit == 2 || case.exit == 3 {
        let lines: Vec<&str> = r.stderr.lines().filter(|l| !l.trim().is_empty()).collect();
        if lines.len() != 1 {
            bad.push(format!(
                "stderr has {} lines, expected one: {:?}",
                lines.len(),
                r.stderr
            ));
        }
        let line = lines.first().copied().unwrap_or("");
        if !line.starts_with("meshdoctor: ") {
            bad.push(format!(
                "stderr line does not start with \"meshdoctor: \": {line:?}"
            ));
        }
        if case.names_file && !line.contains(file) {
            bad.push(format!("stderr does not name the file {file:?}: {line:?}"));
        }
        match &case.stderr {
            Some(want) => {
                let want = substitute(want, file);
                if !line.contains(&want) {
                    bad.push(format!("stderr {line:?} lacks {want:?}"));
                }
            }
            None => bad.push("exit-2/3 case without an expected stderr fragment".to_owned()),
        }
    } else {
        for want in &case.stdout {
            let want = substitute(want, file);
            if !r.stdout.contains(&want) {
                bad.push(format!("stdout lacks {want:?}"));
            }
        }
        if !case.findings.is_empty() || !case.skipped.is_empty() {
            match serde_json::from_str::<serde_json::Value>(&r.stdout) {
                Ok(v) => {
                    let ids = |key: &str| -> Vec<String> {
                        v[key]
                            .as_array()
                            .map(|a| {
                                a.iter()
                                    .filter_map(|f| f["check"].as_str().map(str::to_owned))
                                    .collect()
                            })
                            .unwrap_or_default()
                    };
                    let (found, skipped) = (ids("findings"), ids("skipped"));
                    for id in &case.findings {
                        if !found.contains(id) {
                            bad.push(format!("no {id} finding (findings: {found:?})"));
                        }
                    }
                    for id in &case.skipped {
                        if !skipped.contains(id) {
                            bad.push(format!("no {id} skip (skipped: {skipped:?})"));
                        }
                    }
                }
                Err(e) => bad.push(format!("stdout is not JSON ({e}): {}", r.stdout)),
            }
        }
    }
    bad
}

#[test]
fn every_bad_input_is_answered_without_panic_hang_or_runaway_memory() {
    let catalogue = load_catalogue();
    let scratch =
        std::env::temp_dir().join(format!("meshdoctor-bad-inputs-{}", std::process::id()));
    std::fs::create_dir_all(&scratch).expect("scratch dir");
    let only = std::env::var("BAD_INPUTS_ONLY").ok();
    let mut failures = Vec::new();
    let mut table = String::from(
        "| case | exit | time (s) | peak RSS (MiB) | outcome |\n|---|---|---|---|---|\n",
    );
    let mut tsv = String::new();
    for (id, case) in catalogue.cases.iter().enumerate() {
        if only.as_deref().is_some_and(|o| !case.file.contains(o)) {
            continue;
        }
        let path = match &case.generate {
            Some(recipe) => {
                let p = scratch.join(&case.file);
                generate(recipe, &p);
                p
            }
            None => catalogue_dir().join(&case.file),
        };
        // Errors name the input as it was given on the command line: relative for committed
        // files (the child runs in the crate root), absolute for generated ones.
        let shown = match &case.generate {
            Some(_) => path.display().to_string(),
            None => format!("tests/bad-inputs/{}", case.file),
        };
        let args: Vec<String> = match &case.args {
            Some(a) => a.iter().map(|s| substitute(s, &shown)).collect(),
            None => ["check", "-A", "--from", &shown, "-o", "json"]
                .iter()
                .map(|s| (*s).to_owned())
                .collect(),
        };
        let env: BTreeMap<String, String> = case
            .env
            .iter()
            .map(|(k, v)| (k.clone(), substitute(v, &shown)))
            .collect();
        let r = run(
            &args,
            &env,
            case.stdin.then_some(path.as_path()),
            &scratch,
            id,
        );
        if case.generate.is_some() {
            let _ = std::fs::remove_file(&path);
        }
        let problems = verdict(case, &shown, &r);
        let outcome = match (r.code, problems.is_empty()) {
            (Some(2 | 3), true) => r
                .stderr
                .trim()
                .trim_start_matches("meshdoctor: ")
                .replace(&shown, "FILE")
                .replace(
                    &format!("{}/", catalogue_dir().display()),
                    "tests/bad-inputs/",
                ),
            (_, true) => {
                let mut o = case
                    .findings
                    .iter()
                    .map(|f| format!("finding {f}"))
                    .collect::<Vec<_>>();
                o.extend(case.skipped.iter().map(|s| format!("skip {s}")));
                o.extend(
                    case.stdout
                        .iter()
                        .map(|s| format!("prints {}", s.replace("{file}", "FILE"))),
                );
                o.join("; ")
            }
            (_, false) => format!("FAILED: {}", problems.join("; ")),
        };
        let label = match &case.generate {
            Some(g) => format!("{} (generated: {g})", case.file),
            None => case.file.clone(),
        };
        let _ = writeln!(
            table,
            "| {label} | {} | {:.2} | {} | {} |",
            r.code.map_or_else(|| "-".to_owned(), |c| c.to_string()),
            r.elapsed.as_secs_f64(),
            r.max_rss_bytes >> 20,
            outcome.replace('|', "\\|")
        );
        let _ = writeln!(
            tsv,
            "{label}\t{}\t{:.3}\t{}",
            r.code.unwrap_or(-1),
            r.elapsed.as_secs_f64(),
            r.max_rss_bytes >> 20
        );
        if !problems.is_empty() {
            failures.push(format!(
                "{}: {}\n    why: {}",
                case.file,
                problems.join("\n    "),
                case.why
            ));
        }
    }
    let _ = std::fs::remove_dir_all(&scratch);
    println!("{table}");
    // The bench script reads the measurements from here.
    if let Ok(out) = std::env::var("BAD_INPUTS_TSV") {
        std::fs::write(out, tsv).expect("write BAD_INPUTS_TSV");
    }
    assert!(
        failures.is_empty(),
        "{} case(s) failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn the_catalogue_is_large_and_every_committed_file_is_in_it() {
    let catalogue = load_catalogue();
    assert!(
        catalogue.cases.len() >= 40,
        "only {} cases",
        catalogue.cases.len()
    );
    let listed: Vec<&str> = catalogue
        .cases
        .iter()
        .filter(|c| c.generate.is_none())
        .map(|c| c.file.as_str())
        .collect();
    for c in &catalogue.cases {
        assert!(!c.why.trim().is_empty(), "{}: why is empty", c.file);
        if c.generate.is_none() {
            assert!(
                catalogue_dir().join(&c.file).exists(),
                "{}: no such file",
                c.file
            );
        }
        if c.exit == 2 {
            assert!(
                c.stderr.is_some(),
                "{}: exit 2 needs a stderr fragment",
                c.file
            );
        }
    }
    // Every input file (and helper file a case's args name) is used by some case.
    let args_text: String = catalogue
        .cases
        .iter()
        .flat_map(|c| c.args.iter().flatten())
        .cloned()
        .collect::<Vec<_>>()
        .join(" ");
    for entry in std::fs::read_dir(catalogue_dir()).expect("read tests/bad-inputs") {
        let name = entry
            .expect("dir entry")
            .file_name()
            .to_string_lossy()
            .into_owned();
        if name == "expected.yaml" {
            continue;
        }
        assert!(
            listed.contains(&name.as_str()) || args_text.contains(&name),
            "tests/bad-inputs/{name} is not used by any case in expected.yaml"
        );
    }
}
