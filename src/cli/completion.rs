//! Shell completion: `meshdoctor completion SHELL` prints a clap_complete script, and the
//! kubectl plugin's completer (`kubectl_complete-inject_why`, which kubectl ≥ 1.26 runs for
//! `kubectl inject-why <TAB>`) answers in cobra's `__complete` protocol: one candidate per
//! line, then `:<directive>`.
//!
//! Target names come from `--from` files only: completing from a live cluster would mean a
//! full read on every TAB, which is not the cheap answer a shell waits for.

use std::io::Write;
use std::path::PathBuf;

use clap::{CommandFactory, ValueEnum};

use crate::cli::args::{Cli, CompletionArgs, PluginCli};
use crate::source::offline::{LoadOptions, load_paths};
use crate::state::ClusterState;

/// cobra's directives (`ShellCompDirective`): what the shell does besides offering candidates.
pub mod directive {
    /// Let the shell complete file names.
    pub const DEFAULT: u32 = 0;
    /// Do not add a space after the candidate (`pod/` is not finished yet).
    pub const NO_SPACE: u32 = 2;
    /// Do not fall back to file names.
    pub const NO_FILE_COMP: u32 = 4;
}

/// The kinds a target may name, as the user types them.
pub const TARGET_KINDS: [&str; 7] = [
    "pod",
    "deployment",
    "statefulset",
    "daemonset",
    "replicaset",
    "job",
    "cronjob",
];

/// `meshdoctor completion SHELL`.
pub fn run(args: &CompletionArgs) -> Result<(), crate::cli::Failure> {
    let mut cmd = Cli::command();
    let mut out = std::io::stdout().lock();
    clap_complete::generate(args.shell, &mut cmd, "meshdoctor", &mut out);
    if args.shell == clap_complete::Shell::Bash {
        let _ = out.write_all(BASH_TARGETS.as_bytes());
    }
    let _ = out.flush();
    Ok(())
}

/// Wraps clap's bash function: for `explain`'s target and `-n`, ask `meshdoctor __complete`
/// (names from `--from`); everything else is clap's static completion.
const BASH_TARGETS: &str = r#"
_meshdoctor_dynamic() {
    local cur="${COMP_WORDS[COMP_CWORD]}"
    if [[ "${COMP_WORDS[1]}" == explain && $COMP_CWORD -ge 2 && "$cur" != -* ]]; then
        local answer directive candidates=()
        answer=$("${COMP_WORDS[0]}" __complete "${COMP_WORDS[@]:2:COMP_CWORD-2}" "$cur" 2>/dev/null)
        directive="${answer##*:}"
        while IFS= read -r line; do
            [[ -n "$line" && "$line" != :* ]] && candidates+=("$line")
        done <<< "$answer"
        if [[ "$directive" != 0 ]]; then
            COMPREPLY=("${candidates[@]}")
            (( directive & 2 )) && compopt -o nospace 2>/dev/null
            return 0
        fi
    fi
    _meshdoctor "$@"
}
complete -F _meshdoctor_dynamic -o bashdefault -o default meshdoctor
"#;

/// What the words typed so far say about where names come from.
#[derive(Debug, Default)]
struct Typed {
    from: Vec<PathBuf>,
    namespace: Option<String>,
    all_namespaces: bool,
    /// A positional (the target) is already there.
    has_target: bool,
}

/// The flags of the plugin that take a value (so the word after them is not the target).
fn value_flags() -> Vec<String> {
    let cmd = PluginCli::command();
    let mut flags = Vec::new();
    for arg in cmd.get_arguments() {
        if !arg.get_action().takes_values() || arg.is_positional() {
            continue;
        }
        if let Some(l) = arg.get_long() {
            flags.push(format!("--{l}"));
        }
        if let Some(s) = arg.get_short() {
            flags.push(format!("-{s}"));
        }
    }
    flags
}

fn parse_typed(words: &[String]) -> Typed {
    let takes_value = value_flags();
    let mut typed = Typed::default();
    let mut i = 0;
    while i < words.len() {
        let w = &words[i];
        let (flag, inline) = match w.split_once('=') {
            Some((f, v)) if f.starts_with('-') => (f, Some(v.to_owned())),
            _ => (w.as_str(), None),
        };
        if takes_value.iter().any(|f| f == flag) {
            let value = inline.or_else(|| {
                i += 1;
                words.get(i).cloned()
            });
            if let Some(v) = value {
                match flag {
                    "--from" => typed.from.push(PathBuf::from(v)),
                    "-n" | "--namespace" => typed.namespace = Some(v),
                    _ => {}
                }
            }
        } else if flag == "-A" || flag == "--all-namespaces" {
            typed.all_namespaces = true;
        } else if !w.starts_with('-') {
            typed.has_target = true;
        }
        i += 1;
    }
    typed
}

/// The state named by `--from`, or none when there is no `--from` or it does not load (a
/// completer never prints an error into the user's command line).
fn offline_state(typed: &Typed) -> Option<ClusterState> {
    if typed.from.is_empty() || typed.from.iter().any(|p| p.as_os_str() == "-") {
        return None;
    }
    let opts = LoadOptions {
        default_namespace: typed.namespace.clone().unwrap_or_else(|| "default".into()),
        ..LoadOptions::default()
    };
    load_paths(&typed.from, &opts).ok()
}

/// Names of one kind in the namespace (all namespaces with `None`).
fn names_of(state: &ClusterState, kind: &str, namespace: Option<&str>) -> Vec<String> {
    fn names<
        T: k8s_openapi::Metadata<Ty = k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta>,
    >(
        store: &crate::state::Store<T>,
        namespace: Option<&str>,
    ) -> Vec<String> {
        store
            .in_namespace(namespace)
            .filter_map(|o| o.obj.metadata().name.clone())
            .collect()
    }
    match kind {
        "pod" => names(&state.pods, namespace),
        "deployment" => names(&state.deployments, namespace),
        "statefulset" => names(&state.statefulsets, namespace),
        "daemonset" => names(&state.daemonsets, namespace),
        "replicaset" => names(&state.replicasets, namespace),
        "job" => names(&state.jobs, namespace),
        "cronjob" => names(&state.cronjobs, namespace),
        _ => Vec::new(),
    }
}

/// Candidates for the target word: `KIND/` while the kind is being typed, `KIND/NAME` after.
fn target_candidates(current: &str, typed: &Typed) -> (Vec<String>, u32) {
    let Some((kind, _)) = current.split_once('/') else {
        let kinds = TARGET_KINDS
            .iter()
            .map(|k| format!("{k}/"))
            .filter(|k| k.starts_with(current))
            .collect();
        return (kinds, directive::NO_SPACE | directive::NO_FILE_COMP);
    };
    let canonical = crate::state::Kind::parse_user(kind)
        .map(|k| k.name().to_ascii_lowercase())
        .unwrap_or_default();
    let namespace = typed.namespace.clone().unwrap_or_else(|| "default".into());
    let names = offline_state(typed)
        .map(|s| names_of(&s, &canonical, Some(&namespace)))
        .unwrap_or_default();
    let mut out: Vec<String> = names
        .into_iter()
        .map(|n| format!("{kind}/{n}"))
        .filter(|c| c.starts_with(current))
        .collect();
    out.sort();
    out.dedup();
    (out, directive::NO_FILE_COMP)
}

/// Answers one `__complete` request: `words` are the words after the plugin's name, the last
/// one being the word under the cursor (empty at a fresh position).
pub fn plugin_candidates(words: &[String]) -> (Vec<String>, u32) {
    let (current, before) = match words.split_last() {
        Some((c, b)) => (c.as_str(), b),
        None => ("", &[][..]),
    };
    let typed = parse_typed(before);
    let previous = before.last().map(String::as_str).unwrap_or("");
    match previous {
        "--from" | "--kubeconfig" => return (Vec::new(), directive::DEFAULT),
        "-o" | "--output" => {
            let formats = crate::cli::args::ExplainFormat::value_variants()
                .iter()
                .filter_map(|v| v.to_possible_value())
                .map(|v| v.get_name().to_owned())
                .filter(|v| v.starts_with(current))
                .collect();
            return (formats, directive::NO_FILE_COMP);
        }
        "-n" | "--namespace" => {
            let mut names = offline_state(&typed)
                .map(|s| s.namespace_names())
                .unwrap_or_default();
            names.retain(|n| n.starts_with(current));
            return (names, directive::NO_FILE_COMP);
        }
        p if value_flags().iter().any(|f| f == p) => {
            return (Vec::new(), directive::NO_FILE_COMP);
        }
        _ => {}
    }
    if current.starts_with('-') {
        let cmd = PluginCli::command();
        let mut flags: Vec<String> = cmd
            .get_arguments()
            .filter_map(|a| a.get_long().map(|l| format!("--{l}")))
            .chain(["--help".to_owned(), "--version".to_owned()])
            .filter(|f| f.starts_with(current))
            .collect();
        flags.dedup();
        return (flags, directive::NO_FILE_COMP);
    }
    if typed.has_target || typed.all_namespaces {
        return (Vec::new(), directive::NO_FILE_COMP);
    }
    target_candidates(current, &typed)
}

/// The `kubectl_complete-inject_why` binary: prints the answer in cobra's format.
pub fn plugin_complete_main(args: impl IntoIterator<Item = std::ffi::OsString>) -> i32 {
    let mut words: Vec<String> = args
        .into_iter()
        .skip(1)
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    // Called as the plugin's own `__complete` too (`kubectl inject-why __complete ...`).
    if words.first().map(String::as_str) == Some("__complete") {
        words.remove(0);
    }
    print_answer(&words);
    0
}

/// Prints cobra's answer for these words: candidates one per line, then `:<directive>`.
pub fn print_answer(words: &[String]) {
    let (candidates, directive) = plugin_candidates(words);
    let mut out = std::io::stdout().lock();
    for c in candidates {
        let _ = writeln!(out, "{c}");
    }
    let _ = writeln!(out, ":{directive}");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &[&str]) -> Vec<String> {
        s.iter().map(|w| (*w).to_owned()).collect()
    }

    #[test]
    fn kinds_first_then_names_from_the_files() {
        let (c, d) = plugin_candidates(&words(&["de"]));
        assert_eq!(c, ["deployment/"]);
        assert_eq!(d, directive::NO_SPACE | directive::NO_FILE_COMP);
        let (c, _) = plugin_candidates(&words(&["-o", ""]));
        assert_eq!(c, ["table", "json", "yaml"]);
        let (c, d) = plugin_candidates(&words(&["--from", ""]));
        assert!(c.is_empty());
        assert_eq!(d, directive::DEFAULT);
    }

    #[test]
    fn value_flags_are_skipped_when_finding_the_target() {
        let t = parse_typed(&words(&["-n", "shop", "--from=a.yaml", "pod/x"]));
        assert_eq!(t.namespace.as_deref(), Some("shop"));
        assert_eq!(t.from, [PathBuf::from("a.yaml")]);
        assert!(t.has_target);
        assert!(!parse_typed(&words(&["-n", "shop"])).has_target);
    }
}
