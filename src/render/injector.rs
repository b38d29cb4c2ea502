//! The injector: templates parsed once, then per pod `RunTemplate` (annotation validation,
//! proxy config, stripping, template data, render, strategic merge) and the post-processing
//! of `injectPod`, in Istio 1.24's order.
//!
//! Everything that depends only on the configuration is built once per [`Injector`] (parsed
//! templates, `.Values`, the default ProxyConfig and its template values, `toYaml` of
//! `.Values` subtrees); a render copies no configuration, reads the rendered YAML with the
//! fast subset reader, and merges by moving values (`benches/render.rs` measures it).

use super::RenderError;
use super::config::{
    InjectorConfig, InjectorValues, MeshConfig, merge_proxy_config, parse_proxy_config_annotation,
    proxy_image,
};
use super::data::{ConfigValues, DataInputs, build, config_values, plain_value};
use super::goyaml::parse_rendered_yaml;
use super::postprocess::{
    PROXY, PostParams, annotations, has_container, labels, move_proxy_to_init, post_process,
    reapply_overwritten, reinsert_overrides, strip_pod,
};
use super::smp::strategic_merge_owned;
use super::template::{CompiledTemplate, SharedResults};
use super::typed::normalize;
use super::validate::validate_annotations;
use crate::mesh::istio::version::{IstioVersion, RenderRules, VersionInfo};
use gotmpl::Value;
use serde_json::{Map, Value as Json};
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Per-request settings that are not part of the injector configuration.
#[derive(Debug, Clone, Default)]
pub struct InjectContext {
    /// The webhook's revision (`""` renders as `default`).
    pub revision: String,
    /// Environment seen by the template function `env` and by Istio's
    /// `ENABLE_NATIVE_SIDECARS` feature flag. `None` reads the process environment.
    pub env: Option<BTreeMap<String, String>>,
    /// Proxy UID (1337 unless OpenShift assigns a range).
    pub proxy_uid: Option<i64>,
    /// Proxy GID (1337 unless OpenShift assigns a range).
    pub proxy_gid: Option<i64>,
    /// Env overrides from the webhook URL path (`/inject/cluster/c1/net/n1`).
    pub proxy_envs: BTreeMap<String, String>,
    /// `COMPLIANCE_POLICY` of istiod (e.g. `fips-140-3`).
    pub compliance_policy: String,
    /// The admission request's namespace, used when the pod has none.
    pub request_namespace: String,
    /// istiod runs on OpenShift (`PLATFORM=openshift`): a user `istio-proxy` whose
    /// `runAsUser` equals an app container's loses its `runAsUser`/`runAsGroup`, so the
    /// namespace's UID range applies.
    pub openshift: bool,
    /// The Istio version whose injector code is emulated ([`RenderRules`]); `None` applies
    /// the rules of the version assumed when none is known ([`VersionInfo::ASSUMED`]).
    pub istio_version: Option<IstioVersion>,
    /// istiod's native-sidecar decision for this pod before its annotation (the templates'
    /// `.NativeSidecars`), as `mesh::istio::native` makes it from the cluster; `None` reads
    /// `ENABLE_NATIVE_SIDECARS` from `env` (only `true` is on, as for kube-inject).
    pub native_sidecars: Option<bool>,
}

impl InjectContext {
    /// The version-dependent behaviour of this render.
    pub fn render_rules(&self) -> RenderRules {
        self.istio_version
            .unwrap_or(VersionInfo::ASSUMED)
            .render_rules()
    }

    fn env_var(&self, key: &str) -> String {
        match &self.env {
            Some(m) => m.get(key).cloned().unwrap_or_default(),
            None => std::env::var(key).unwrap_or_default(),
        }
    }
}

/// Workload identity used by the templates (`.DeploymentMeta`, `.TypeMeta`).
#[derive(Debug, Clone, Default)]
pub struct DeployMeta {
    /// Workload name.
    pub name: String,
    /// Workload namespace.
    pub namespace: String,
    /// Kind (e.g. `Deployment`).
    pub kind: String,
    /// apiVersion (e.g. `apps/v1`).
    pub api_version: String,
}

/// An Istio sidecar injector: configuration plus parsed templates.
pub struct Injector {
    config: InjectorConfig,
    values: InjectorValues,
    values_value: Value,
    mesh: MeshConfig,
    /// The mesh's `defaultConfig`, shared by every render without a ProxyConfig annotation.
    default_proxy_config: Arc<Json>,
    /// `.ProxyConfig` and `.MeshConfig` template values for `default_proxy_config`.
    default_config_values: ConfigValues,
    /// Function results that depend only on the configuration.
    shared: Arc<SharedResults>,
    templates: BTreeMap<String, CompiledTemplate>,
}

impl std::fmt::Debug for Injector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Injector")
            .field("templates", &self.templates.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

/// `GetDeployMetaFromPod`: the owning workload as Istio guesses it from owner references.
pub fn deploy_meta_from_pod(pod: &Json) -> DeployMeta {
    let meta = pod.get("metadata").cloned().unwrap_or(Json::Null);
    let s = |v: Option<&Json>| v.and_then(Json::as_str).unwrap_or("").to_string();
    let mut dm = DeployMeta {
        name: s(meta.get("name")),
        namespace: s(meta.get("namespace")),
        kind: "Pod".into(),
        api_version: "v1".into(),
    };
    if !s(meta.get("generateName")).is_empty()
        && let Some(owner) = meta
            .get("ownerReferences")
            .and_then(Json::as_array)
            .and_then(|o| {
                o.iter()
                    .find(|r| r.get("controller").and_then(Json::as_bool) == Some(true))
            })
    {
        dm.api_version = s(owner.get("apiVersion"));
        dm.kind = s(owner.get("kind"));
        dm.name = s(owner.get("name"));
        let pod_labels = meta.get("labels");
        let label = |k: &str| s(pod_labels.and_then(|l| l.get(k)));
        let hash = label("pod-template-hash");
        if dm.kind == "ReplicaSet" && !hash.is_empty() && dm.name.ends_with(&hash) {
            dm.name = dm
                .name
                .strip_suffix(&format!("-{hash}"))
                .unwrap_or(&dm.name)
                .to_string();
            dm.kind = "Deployment".into();
        } else if dm.kind == "ReplicationController" && !label("deploymentconfig").is_empty() {
            dm.name = label("deploymentconfig");
            dm.kind = "DeploymentConfig".into();
        } else if dm.kind == "Job"
            && let Some(base) = cron_job_base(&dm.name)
        {
            dm.name = base;
            dm.kind = "CronJob".into();
            dm.api_version = "batch/v1".into();
        }
    }
    if dm.name.is_empty() {
        dm.name = s(meta.get("name"));
    }
    dm
}

/// OpenShift: the user's `istio-proxy` copying an app container's `runAsUser` would pin the
/// sidecar to the app's UID; Istio clears it so the namespace range applies.
fn clear_matching_proxy_user(pod: &mut Json) {
    let Some(cs) = pod
        .pointer_mut("/spec/containers")
        .and_then(Json::as_array_mut)
    else {
        return;
    };
    let app_users: Vec<i64> = cs
        .iter()
        .filter(|c| c.get("name").and_then(Json::as_str) != Some(PROXY))
        .filter_map(|c| {
            c.pointer("/securityContext/runAsUser")
                .and_then(Json::as_i64)
        })
        .collect();
    for c in cs.iter_mut() {
        if c.get("name").and_then(Json::as_str) != Some(PROXY) {
            continue;
        }
        let Some(sc) = c.get_mut("securityContext").and_then(Json::as_object_mut) else {
            continue;
        };
        if sc
            .get("runAsUser")
            .and_then(Json::as_i64)
            .is_some_and(|u| app_users.contains(&u))
        {
            sc.remove("runAsUser");
            sc.remove("runAsGroup");
        }
    }
}

/// The pod lists whose element names are all that is read from the template pod (the
/// `sidecar.istio.io/status` annotation, overwritten containers, native sidecars).
const NAMED_LISTS: [&str; 4] = [
    "containers",
    "initContainers",
    "volumes",
    "imagePullSecrets",
];

/// The part of a rendered template that decides the template pod's [`NAMED_LISTS`] under a
/// strategic merge: root and `spec` directives, and those lists with each element reduced
/// to its merge key (`name`) and directives. Merging these instead of whole copies of the
/// rendered templates yields the same names in the same order at a fraction of the cost.
fn list_skeleton(overlay: &Json) -> Json {
    let Json::Object(root) = overlay else {
        return overlay.clone();
    };
    let names_only = |list: &Json| match list {
        Json::Array(items) => Json::Array(
            items
                .iter()
                .map(|item| match item {
                    Json::Object(m) => Json::Object(
                        m.iter()
                            .filter(|(k, _)| k.as_str() == "name" || k.starts_with('$'))
                            .map(|(k, v)| (k.clone(), v.clone()))
                            .collect(),
                    ),
                    other => other.clone(),
                })
                .collect(),
        ),
        other => other.clone(),
    };
    let mut out = Map::new();
    for (k, v) in root {
        if k.starts_with('$') {
            out.insert(k.clone(), v.clone());
        } else if k == "spec" {
            let spec = match v {
                Json::Object(spec) => Json::Object(
                    spec.iter()
                        .filter(|(sk, _)| sk.starts_with('$') || NAMED_LISTS.contains(&sk.as_str()))
                        .map(|(sk, sv)| {
                            let sv = if sk.starts_with('$') {
                                sv.clone()
                            } else {
                                names_only(sv)
                            };
                            (sk.clone(), sv)
                        })
                        .collect(),
                ),
                other => other.clone(),
            };
            out.insert(k.clone(), spec);
        }
    }
    Json::Object(out)
}

/// `(.+)-\d{8,10}$` → the first group.
fn cron_job_base(name: &str) -> Option<String> {
    let (base, digits) = name.rsplit_once('-')?;
    if !base.is_empty()
        && (8..=10).contains(&digits.len())
        && digits.bytes().all(|b| b.is_ascii_digit())
    {
        Some(base.to_string())
    } else {
        None
    }
}

impl Injector {
    /// Parses every template of `config` once.
    pub fn new(
        config: InjectorConfig,
        values: InjectorValues,
        mesh: MeshConfig,
    ) -> Result<Self, RenderError> {
        let mut templates = BTreeMap::new();
        for (name, src) in &config.templates {
            templates.insert(name.clone(), CompiledTemplate::parse(name, src)?);
        }
        let values_value = plain_value(&values.raw, true);
        let default_proxy_config = Arc::new(mesh.default_config());
        let default_config_values = config_values(&default_proxy_config, &mesh.json);
        let shared = Arc::new(SharedResults::new(
            Arc::clone(&default_proxy_config),
            &values_value,
        ));
        Ok(Self {
            config,
            values,
            values_value,
            mesh,
            default_proxy_config,
            default_config_values,
            shared,
            templates,
        })
    }

    /// Builds an injector from the ConfigMap texts: the injector ConfigMap's `config` and
    /// `values` keys and the mesh ConfigMap's `mesh` key (`None`: Istio's defaults).
    pub fn from_configmaps(
        config: &str,
        values: &str,
        mesh: Option<&str>,
    ) -> Result<Self, RenderError> {
        let config = InjectorConfig::parse(config)?;
        let values = InjectorValues::parse(values)?;
        let mesh = match mesh {
            Some(m) => MeshConfig::parse(m)?,
            None => MeshConfig::default(),
        };
        Self::new(config, values, mesh)
    }

    /// The configuration in use.
    pub fn config(&self) -> &InjectorConfig {
        &self.config
    }

    /// The mesh configuration in use.
    pub fn mesh(&self) -> &MeshConfig {
        &self.mesh
    }

    /// The mutating webhook path: returns the mutated pod for `pod` (Pod JSON). Does not
    /// decide whether to inject.
    pub fn inject_pod(&self, pod: &Json, ctx: &InjectContext) -> Result<Json, RenderError> {
        let mut pod = pod.clone();
        if let Some(meta) = pod.get_mut("metadata").and_then(Json::as_object_mut) {
            meta.remove("managedFields");
            let ns_empty = meta
                .get("namespace")
                .and_then(Json::as_str)
                .is_none_or(str::is_empty);
            if ns_empty && !ctx.request_namespace.is_empty() {
                meta.insert(
                    "namespace".into(),
                    Json::String(ctx.request_namespace.clone()),
                );
            }
        }
        if ctx.openshift {
            clear_matching_proxy_user(&mut pod);
        }
        let deploy = deploy_meta_from_pod(&pod);
        self.inject_with(&pod, &deploy, ctx, false)
    }

    /// The kube-inject path: default template `sidecar`, no aliases, no injected annotations.
    pub(crate) fn inject_kube(
        &self,
        pod: &Json,
        deploy: &DeployMeta,
        ctx: &InjectContext,
    ) -> Result<Json, RenderError> {
        self.inject_with(pod, deploy, ctx, true)
    }

    /// `injectPod` with an explicit workload identity and default template list.
    pub(crate) fn inject_with(
        &self,
        pod: &Json,
        deploy: &DeployMeta,
        ctx: &InjectContext,
        kube: bool,
    ) -> Result<Json, RenderError> {
        let sidecar_only = ["sidecar".to_string()];
        let default_templates: &[String] = if kube {
            &sidecar_only
        } else {
            &self.config.default_templates
        };
        let no_annotations = BTreeMap::new();
        let annos = annotations(pod);
        validate_annotations(&annos).map_err(RenderError::InvalidAnnotations)?;

        // Effective ProxyConfig: mesh defaultConfig < proxy.istio.io/config annotation.
        // Both are shared with the Injector unless the annotation changes them.
        let mut proxy_config = Arc::clone(&self.default_proxy_config);
        let mut mesh_json = Cow::Borrowed(&self.mesh.json);
        if let Some(text) = annos.get("proxy.istio.io/config").and_then(Json::as_str) {
            let overlay =
                parse_proxy_config_annotation(text).map_err(|e| RenderError::Annotation {
                    annotation: "proxy.istio.io/config".into(),
                    message: e,
                })?;
            proxy_config = Arc::new(merge_proxy_config(&proxy_config, &overlay));
            mesh_json.to_mut()["defaultConfig"] = Json::clone(&proxy_config);
        }
        let status_port = self.mesh.status_port();

        // Cluster and network for the proxy env.
        let mut proxy_envs = ctx.proxy_envs.clone();
        let vstr = |p: &str| {
            self.values
                .get(p)
                .and_then(Json::as_str)
                .unwrap_or("")
                .to_string()
        };
        let mut cluster = vstr("/global/multiCluster/clusterName");
        let mut network = vstr("/global/network");
        if let Some(c) = proxy_envs
            .get("ISTIO_META_CLUSTER_ID")
            .filter(|c| !c.is_empty())
        {
            cluster = c.clone();
        }
        if let Some(n) = proxy_envs
            .get("ISTIO_META_NETWORK")
            .filter(|n| !n.is_empty())
        {
            network = n.clone();
        }
        if let Some(n) = labels(pod)
            .get("topology.istio.io/network")
            .and_then(Json::as_str)
        {
            network = n.to_string();
        }
        if !cluster.is_empty() {
            proxy_envs.insert("ISTIO_META_CLUSTER_ID".into(), cluster);
        }
        if !network.is_empty() {
            proxy_envs.insert("ISTIO_META_NETWORK".into(), network);
        }

        let stripped = reinsert_overrides(&strip_pod(pod, status_port, ctx.render_rules()))?;
        let native_env = ctx
            .native_sidecars
            .unwrap_or_else(|| ctx.env_var("ENABLE_NATIVE_SIDECARS") == "true");
        let revision = if ctx.revision.is_empty() {
            "default"
        } else {
            &ctx.revision
        };
        let inputs = DataInputs {
            pod: &stripped,
            type_kind: &deploy.kind,
            type_api_version: &deploy.api_version,
            deploy_name: &deploy.name,
            deploy_namespace: &deploy.namespace,
            proxy_config: &proxy_config,
            mesh: &mesh_json,
            values: &self.values_value,
            revision: &ctx.revision,
            native_sidecars: native_env,
            proxy_image: proxy_image(&self.values, "proxy", &proxy_config, &annos, true),
            proxy_init_image: proxy_image(&self.values, "proxy_init", &proxy_config, &annos, false),
            proxy_uid: ctx.proxy_uid.unwrap_or(1337),
            proxy_gid: ctx.proxy_gid.unwrap_or(1337),
            compliance_policy: &ctx.compliance_policy,
            config_values: match mesh_json {
                Cow::Borrowed(_) => Some(&self.default_config_values),
                Cow::Owned(_) => None,
            },
        };

        let names = self.select_templates(&annos, default_templates, !kube)?;
        let native_anno = annos
            .get("sidecar.istio.io/nativeSidecar")
            .and_then(Json::as_str);
        let native = match native_anno {
            Some("true") => true,
            Some("false") => false,
            _ => native_env,
        };
        let mut merged = pod.clone();
        normalize(&mut merged);
        let mut template_pod = Json::Object(Map::new());
        for name in &names {
            let Some(t) = self.templates.get(name) else {
                return Err(self.not_found(name));
            };
            let (data, maps) = build(&inputs);
            let text = t.execute(
                &data,
                maps,
                ctx.env.clone(),
                Arc::clone(&proxy_config),
                Some(Arc::clone(&self.shared)),
            )?;
            let overlay = parse_rendered_yaml(&text).map_err(|e| RenderError::RenderedYaml {
                template: name.clone(),
                message: e,
            })?;
            template_pod =
                strategic_merge_owned(std::mem::take(&mut template_pod), list_skeleton(&overlay))
                    .map_err(RenderError::Merge)?;
            normalize(&mut template_pod);
            if native
                && has_container(&template_pod, "initContainers", PROXY)
                && has_container(&merged, "containers", PROXY)
            {
                move_proxy_to_init(&mut merged);
            }
            merged = strategic_merge_owned(std::mem::take(&mut merged), overlay)
                .map_err(RenderError::Merge)?;
            normalize(&mut merged);
        }

        let tproxy = annos
            .get("sidecar.istio.io/interceptionMode")
            .and_then(Json::as_str)
            .or_else(|| proxy_config.get("interceptionMode").and_then(Json::as_str))
            == Some("TPROXY");
        let mut merged = reapply_overwritten(merged, pod, &template_pod, tproxy)?;

        let hold = mesh_json
            .get("defaultConfig")
            .and_then(|c| c.get("holdApplicationUntilProxyStarts"))
            .and_then(Json::as_bool)
            .unwrap_or(false)
            || self
                .values
                .get("/global/proxy/holdApplicationUntilProxyStarts")
                .and_then(Json::as_bool)
                .unwrap_or(false);
        let rewrite = self
            .values
            .get("/sidecarInjectorWebhook/rewriteAppHTTPProbe")
            .and_then(Json::as_bool)
            .unwrap_or(false);
        let params = PostParams {
            proxy_envs: &proxy_envs,
            mesh: &mesh_json,
            status_port,
            rewrite_probes: rewrite,
            revision,
            injected_annotations: if kube {
                &no_annotations
            } else {
                &self.config.injected_annotations
            },
            hold_application: hold,
            rules: ctx.render_rules(),
        };
        post_process(&mut merged, &template_pod, &params)?;
        normalize(&mut merged);
        Ok(merged)
    }

    fn not_found(&self, name: &str) -> RenderError {
        RenderError::TemplateNotFound {
            name: name.to_string(),
            have: self.templates.keys().cloned().collect(),
        }
    }

    /// `selectTemplates`: the `inject.istio.io/templates` annotation or the defaults, each
    /// expanded through the aliases one level.
    fn select_templates(
        &self,
        annos: &Map<String, Json>,
        defaults: &[String],
        use_aliases: bool,
    ) -> Result<Vec<String>, RenderError> {
        let requested: Vec<String> = match annos
            .get("inject.istio.io/templates")
            .and_then(Json::as_str)
        {
            Some(list) => list.split(',').map(|s| s.trim().to_string()).collect(),
            None => defaults.to_vec(),
        };
        let mut out = Vec::new();
        for name in requested {
            match self.config.aliases.get(&name).filter(|_| use_aliases) {
                Some(expanded) => out.extend(expanded.iter().cloned()),
                None => out.push(name),
            }
        }
        for name in &out {
            if !self.templates.contains_key(name) {
                return Err(self.not_found(name));
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn deploy_meta_heuristics() {
        let pod = json!({"metadata": {"generateName": "hello-fake-", "labels": {"pod-template-hash": "fake"},
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "hello-fake", "controller": true}]}});
        let dm = deploy_meta_from_pod(&pod);
        assert_eq!(
            (dm.kind.as_str(), dm.name.as_str(), dm.api_version.as_str()),
            ("Deployment", "hello", "apps/v1")
        );
        let pod = json!({"metadata": {"generateName": "x", "ownerReferences": [{"apiVersion": "batch/v1",
            "kind": "Job", "name": "nightly-27712345", "controller": true}]}});
        assert_eq!(deploy_meta_from_pod(&pod).kind, "CronJob");
        let pod = json!({"metadata": {"name": "p"}});
        assert_eq!(deploy_meta_from_pod(&pod).kind, "Pod");
    }

    #[test]
    fn minimal_template_injects() {
        let cfg = "templates:\n  sidecar: |\n    spec:\n      containers:\n      - name: istio-proxy\n        image: x\n";
        let inj = Injector::from_configmaps(cfg, "{}", None);
        let Ok(inj) = inj else { panic!("injector") };
        let pod = json!({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "app"}]}});
        let out = inj.inject_pod(&pod, &InjectContext::default());
        let Ok(out) = out else { panic!("inject") };
        assert_eq!(out["spec"]["containers"][1]["name"], "istio-proxy");
        assert_eq!(
            out["metadata"]["annotations"]["prometheus.io/port"],
            "15020"
        );
    }

    #[test]
    fn list_skeleton_gives_the_same_template_pod_names() {
        use super::super::postprocess::injection_status;
        use super::super::smp::strategic_merge;
        let overlays = [
            json!({"metadata": {"labels": {"a": "b"}}, "spec": {
                "initContainers": [{"name": "istio-init", "image": "x", "args": ["a"]}],
                "containers": [{"name": "istio-proxy", "env": [{"name": "A"}]}, {"name": ""}],
                "volumes": [{"name": "v1", "emptyDir": {}}, {"name": "v2"}],
                "imagePullSecrets": [{"name": "s"}], "dnsPolicy": "x"}}),
            json!({"spec": {"containers": [{"name": "extra"}, {"name": "istio-proxy", "image": "y"}],
                "volumes": [{"name": "v1", "$patch": "delete"}],
                "$setElementOrder/containers": [{"name": "istio-proxy"}, {"name": "extra"}],
                "initContainers": [{"$patch": "replace"}, {"name": "only"}]}}),
            json!({"spec": {"imagePullSecrets": null, "containers": ["not-an-object"]}}),
            json!({"$patch": "replace", "spec": {"volumes": [{"name": "z"}], "containers": []}}),
            json!({"spec": {"$patch": "replace", "containers": [{"name": "c"}]}}),
        ];
        let mut full = Json::Object(Map::new());
        let mut skeleton = Json::Object(Map::new());
        for overlay in &overlays {
            full = strategic_merge(&full, overlay).unwrap_or(Json::Null);
            normalize(&mut full);
            skeleton = strategic_merge(&skeleton, &list_skeleton(overlay)).unwrap_or(Json::Null);
            normalize(&mut skeleton);
            assert_eq!(
                injection_status(&full, "r"),
                injection_status(&skeleton, "r"),
                "{overlay}"
            );
        }
    }

    #[test]
    fn unknown_template_is_an_error() {
        let inj = Injector::from_configmaps("templates:\n  sidecar: 'spec: {}'\n", "{}", None);
        let Ok(inj) = inj else { panic!("injector") };
        let pod =
            json!({"metadata": {"annotations": {"inject.istio.io/templates": "nope"}}, "spec": {}});
        let e = inj.inject_pod(&pod, &InjectContext::default()).err();
        assert!(
            e.map(|e| e.to_string())
                .unwrap_or_default()
                .contains("\"nope\" not found")
        );
    }
}
