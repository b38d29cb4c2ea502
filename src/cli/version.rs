//! `meshdoctor version`: meshdoctor's own version, the Istio and Linkerd releases whose rules
//! and renders it knows, and the versions found in the cluster (or in `--from` files): the API
//! server, each Istio revision's istiod, each Linkerd control plane.
//!
//! As `kubectl version` does, it answers without a cluster: meshdoctor's part is always
//! printed, the cluster part says why it is missing, and the exit code is 0. What the user
//! typed wrong (`--from` that does not load, a `--kubeconfig` or `--context` that does not
//! work) is still an error (exit 2).

use std::collections::BTreeSet;

use serde::Serialize;

use super::Failure;
use super::args::{ExplainFormat, GlobalArgs, SourceArgs, VersionArgs};
use super::common::Wants;
use crate::mesh::istio::install::DEFAULT_NAMESPACE as ISTIO_NAMESPACE;
use crate::mesh::versions::{
    IstioControlPlane, IstioKnown, LinkerdControlPlane, LinkerdKnown, istio_control_planes,
    istio_known, linkerd_control_planes, linkerd_known,
};
use crate::state::{ClusterState, Kind};

/// What `meshdoctor version -o json` prints (docs/version.md).
#[derive(Debug, Clone, Serialize)]
pub struct VersionReport {
    pub meshdoctor: Own,
    pub istio: IstioKnown,
    pub linkerd: LinkerdKnown,
    /// `None` with `--client`.
    pub cluster: Option<ClusterVersions>,
}

/// meshdoctor itself.
#[derive(Debug, Clone, Serialize)]
pub struct Own {
    pub version: String,
    /// The commit it was built from, when the build set `MESHDOCTOR_GIT_COMMIT`.
    pub commit: Option<String>,
}

/// What was found in the cluster or the files.
#[derive(Debug, Clone, Serialize)]
pub struct ClusterVersions {
    /// Where the state came from (`live: https://… (context dev)`, the files).
    pub source: String,
    /// Why the cluster could not be read; `None` when it was.
    pub unavailable: Option<String>,
    pub api_server: ApiServer,
    pub istio: Vec<IstioControlPlane>,
    pub linkerd: Vec<LinkerdControlPlane>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ApiServer {
    /// `gitVersion` (`v1.32.0`), or `None` when unknown.
    pub version: Option<String>,
    /// Where it was read, or why it is unknown.
    pub from: String,
}

/// What the cluster part reads: the webhook configurations (where the control planes are),
/// and in the mesh namespaces the ConfigMaps, Deployments and pods that carry versions.
const KINDS: [Kind; 4] = [
    Kind::MutatingWebhookConfiguration,
    Kind::ConfigMap,
    Kind::Deployment,
    Kind::Pod,
];

pub fn run(global: &GlobalArgs, args: &VersionArgs) -> Result<(), Failure> {
    let cluster = if args.client {
        None
    } else {
        let progress = super::common::progress_allowed(global, args.output != ExplainFormat::Table);
        Some(cluster_versions(args, progress)?)
    };
    let report = VersionReport {
        meshdoctor: Own {
            version: env!("CARGO_PKG_VERSION").to_owned(),
            commit: option_env!("MESHDOCTOR_GIT_COMMIT")
                .filter(|c| !c.is_empty())
                .map(str::to_owned),
        },
        istio: istio_known(),
        linkerd: linkerd_known(),
        cluster,
    };
    let text = match args.output {
        ExplainFormat::Table => table(&report),
        ExplainFormat::Json => crate::report::to_json(&report),
        ExplainFormat::Yaml => crate::report::to_yaml(&report),
    };
    super::common::print(&text);
    Ok(())
}

fn cluster_versions(args: &VersionArgs, progress: bool) -> Result<ClusterVersions, Failure> {
    let offline = !args.from.is_empty();
    let source = SourceArgs {
        from: args.from.clone(),
        // Live, the scan's namespace is the one istiod usually runs in; the mesh namespaces
        // the webhooks name are read as well.
        namespace: (!offline).then(|| ISTIO_NAMESPACE.to_owned()),
        kubeconfig: args.kubeconfig.clone(),
        context: args.context.clone(),
        request_timeout: args.request_timeout,
    };
    let wants = Wants::Kinds {
        kinds: KINDS.into_iter().collect::<BTreeSet<_>>(),
        all_namespaces: false,
    };
    let explicit = args.kubeconfig.is_some() || args.context.is_some();
    match super::common::load_state(&source, wants, progress) {
        Ok(loaded) => Ok(found(&loaded.state, offline)),
        Err(Failure::Unreachable(why)) => Ok(unavailable(why)),
        // No kubeconfig at all is the environment, not a mistake in the command line.
        Err(Failure::Usage(why)) if !offline && !explicit => Ok(unavailable(why)),
        Err(e) => Err(e),
    }
}

fn found(state: &ClusterState, offline: bool) -> ClusterVersions {
    let from = match (&state.server_version, offline) {
        (Some(_), false) => "GET /version".to_owned(),
        (Some(_), true) => format!(
            "the snapshot's {} record",
            crate::source::snapshot::SERVER_VERSION
        ),
        (None, false) => "unknown: GET /version did not answer".to_owned(),
        (None, true) => {
            "unknown: the files do not record it (a snapshot taken live by meshdoctor does)"
                .to_owned()
        }
    };
    ClusterVersions {
        source: state.sources.join(", "),
        unavailable: None,
        api_server: ApiServer {
            version: state.server_version.clone(),
            from,
        },
        istio: istio_control_planes(state),
        linkerd: linkerd_control_planes(state),
    }
}

fn unavailable(why: String) -> ClusterVersions {
    ClusterVersions {
        source: "the cluster of the kubeconfig".to_owned(),
        unavailable: Some(why),
        api_server: ApiServer {
            version: None,
            from: "unknown: the cluster could not be read".to_owned(),
        },
        istio: Vec::new(),
        linkerd: Vec::new(),
    }
}

/// `name  value` lines; continuation lines are indented under the value.
fn table(r: &VersionReport) -> String {
    let mut rows: Vec<(&str, String)> = Vec::new();
    let own = match &r.meshdoctor.commit {
        Some(c) => format!("{} (commit {c})", r.meshdoctor.version),
        None => r.meshdoctor.version.clone(),
    };
    rows.push(("meshdoctor", own));
    rows.push((
        "Istio",
        format!(
            "decision rules up to {} (unknown versions get {} rules); render checked against {}",
            r.istio.newest_known,
            r.istio.assumed_when_unknown,
            r.istio.render_conformance.join(", ")
        ),
    ));
    for era in &r.istio.rule_eras {
        rows.push(("", era.description.clone()));
    }
    rows.push((
        "Linkerd",
        format!("decision and render modelled on {}", r.linkerd.modelled_on),
    ));
    let mut out = lines(&rows);
    let Some(c) = &r.cluster else {
        return out;
    };
    out.push('\n');
    let mut rows: Vec<(&str, String)> = Vec::new();
    if let Some(why) = &c.unavailable {
        rows.push(("Cluster", format!("unavailable: {why}")));
        out.push_str(&lines(&rows));
        return out;
    }
    rows.push(("Cluster", c.source.clone()));
    rows.push((
        "API server",
        match &c.api_server.version {
            Some(v) => format!("{v} ({})", c.api_server.from),
            None => c.api_server.from.clone(),
        },
    ));
    if c.istio.is_empty() {
        rows.push(("Istio", "no injector webhook or ConfigMap found".to_owned()));
    }
    for (i, p) in c.istio.iter().enumerate() {
        let tags = if p.tags.is_empty() {
            String::new()
        } else {
            format!(" (tags {})", p.tags.join(", "))
        };
        let version = p.version.as_deref().unwrap_or("unknown");
        rows.push((
            if i == 0 { "Istio" } else { "" },
            format!("revision {}{tags}: {version} ({})", p.revision, p.from),
        ));
    }
    if c.linkerd.is_empty() {
        rows.push((
            "Linkerd",
            "no injector webhook or linkerd-config found".to_owned(),
        ));
    }
    for (i, p) in c.linkerd.iter().enumerate() {
        let version = p.version.as_deref().unwrap_or("unknown");
        rows.push((
            if i == 0 { "Linkerd" } else { "" },
            format!("{}: {version} ({})", p.namespace, p.from),
        ));
    }
    out.push_str(&lines(&rows));
    out
}

fn lines(rows: &[(&str, String)]) -> String {
    const WIDTH: usize = 12;
    rows.iter()
        .map(|(name, value)| format!("{name:<WIDTH$}{value}\n"))
        .collect()
}
