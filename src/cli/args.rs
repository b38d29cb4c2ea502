//! Argument definitions shared by the subcommands and the kubectl plugin.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "meshdoctor",
    version,
    about = "Explains whether a service-mesh sidecar (Istio, Linkerd) will be injected into a pod, why, and what is broken in the injection machinery.",
    after_help = "Exit codes: 0 ran clean, 1 findings at or above --fail-on, 2 usage or input error, 3 could not evaluate."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Explain whether a pod or workload gets a sidecar, step by step, and what would flip it.
    Explain(ExplainArgs),
    /// Run the check catalog over namespaces: findings with evidence and a fix.
    Check(CheckArgs),
    /// List the checks, or print one check's documentation.
    Checks(ChecksArgs),
    /// CI gate over manifests not yet applied: findings located at file:line:column.
    Preflight(PreflightArgs),
}

/// The kubectl plugin: `kubectl inject-why <kind>/<name>`.
#[derive(Debug, Parser)]
#[command(
    name = "kubectl inject-why",
    bin_name = "kubectl inject-why",
    version,
    about = "Explain whether a pod or workload gets a service-mesh sidecar, and why.",
    after_help = "Examples:\n  kubectl inject-why pod/web-1 -n shop --from snapshot.yaml\n  kubectl inject-why deployment/web -n shop -o json --from snapshot.yaml\n\nExit codes: 0 ran, 2 usage or input error, 3 could not evaluate."
)]
pub struct PluginCli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(flatten)]
    pub explain: ExplainArgs,
}

#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// When to colour the output (honours NO_COLOR).
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto, global = true)]
    pub color: ColorChoice,
    /// Apply the injection rules of this Istio version (X.Y) instead of the detected one.
    #[arg(long, value_name = "X.Y", global = true)]
    pub istio_version: Option<String>,
    /// Emulate an API server older than 1.21, which does not label namespaces with
    /// kubernetes.io/metadata.name.
    #[arg(long, global = true)]
    pub no_metadata_name_label: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

/// Where the cluster state comes from.
#[derive(Debug, Args)]
pub struct SourceArgs {
    /// Read the cluster state from files instead of a cluster: YAML (multi-document, kind: List),
    /// JSON (kubectl get -o json), a directory (recursive) or - for stdin. Repeatable.
    #[arg(long = "from", value_name = "PATH")]
    pub from: Vec<PathBuf>,
    /// The namespace of the target (default: "default").
    #[arg(short = 'n', long, value_name = "NS")]
    pub namespace: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExplainFormat {
    Table,
    Json,
    Yaml,
}

#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// What to explain: pod/NAME, deployment/NAME, statefulset/NAME, daemonset/NAME,
    /// replicaset/NAME, job/NAME or cronjob/NAME (a bare NAME is a pod).
    #[arg(value_name = "KIND/NAME")]
    pub target: String,
    #[command(flatten)]
    pub source: SourceArgs,
    /// Output format.
    #[arg(short = 'o', long, value_enum, default_value_t = ExplainFormat::Table)]
    pub output: ExplainFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CheckFormat {
    Table,
    Json,
    Yaml,
}

/// The lowest severity that makes `check` exit with 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FailOn {
    Error,
    Warning,
    Info,
    Never,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    #[command(flatten)]
    pub source: SourceArgs,
    /// Check every namespace.
    #[arg(short = 'A', long, conflicts_with = "namespace")]
    pub all_namespaces: bool,
    /// Run only this check (repeatable).
    #[arg(long = "check", value_name = "ID")]
    pub only: Vec<String>,
    /// Do not run this check (repeatable).
    #[arg(long = "skip", value_name = "ID")]
    pub skip: Vec<String>,
    /// Exit with 1 when a finding is at or above this severity.
    #[arg(long, value_enum, default_value_t = FailOn::Error)]
    pub fail_on: FailOn,
    /// Warn about certificates expiring within this many days.
    #[arg(long, value_name = "DAYS", default_value_t = 30)]
    pub cert_expiry_days: u32,
    /// Output format.
    #[arg(short = 'o', long, value_enum, default_value_t = CheckFormat::Table)]
    pub output: CheckFormat,
}

#[derive(Debug, Args)]
pub struct ChecksArgs {
    /// Print this check's documentation instead of the list.
    #[arg(value_name = "ID")]
    pub id: Option<String>,
    /// Print the whole catalog as Markdown (this is how docs/checks.md is generated).
    #[arg(long, conflicts_with = "id")]
    pub markdown: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PreflightFormat {
    Table,
    Json,
    Yaml,
    /// SARIF 2.1.0 (GitHub code scanning).
    Sarif,
    /// JUnit XML (GitLab, Jenkins, ...).
    Junit,
    /// GitHub Actions workflow commands (::error file=...,line=...::).
    Github,
}

#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  meshdoctor preflight -f deploy/ --from cluster.yaml\n  helm template shop ./chart | meshdoctor preflight -f - --from cluster.yaml -o github\n  meshdoctor preflight -f k8s/ --from cluster.yaml --expect-injected-in shop,payments -o sarif > meshdoctor.sarif\n\nExit codes: 0 nothing at or above --fail-on, 1 findings at or above it, 2 usage or input error, 3 could not evaluate."
)]
pub struct PreflightArgs {
    /// Manifests to check: files, directories (recursive) or - for stdin (Helm or kustomize
    /// output). YAML (multi-document, kind: List) or JSON. Repeatable.
    #[arg(short = 'f', long = "filename", value_name = "PATH", required = true, num_args = 1..)]
    pub files: Vec<PathBuf>,
    /// The mesh context: the cluster's state from files (meshdoctor snapshot, kubectl get -o
    /// yaml). Repeatable. The manifests are laid over it.
    #[arg(long = "from", value_name = "PATH")]
    pub from: Vec<PathBuf>,
    /// Do not read a live cluster for context: use --from and the manifests only.
    #[arg(long)]
    pub offline: bool,
    /// Namespace for manifest objects that name none (as kubectl apply -n).
    #[arg(short = 'n', long, value_name = "NS")]
    pub namespace: Option<String>,
    /// Every workload in the manifests must get a sidecar.
    #[arg(long)]
    pub expect_injected: bool,
    /// Every workload in these namespaces must get a sidecar (comma-separated, repeatable).
    #[arg(long, value_name = "NS,...", value_delimiter = ',')]
    pub expect_injected_in: Vec<String>,
    /// Suppress a check, everywhere or for one object (kind/namespace/name, * for any part).
    /// Suppressed findings are counted, not gating. Repeatable.
    #[arg(long = "ignore", value_name = "CHECK[=KIND/NS/NAME]")]
    pub ignore: Vec<String>,
    /// Run only this check (repeatable).
    #[arg(long = "check", value_name = "ID")]
    pub only: Vec<String>,
    /// Do not run this check (repeatable).
    #[arg(long = "skip", value_name = "ID")]
    pub skip: Vec<String>,
    /// Exit with 1 when a finding is at or above this severity.
    #[arg(long, value_enum, default_value_t = FailOn::Error)]
    pub fail_on: FailOn,
    /// Warn about certificates expiring within this many days.
    #[arg(long, value_name = "DAYS", default_value_t = 30)]
    pub cert_expiry_days: u32,
    /// Paths in SARIF and GitHub output are made relative to this directory (the repository
    /// root; default: the current directory).
    #[arg(long, value_name = "DIR")]
    pub base_dir: Option<PathBuf>,
    /// Output format.
    #[arg(short = 'o', long, value_enum, default_value_t = PreflightFormat::Table)]
    pub output: PreflightFormat,
}
