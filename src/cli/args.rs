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
    /// Print manifests as the mesh's injector would mutate them (Istio: istioctl kube-inject
    /// inputs; Linkerd: as linkerd inject --manual writes them).
    Inject(InjectArgs),
    /// Capture the injection-relevant cluster state to one file that --from reads back
    /// (Secrets reduced to their public certificates).
    Snapshot(SnapshotArgs),
    /// CI gate over manifests not yet applied: findings located at file:line:column.
    Preflight(PreflightArgs),
    /// Watch the cluster and export the checks' findings, certificate expiry, injector
    /// endpoints and pod verdicts as Prometheus metrics (read-only).
    Serve(ServeArgs),
    /// Print meshdoctor's version, the Istio and Linkerd releases it knows, and the versions
    /// of the cluster (API server, Istio revisions, Linkerd), or of a captured state.
    Version(VersionArgs),
    /// Print a shell completion script (bash, zsh, fish, powershell, elvish).
    Completion(CompletionArgs),
    /// Write one man page per subcommand (meshdoctor.1, meshdoctor-explain.1, ...) into DIR.
    Man(ManArgs),
    /// The shell scripts' callback: candidates for an `explain` target or `-n` namespace from
    /// the words typed so far, in cobra's `__complete` format.
    #[command(name = "__complete", hide = true)]
    Complete(CompleteArgs),
}

#[derive(Debug, Args)]
pub struct CompleteArgs {
    /// The words after `explain`, the last being the one under the cursor.
    #[arg(allow_hyphen_values = true, trailing_var_arg = true)]
    pub words: Vec<String>,
}

#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  source <(meshdoctor completion bash)            # bash, this shell\n  meshdoctor completion zsh > \"${fpath[1]}/_meshdoctor\"\n  meshdoctor completion fish > ~/.config/fish/completions/meshdoctor.fish"
)]
pub struct CompletionArgs {
    /// The shell to print the script for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Args)]
#[command(
    after_help = "Without a reachable cluster the cluster part says why it is missing, and the command still exits 0.\n\nExamples:\n  meshdoctor version\n  meshdoctor version --client -o json\n  meshdoctor version --from snapshot.yaml\n  meshdoctor version --context staging -o yaml"
)]
pub struct VersionArgs {
    /// Only meshdoctor's own part: read no cluster and no files.
    #[arg(long, conflicts_with_all = ["from", "kubeconfig", "context", "request_timeout"])]
    pub client: bool,
    /// Read the versions from a captured state (meshdoctor snapshot, kubectl get -o yaml)
    /// instead of the cluster. Repeatable.
    #[arg(long = "from", value_name = "PATH", conflicts_with_all = ["kubeconfig", "context", "request_timeout"])]
    pub from: Vec<PathBuf>,
    /// Path to the kubeconfig file (default: KUBECONFIG, then ~/.kube/config, then the
    /// in-cluster service account).
    #[arg(long, value_name = "PATH")]
    pub kubeconfig: Option<PathBuf>,
    /// The kubeconfig context to use (default: the current context).
    #[arg(long, value_name = "NAME")]
    pub context: Option<String>,
    /// How long one request to the API server may take (e.g. 500ms, 30s, 1m; 0 = no limit).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub request_timeout: Option<std::time::Duration>,
    /// Output format.
    #[arg(short = 'o', long, value_enum, default_value_t = ExplainFormat::Table)]
    pub output: ExplainFormat,
}

#[derive(Debug, Args)]
pub struct ManArgs {
    /// The directory to write the pages into (created if missing).
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
}

/// The kubectl plugin: `kubectl inject-why <kind>/<name>`.
#[derive(Debug, Parser)]
#[command(
    name = "kubectl inject-why",
    bin_name = "kubectl inject-why",
    version,
    about = "Explain whether a pod or workload gets a service-mesh sidecar (Istio, Linkerd), and why.",
    override_usage = "kubectl inject-why [KIND/]NAME [-n NAMESPACE] [flags]\n       kubectl inject-why [-n NAMESPACE | -A] [flags]",
    after_help = "Examples:\n  # Why did (or didn't) this pod get a sidecar?\n  kubectl inject-why pod/web-1 -n shop\n\n  # A workload's pod template, as JSON\n  kubectl inject-why deployment/web -n shop -o json\n\n  # The verdict for every pod and workload in all namespaces\n  kubectl inject-why -A\n\n  # Another cluster\n  kubectl inject-why deploy/web --context staging -n shop\n\n  # A captured state instead of a cluster (meshdoctor snapshot)\n  kubectl inject-why pod/web-1 -n shop --from snapshot.yaml\n\nFlags go after the plugin name: kubectl does not pass flags placed before it\n(`kubectl -n shop inject-why ...` fails).\n\nThe plugin only reads (get, list). Exit codes: 0 ran, 2 usage or input error, 3 could not\nevaluate (cluster unreachable)."
)]
pub struct PluginCli {
    #[command(flatten)]
    pub global: GlobalArgs,
    /// What to explain: pod/NAME, deployment/NAME, statefulset/NAME, daemonset/NAME,
    /// replicaset/NAME, job/NAME or cronjob/NAME (a bare NAME is a pod). Without it, the verdict
    /// for every pod and workload in the namespace (or all namespaces with -A).
    #[arg(value_name = "KIND/NAME")]
    pub target: Option<String>,
    #[command(flatten)]
    pub source: SourceArgs,
    /// List the verdicts in all namespaces.
    #[arg(short = 'A', long, conflicts_with_all = ["namespace", "target"])]
    pub all_namespaces: bool,
    /// Output format.
    #[arg(short = 'o', long, value_enum, default_value_t = ExplainFormat::Table)]
    pub output: ExplainFormat,
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
    /// Never show the progress line on stderr. It appears only on a terminal, after a read
    /// has taken a second, and never while JSON or YAML goes into a pipe.
    #[arg(long, global = true, env = crate::progress::DISABLE_ENV, value_parser = clap::builder::FalseyValueParser::new())]
    pub no_progress: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

/// Where the cluster state comes from: files (`--from`) or, without `--from`, the cluster of
/// the kubeconfig context.
#[derive(Debug, Clone, Args)]
pub struct SourceArgs {
    /// Read the cluster state from files instead of a cluster: YAML (multi-document, kind: List),
    /// JSON (kubectl get -o json), a directory (recursive) or - for stdin. Repeatable.
    #[arg(long = "from", value_name = "PATH", conflicts_with_all = ["kubeconfig", "context", "request_timeout"])]
    pub from: Vec<PathBuf>,
    /// The namespace (default: the kubeconfig context's namespace; "default" with --from).
    #[arg(short = 'n', long, value_name = "NS")]
    pub namespace: Option<String>,
    /// Path to the kubeconfig file (default: KUBECONFIG, then ~/.kube/config, then the
    /// in-cluster service account).
    #[arg(long, value_name = "PATH")]
    pub kubeconfig: Option<PathBuf>,
    /// The kubeconfig context to use (default: the current context).
    #[arg(long, value_name = "NAME")]
    pub context: Option<String>,
    /// How long one request to the API server may take (e.g. 500ms, 30s, 1m; 0 = no limit).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub request_timeout: Option<std::time::Duration>,
}

/// Parses a kubectl-style duration: `30s`, `1m30s`, `500ms`, `2h`, or bare seconds (`30`).
pub fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    let bad = || format!("\"{text}\" is not a duration (e.g. 30s, 1m, 500ms)");
    if let Ok(secs) = text.parse::<u64>() {
        return Ok(std::time::Duration::from_secs(secs));
    }
    if text.is_empty() {
        return Err(bad());
    }
    let mut total = std::time::Duration::ZERO;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit() && c != '.')
            .ok_or_else(bad)?;
        let (num, tail) = rest.split_at(digits);
        let value: f64 = num.parse().map_err(|_| bad())?;
        let unit_len = tail
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(tail.len());
        let (unit, next) = tail.split_at(unit_len);
        let scale = match unit {
            "ms" => 0.001,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return Err(bad()),
        };
        total += std::time::Duration::try_from_secs_f64(value * scale).map_err(|_| bad())?;
        rest = next;
    }
    Ok(total)
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
    /// Also print the pod as the injector would return it (rendered from the cluster's Istio
    /// injector ConfigMap).
    #[arg(long)]
    pub show_pod: bool,
    /// Also print the RFC 6902 JSON patch from the original pod to the mutated one.
    #[arg(long)]
    pub show_patch: bool,
    /// Ask the live cluster too: create the pod (a workload's from its template) with
    /// dryRun=All, so the API server runs the real webhook chain and stores nothing, and show
    /// what it did next to the prediction (verdict agreement, predicted vs actual mutated pod,
    /// the cause of a webhook failure). This is the only request meshdoctor ever sends that is
    /// not a read, and only with this flag; it needs permission to create pods.
    #[arg(long, conflicts_with = "from")]
    pub server_dry_run: bool,
}

/// `meshdoctor inject`: takes the inputs `istioctl kube-inject` takes (Istio) or those of
/// `linkerd inject --manual` (Linkerd: the install values and the version).
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  meshdoctor inject -f deploy.yaml --from snapshot.yaml             # the mesh the state has\n  meshdoctor inject -f deploy.yaml --mesh linkerd --linkerd-values values.yaml --linkerd-version edge-26.8.3\n  meshdoctor inject -f deploy.yaml --injectConfigFile inject-config.yaml --valuesFile values.json\n\nWithout --mesh, the mesh is the one the flags name (--linkerd-* or the Istio files), else the\none --from's state has an injector for; a state with both (or neither) is an error (exit 2)."
)]
pub struct InjectArgs {
    /// The manifest to inject (Pods, Deployments, StatefulSets, DaemonSets, ReplicaSets, Jobs,
    /// CronJobs, multi-document files and Lists).
    #[arg(short = 'f', long = "filename", value_name = "FILE")]
    pub filename: PathBuf,
    /// The injector ConfigMap's `config` key (or a bare template), as for istioctl kube-inject.
    #[arg(
        long = "injectConfigFile",
        alias = "inject-config-file",
        value_name = "FILE"
    )]
    pub inject_config_file: Option<PathBuf>,
    /// The injector ConfigMap's `values` key.
    #[arg(long = "valuesFile", alias = "values-file", value_name = "FILE")]
    pub values_file: Option<PathBuf>,
    /// The mesh ConfigMap's `mesh` key.
    #[arg(
        long = "meshConfigFile",
        alias = "mesh-config-file",
        value_name = "FILE"
    )]
    pub mesh_config_file: Option<PathBuf>,
    /// An IstioOperator whose spec.values and spec.meshConfig win over the files.
    #[arg(
        long = "operatorFileName",
        alias = "operator-file-name",
        value_name = "FILE"
    )]
    pub operator_file: Option<PathBuf>,
    /// The Istio revision to inject for.
    #[arg(long, default_value = "default")]
    pub revision: String,
    /// Without --injectConfigFile: read the injector and mesh ConfigMaps from this cluster state
    /// (Linkerd: the linkerd-config values, trust roots and injector version).
    #[arg(long = "from", value_name = "PATH")]
    pub from: Vec<PathBuf>,
    /// The mesh whose injection to render (default: the one the flags or the state name).
    #[arg(long, value_enum)]
    pub mesh: Option<InjectMesh>,
    /// Linkerd: the install values to render with (a values YAML like the chart's, as the
    /// linkerd-config ConfigMap's `values` key holds it), instead of --from.
    #[arg(long, value_name = "FILE", conflicts_with = "from")]
    pub linkerd_values: Option<PathBuf>,
    /// Linkerd: the version to render as (`edge-26.8.3`, `stable-2.14.10`, ...); it wins over
    /// the values' `linkerdVersion` and the version read from --from.
    #[arg(long, value_name = "VERSION")]
    pub linkerd_version: Option<String>,
    /// Linkerd: the control plane's namespace (default: the injector webhook's, else `linkerd`).
    #[arg(long, value_name = "NAMESPACE")]
    pub linkerd_namespace: Option<String>,
    /// Linkerd: only add `linkerd.io/inject: enabled` for the webhook, as `linkerd inject`
    /// without --manual does, instead of the proxy.
    #[arg(long)]
    pub annotate_only: bool,
    /// Linkerd: add the debug sidecar (`config.linkerd.io/enable-debug-sidecar`).
    #[arg(long)]
    pub enable_debug_sidecar: bool,
}

/// The meshes `meshdoctor inject` renders for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum InjectMesh {
    Istio,
    Linkerd,
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
    /// Also load the user-defined checks in this directory's YAML files (docs/user-checks.md).
    #[arg(long, value_name = "DIR")]
    pub checks_dir: Option<PathBuf>,
    /// A meshdoctor config file; its `checks:` list names more user-defined check files or
    /// directories, relative to the file (docs/user-checks.md).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Where to serve /metrics, /healthz, /readyz and /findings (HOST:PORT; ":9090" = every
    /// interface; port 0 picks a free port, printed on stderr).
    #[arg(long, value_name = "ADDR", default_value = ":9090")]
    pub metrics_addr: String,
    /// Path to the kubeconfig file (default: KUBECONFIG, then ~/.kube/config, then the
    /// in-cluster service account).
    #[arg(long, value_name = "PATH")]
    pub kubeconfig: Option<PathBuf>,
    /// The kubeconfig context to use (default: the current context).
    #[arg(long, value_name = "NAME")]
    pub context: Option<String>,
    /// How long changes are gathered before the checks run again.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "500ms")]
    pub debounce: std::time::Duration,
    /// Re-evaluate everything this often even without changes (certificates age; 0 = never).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "5m")]
    pub resync: std::time::Duration,
    /// Run only this check (repeatable).
    #[arg(long = "check", value_name = "ID")]
    pub only: Vec<String>,
    /// Do not run this check (repeatable).
    #[arg(long = "skip", value_name = "ID")]
    pub skip: Vec<String>,
    /// cert-expiry warns when a certificate expires within this many days.
    #[arg(long, value_name = "DAYS", default_value_t = 30)]
    pub cert_expiry_days: u32,
}

#[derive(Debug, Args)]
pub struct ChecksArgs {
    /// Print this check's documentation instead of the list.
    #[arg(value_name = "ID")]
    pub id: Option<String>,
    /// Print the whole catalog as Markdown (this is how docs/checks.md is generated).
    #[arg(long, conflicts_with = "id")]
    pub markdown: bool,
    /// Also load the user-defined checks in this directory's YAML files (docs/user-checks.md).
    #[arg(long, value_name = "DIR")]
    pub checks_dir: Option<PathBuf>,
    /// A meshdoctor config file; its `checks:` list names more user-defined check files or
    /// directories, relative to the file (docs/user-checks.md).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SnapshotFormat {
    Yaml,
    Json,
}

#[derive(Debug, Args)]
pub struct SnapshotArgs {
    #[command(flatten)]
    pub source: SourceArgs,
    /// Capture every namespace.
    #[arg(short = 'A', long, conflicts_with = "namespace")]
    pub all_namespaces: bool,
    /// Output format.
    #[arg(short = 'o', long, value_enum, default_value_t = SnapshotFormat::Yaml)]
    pub output: SnapshotFormat,
    /// Write to this file instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub output_file: Option<PathBuf>,
}

#[cfg(test)]
mod duration_tests {
    use super::parse_duration;
    use std::time::Duration;

    #[test]
    fn kubectl_durations() {
        assert_eq!(parse_duration("30"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("10x").is_err());
        assert!(parse_duration("").is_err());
    }
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
    /// Also run the user-defined checks in this directory's YAML files (docs/user-checks.md).
    #[arg(long, value_name = "DIR")]
    pub checks_dir: Option<PathBuf>,
    /// A meshdoctor config file whose `checks:` list names more user-defined checks.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Do not read a live cluster for context: use --from and the manifests only.
    #[arg(long)]
    pub offline: bool,
    /// Kubeconfig for the live context (default: KUBECONFIG, then ~/.kube/config).
    #[arg(long, value_name = "PATH", conflicts_with_all = ["offline", "from"])]
    pub kubeconfig: Option<PathBuf>,
    /// The kubeconfig context for the live context.
    #[arg(long, value_name = "NAME", conflicts_with_all = ["offline", "from"])]
    pub context: Option<String>,
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
