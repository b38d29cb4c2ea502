//! `istioctl kube-inject`: walks a manifest (multi-document YAML, `kind: List`), injects the
//! pod template of every Pod, Deployment, DaemonSet, ReplicaSet, StatefulSet, Job, CronJob,
//! ReplicationController and DeploymentConfig, copies every other document through byte for
//! byte, and reports Istio's skip messages (host networking, injection disabled).

use super::RenderError;
use super::config::{InjectorConfig, InjectorValues, MeshConfig};
use super::goyaml::{parse_yaml, to_yaml};
use super::injector::{DeployMeta, InjectContext, Injector, deploy_meta_from_pod};
use super::typed::normalize;
use crate::mesh::istio::version::{IstioVersion, RenderRules};
use serde_json::{Map, Value as Json, json};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The result of injecting a manifest.
#[derive(Debug, Clone, Default)]
pub struct KubeInjectOutput {
    /// The output manifest: every document followed by `---\n`, as istioctl writes it.
    pub text: String,
    /// The parsed output documents (non-workload documents as parsed from the input).
    pub documents: Vec<Json>,
    /// Istio's warnings (`===> Skipping injection because ...`), one per skipped workload.
    pub warnings: Vec<String>,
}

/// Errors of the kube-inject path; messages follow istioctl's where the CLI tests read them.
#[derive(Debug, thiserror::Error)]
pub enum KubeInjectError {
    /// No `-f`.
    #[error("filename not specified (see --filename or -f)")]
    FilenameNotSpecified,
    /// A file could not be read (Go's `open` wording).
    #[error("open {path}: {reason}")]
    Open {
        /// The path as given.
        path: String,
        /// The OS reason, lower case.
        reason: String,
    },
    /// Offline injection needs the injector config.
    #[error(
        "--injectConfigFile is required without a cluster (no injector ConfigMap or webhook is reachable offline)"
    )]
    NoInjectConfig,
    /// A document is not valid YAML.
    #[error("{file}: document {index}: {message}")]
    Yaml {
        /// Input file name.
        file: String,
        /// 1-based document number.
        index: usize,
        /// Parser message.
        message: String,
    },
    /// A workload has no pod template.
    #[error("{file}: document {index}: {kind} {name:?}: spec.template is required value")]
    NoTemplate {
        /// Input file name.
        file: String,
        /// 1-based document number.
        index: usize,
        /// Kind.
        kind: String,
        /// Name.
        name: String,
    },
    /// Rendering failed for a workload.
    #[error("{file}: document {index}: {kind} {name:?}: {source}")]
    Render {
        /// Input file name.
        file: String,
        /// 1-based document number.
        index: usize,
        /// Kind.
        kind: String,
        /// Name.
        name: String,
        /// The render error.
        #[source]
        source: Box<RenderError>,
    },
    /// A settings file could not be parsed.
    #[error("{path}: {source}")]
    Settings {
        /// The file.
        path: String,
        /// The parse error.
        #[source]
        source: Box<RenderError>,
    },
}

/// Splits a stream as the Kubernetes YAML reader does: a line starting with `---` followed
/// only by spaces or a comment ends a document; empty documents are skipped.
fn split_documents(input: &str) -> Vec<String> {
    let mut docs = Vec::new();
    let mut cur = String::new();
    for line in input.split_inclusive('\n') {
        let body = line.trim_end_matches(['\n', '\r']);
        let is_sep = body.starts_with("---") && {
            let rest = body.get(3..).unwrap_or("").trim_start_matches(' ');
            rest.is_empty() || rest.starts_with('#')
        };
        if is_sep {
            if !cur.is_empty() {
                docs.push(std::mem::take(&mut cur));
            }
            continue;
        }
        cur.push_str(line);
    }
    if !cur.is_empty() {
        docs.push(cur);
    }
    docs
}

/// Workload kinds kube-inject decodes (apiVersion, kind).
fn is_workload(api_version: &str, kind: &str) -> bool {
    matches!(
        (api_version, kind),
        // OpenShift's legacy API also serves DeploymentConfig in the core group.
        ("v1", "Pod" | "ReplicationController" | "DeploymentConfig")
            | (
                "apps/v1",
                "Deployment" | "DaemonSet" | "ReplicaSet" | "StatefulSet"
            )
            | ("batch/v1", "Job" | "CronJob")
            | ("apps.openshift.io/v1", "DeploymentConfig")
    )
}

fn str_at<'a>(v: &'a Json, ptr: &str) -> &'a str {
    v.pointer(ptr).and_then(Json::as_str).unwrap_or("")
}

/// Injects every workload of `input` (a manifest file's text) with kube-inject's settings:
/// revision as in `ctx`, default template `sidecar`, no aliases, policy enabled.
pub fn kube_inject(
    injector: &Injector,
    input: &str,
    file_name: &str,
    ctx: &InjectContext,
) -> Result<KubeInjectOutput, KubeInjectError> {
    let mut out = KubeInjectOutput::default();
    for (i, raw) in split_documents(input).into_iter().enumerate() {
        let index = i + 1;
        let parsed = parse_yaml(&raw).map_err(|message| KubeInjectError::Yaml {
            file: file_name.into(),
            index,
            message,
        })?;
        let api = str_at(&parsed, "/apiVersion").to_string();
        let kind = str_at(&parsed, "/kind").to_string();
        if api == "v1" && kind == "List" {
            let mut list = parsed.clone();
            let items = list
                .get("items")
                .and_then(Json::as_array)
                .cloned()
                .unwrap_or_default();
            let mut new_items = Vec::with_capacity(items.len());
            for item in items {
                let ia = str_at(&item, "/apiVersion").to_string();
                let ik = str_at(&item, "/kind").to_string();
                if is_workload(&ia, &ik) {
                    new_items.push(inject_object(
                        injector,
                        item,
                        file_name,
                        index,
                        ctx,
                        &mut out.warnings,
                    )?);
                } else {
                    new_items.push(item);
                }
            }
            if let Some(obj) = list.as_object_mut() {
                obj.insert("items".into(), Json::Array(new_items));
                obj.entry("metadata").or_insert_with(|| json!({}));
            }
            out.text.push_str(&to_yaml(&list));
            out.documents.push(list);
        } else if is_workload(&api, &kind) {
            let obj = inject_object(injector, parsed, file_name, index, ctx, &mut out.warnings)?;
            out.text.push_str(&to_yaml(&obj));
            out.documents.push(obj);
        } else {
            out.text.push_str(&raw);
            out.documents.push(parsed);
        }
        out.text.push_str("---\n");
    }
    Ok(out)
}

/// Where the pod template's metadata and spec live in each kind.
fn template_path(kind: &str) -> &'static str {
    match kind {
        "Pod" => "",
        "CronJob" => "/spec/jobTemplate/spec/template",
        _ => "/spec/template",
    }
}

/// kube-inject's own `injectRequired` (policy enabled, no selectors), 1.12–1.26 parsing.
fn inject_required(meta: &Json) -> bool {
    let ns = str_at(meta, "/namespace");
    if matches!(
        ns,
        "kube-system" | "kube-public" | "kube-node-lease" | "local-path-storage"
    ) {
        return false;
    }
    let mut v = str_at(meta, "/annotations/sidecar.istio.io~1inject");
    if let Some(l) = meta
        .pointer("/labels/sidecar.istio.io~1inject")
        .and_then(Json::as_str)
    {
        v = l;
    }
    matches!(
        v.to_ascii_lowercase().as_str(),
        "" | "y" | "yes" | "true" | "on"
    )
}

fn inject_object(
    injector: &Injector,
    mut obj: Json,
    file: &str,
    index: usize,
    ctx: &InjectContext,
    warnings: &mut Vec<String>,
) -> Result<Json, KubeInjectError> {
    let kind = str_at(&obj, "/kind").to_string();
    let api = str_at(&obj, "/apiVersion").to_string();
    let obj_name = str_at(&obj, "/metadata/name").to_string();
    let obj_ns = str_at(&obj, "/metadata/namespace").to_string();
    let path = template_path(&kind);
    let Some(template) = obj.pointer(path).cloned().filter(Json::is_object) else {
        return Err(KubeInjectError::NoTemplate {
            file: file.into(),
            index,
            kind,
            name: obj_name,
        });
    };
    let meta_path = if kind == "CronJob" {
        "/spec/jobTemplate/metadata".to_string()
    } else {
        format!("{path}/metadata")
    };
    let metadata = obj
        .pointer(&meta_path)
        .cloned()
        .unwrap_or_else(|| json!({}));
    let spec = template.get("spec").cloned().unwrap_or_else(|| json!({}));
    let pod = json!({"metadata": metadata, "spec": spec});

    let deploy = if kind == "Pod" {
        deploy_meta_from_pod(&obj)
    } else {
        DeployMeta {
            name: obj_name.clone(),
            namespace: obj_ns.clone(),
            kind: kind.clone(),
            api_version: api.clone(),
        }
    };
    let name = match str_at(&pod, "/metadata/name") {
        "" => deploy.name.clone(),
        n => n.to_string(),
    };
    let full_name = if deploy.namespace.is_empty() {
        name
    } else {
        format!("{}/{}", deploy.namespace, name)
    };
    let kind_prefix = if deploy.kind.is_empty() {
        String::new()
    } else {
        format!("{} ", deploy.kind)
    };

    let host_network = pod
        .pointer("/spec/hostNetwork")
        .and_then(Json::as_bool)
        .unwrap_or(false);
    let skip = if host_network {
        Some("has host networking enabled")
    } else if !inject_required(&pod["metadata"]) {
        Some("has sidecar injection disabled")
    } else {
        None
    };
    if let Some(reason) = skip {
        warnings.push(format!(
            "===> Skipping injection because {kind_prefix}{full_name:?} {reason}\n"
        ));
        normalize(&mut obj);
        add_typed_extras(&mut obj, &kind, ctx.render_rules());
        return Ok(obj);
    }

    let kube_ctx = InjectContext {
        revision: ctx.revision.clone(),
        env: ctx.env.clone(),
        proxy_uid: ctx.proxy_uid,
        proxy_gid: ctx.proxy_gid,
        proxy_envs: BTreeMap::new(),
        compliance_policy: ctx.compliance_policy.clone(),
        request_namespace: String::new(),
        openshift: false,
        istio_version: ctx.istio_version,
        native_sidecars: ctx.native_sidecars,
    };
    let mutated = injector
        .inject_kube(&pod, &deploy, &kube_ctx)
        .map_err(|source| KubeInjectError::Render {
            file: file.into(),
            index,
            kind: kind.clone(),
            name: obj_name.clone(),
            source: Box::new(source),
        })?;
    let meta_parent = meta_path.strip_suffix("/metadata").unwrap_or("");
    if let Some(t) = obj.pointer_mut(meta_parent).and_then(Json::as_object_mut) {
        t.insert(
            "metadata".into(),
            mutated
                .get("metadata")
                .cloned()
                .unwrap_or_else(|| json!({})),
        );
    }
    if let Some(t) = obj.pointer_mut(path).and_then(Json::as_object_mut) {
        t.insert(
            "spec".into(),
            mutated.get("spec").cloned().unwrap_or_else(|| json!({})),
        );
    }
    normalize(&mut obj);
    add_typed_extras(&mut obj, &kind, ctx.render_rules());
    Ok(obj)
}

/// Fields Go's typed encoding always writes for each kind (`creationTimestamp: null` before
/// Istio 1.28, `status: {}`, `strategy: {}`, zero status counters). From 1.28 on, a null
/// `creationTimestamp` is not written at all, even when the input has one.
fn add_typed_extras(obj: &mut Json, kind: &str, rules: RenderRules) {
    fn set_default(obj: &mut Json, ptr: &str, key: &str, v: Json) {
        if let Some(Json::Object(m)) = obj.pointer_mut(ptr) {
            m.entry(key.to_string()).or_insert(v);
        }
    }
    fn ensure_obj(obj: &mut Json, ptr: &str, key: &str) {
        set_default(obj, ptr, key, Json::Object(Map::new()));
    }
    // Every ObjectMeta Go re-encodes: the object's, the pod template's, a CronJob's job template's.
    let tp = template_path(kind);
    let mut metas = vec![("", "/metadata".to_string())];
    if !tp.is_empty() {
        metas.push((tp, format!("{tp}/metadata")));
    }
    if kind == "CronJob" {
        metas.push((
            "/spec/jobTemplate",
            "/spec/jobTemplate/metadata".to_string(),
        ));
    }
    for (parent, meta) in &metas {
        ensure_obj(obj, parent, "metadata");
        if rules.null_creation_timestamp {
            set_default(obj, meta, "creationTimestamp", Json::Null);
        } else if let Some(Json::Object(m)) = obj.pointer_mut(meta)
            && m.get("creationTimestamp") == Some(&Json::Null)
        {
            m.remove("creationTimestamp");
        }
    }
    let status = match kind {
        "StatefulSet" => json!({"availableReplicas": 0, "replicas": 0}),
        "DaemonSet" => json!({"currentNumberScheduled": 0, "desiredNumberScheduled": 0,
                              "numberMisscheduled": 0, "numberReady": 0}),
        "ReplicaSet" | "ReplicationController" => json!({"replicas": 0}),
        "DeploymentConfig" => json!({"availableReplicas": 0, "latestVersion": 0,
            "observedGeneration": 0, "replicas": 0, "unavailableReplicas": 0, "updatedReplicas": 0}),
        _ => json!({}),
    };
    set_default(obj, "", "status", status);
    match kind {
        "Deployment" => ensure_obj(obj, "/spec", "strategy"),
        "StatefulSet" | "DaemonSet" => ensure_obj(obj, "/spec", "updateStrategy"),
        "DeploymentConfig" => {
            ensure_obj(obj, "/spec", "strategy");
            ensure_obj(obj, "/spec/strategy", "resources");
            set_default(obj, "/spec", "test", Json::Bool(false));
        }
        _ => {}
    }
}

/// Everything `istioctl kube-inject` reads from its flags, as paths.
#[derive(Debug, Clone, Default)]
pub struct KubeInjectOptions {
    /// `-f/--filename` (the last one given).
    pub filename: Option<PathBuf>,
    /// `--injectConfigFile`: the injector ConfigMap's `config` key, or a bare template.
    pub inject_config_file: Option<PathBuf>,
    /// `--valuesFile`: the `values` key.
    pub values_file: Option<PathBuf>,
    /// `--meshConfigFile`: the `mesh` key.
    pub mesh_config_file: Option<PathBuf>,
    /// `--operatorFileName`: an IstioOperator whose `spec.values`/`spec.meshConfig` win.
    pub operator_file: Option<PathBuf>,
    /// `--revision` (`default` is treated as empty).
    pub revision: String,
    /// Environment for the templates (`None`: the process environment).
    pub env: Option<BTreeMap<String, String>>,
    /// The istioctl/istiod version to emulate (`None`: [`InjectContext::istio_version`]'s default).
    pub istio_version: Option<IstioVersion>,
}

fn read(path: &Path) -> Result<String, KubeInjectError> {
    std::fs::read_to_string(path).map_err(|e| KubeInjectError::Open {
        path: path.display().to_string(),
        reason: match e.kind() {
            std::io::ErrorKind::NotFound => "no such file or directory".into(),
            std::io::ErrorKind::PermissionDenied => "permission denied".into(),
            _ => e.to_string().to_lowercase(),
        },
    })
}

fn settings_err(path: &Path) -> impl Fn(RenderError) -> KubeInjectError + '_ {
    move |source| KubeInjectError::Settings {
        path: path.display().to_string(),
        source: Box::new(source),
    }
}

/// Runs kube-inject from files, resolving settings in istioctl's order (IOP values and mesh
/// win over `--valuesFile`/`--meshConfigFile`).
pub fn run_kube_inject(opts: &KubeInjectOptions) -> Result<KubeInjectOutput, KubeInjectError> {
    let Some(file) = &opts.filename else {
        return Err(KubeInjectError::FilenameNotSpecified);
    };
    let input = read(file)?;
    let mut iop_values: Option<Json> = None;
    let mut iop_mesh: Option<Json> = None;
    if let Some(iop) = &opts.operator_file {
        let text = read(iop)?;
        let v = parse_yaml(&text).map_err(|message| {
            settings_err(iop)(RenderError::Config {
                what: "istio operator".into(),
                message,
            })
        })?;
        iop_values = v.pointer("/spec/values").cloned().filter(|v| !v.is_null());
        iop_mesh = v
            .pointer("/spec/meshConfig")
            .cloned()
            .filter(|v| !v.is_null());
    }
    let mesh = match (&iop_mesh, &opts.mesh_config_file) {
        (Some(m), _) => MeshConfig::parse(&to_yaml(m)).map_err(settings_err(file))?,
        (None, Some(p)) => MeshConfig::parse(&read(p)?).map_err(settings_err(p))?,
        (None, None) => MeshConfig::default(),
    };
    let Some(cfg_path) = &opts.inject_config_file else {
        return Err(KubeInjectError::NoInjectConfig);
    };
    let config = InjectorConfig::parse_kube_inject(&read(cfg_path)?);
    let values = match (&iop_values, &opts.values_file) {
        (Some(v), _) => InjectorValues { raw: v.clone() },
        (None, Some(p)) => InjectorValues::parse(&read(p)?).map_err(settings_err(p))?,
        (None, None) => InjectorValues::default(),
    };
    let injector = Injector::new(config, values, mesh).map_err(settings_err(cfg_path))?;
    let revision = if opts.revision == "default" {
        String::new()
    } else {
        opts.revision.clone()
    };
    let ctx = InjectContext {
        revision,
        env: opts.env.clone(),
        istio_version: opts.istio_version,
        ..Default::default()
    };
    kube_inject(&injector, &input, &file.display().to_string(), &ctx)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_split_like_the_kubernetes_reader() {
        let docs = split_documents("a: 1\n---\n--- # c\nb: 2\n---x\n");
        assert_eq!(docs, vec!["a: 1\n".to_string(), "b: 2\n---x\n".to_string()]);
    }

    #[test]
    fn skip_messages() {
        let inj = Injector::from_configmaps("templates:\n  sidecar: 'spec: {}'\n", "{}", None);
        let Ok(inj) = inj else { panic!("injector") };
        let input = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: h\n  namespace: s\nspec:\n  template:\n    spec:\n      hostNetwork: true\n";
        let out = kube_inject(&inj, input, "f.yaml", &InjectContext::default());
        let Ok(out) = out else { panic!("kube-inject") };
        assert_eq!(
            out.warnings,
            vec![
                "===> Skipping injection because Deployment \"s/h\" has host networking enabled\n"
                    .to_string()
            ]
        );
        let input = "kind: Service\napiVersion: v1\nmetadata:\n  name: x\n";
        let out = kube_inject(&inj, input, "f.yaml", &InjectContext::default());
        assert_eq!(out.ok().map(|o| o.text), Some(format!("{input}---\n")));
    }

    #[test]
    fn missing_filename() {
        let e = run_kube_inject(&KubeInjectOptions::default()).err();
        assert_eq!(
            e.map(|e| e.to_string()).as_deref(),
            Some("filename not specified (see --filename or -f)")
        );
    }
}
