//! `linkerd inject` on a manifest: every document (and every item of a `List`) uninjected,
//! then injected (the proxy added, or with `annotate_only` just `linkerd.io/inject: enabled`),
//! and written back as Linkerd writes it (typed round trip, sorted keys, `---` after each).

use serde_json::Value as Json;

use super::omitempty::{drop_nulls, typed_round_trip};
use super::overrides::{self, Annotations};
use super::values::Values;
use super::workload::{Origin, Workload, is_injectable_kind};
use super::{apply_patch, pod_patch, uninject::uninject};

/// How to inject.
#[derive(Debug, Clone)]
pub struct CliOptions {
    /// The values to render with (the install values with any overrides applied).
    pub values: Values,
    /// The `config.linkerd.io/*` annotations the overrides stand for (see
    /// [`cli_override_annotations`]); written onto every pod template.
    pub override_annotations: Annotations,
    /// Add the proxy (`linkerd inject --manual`); otherwise only annotate for the webhook.
    pub inject_proxy: bool,
    pub enable_debug_sidecar: bool,
    pub control_namespace: String,
    /// `linkerd.io/created-by` (`linkerd/cli <version>`).
    pub created_by: String,
    /// Uninject first (what `linkerd inject` does), so injecting twice replaces the proxy.
    pub uninject_first: bool,
    /// Annotate Namespace documents with `linkerd.io/inject: enabled` (and the overrides).
    pub annotate_namespaces: bool,
}

/// One document's outcome, for the report.
#[derive(Debug, Clone, PartialEq)]
pub struct DocReport {
    pub kind: String,
    pub name: String,
    pub injected: bool,
    /// Linkerd would inject it (the proxy added, or the annotation for the webhook).
    pub injectable: bool,
    pub annotated: bool,
    /// Why Linkerd would not inject it (Linkerd's reason sentences).
    pub skipped: Vec<String>,
    /// The pod declares UDP ports (Linkerd warns: the proxy does not handle UDP).
    pub udp: bool,
    /// Warnings of ignored values.
    pub warnings: Vec<String>,
}

impl DocReport {
    /// The outcome as Linkerd's report words it: `deployment "web" injected` (also when only
    /// annotated for the webhook), `service "web" annotated`, `... skipped`.
    pub fn outcome_line(&self) -> String {
        if self.kind.is_empty() {
            return "document missing \"kind\" field, skipped".to_owned();
        }
        let verb = if self.injectable {
            "injected"
        } else if self.annotated {
            "annotated"
        } else {
            "skipped"
        };
        format!("{} \"{}\" {verb}", self.kind, self.name)
    }
}

/// The injected manifest and a report per document.
#[derive(Debug, Clone)]
pub struct CliOutput {
    pub text: String,
    pub reports: Vec<DocReport>,
}

/// A document Linkerd refuses to inject with an error (`failed to inject ...`).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("document {doc}: {message}")]
pub struct ManifestError {
    pub doc: usize,
    pub message: String,
}

const CONTROL_PLANE_COMPONENT: &str = "linkerd.io/control-plane-component";
const HOST_NETWORK: &str = "hostNetwork is enabled";
const SIDECAR: &str = "pod has a sidecar injected already";
const AUTOMOUNT: &str = "automountServiceAccountToken set to \"false\", with Values.identity.serviceAccountTokenProjection set to \"false\"";
const UDP: &str = "UDP port(s) configured on pod spec";

/// The documents of a YAML stream, split at `---` lines as Kubernetes' YAML reader splits them
/// (an empty chunk, as before a leading `---`, is skipped).
pub fn split_documents(text: &str) -> Vec<String> {
    let mut docs = Vec::new();
    let mut cur = String::new();
    let mut flush = |cur: &mut String| {
        // Only an empty chunk is no document: a blank one is a document without a kind.
        if !cur.is_empty() {
            docs.push(std::mem::take(cur));
        } else {
            cur.clear();
        }
    };
    for line in text.split_inclusive('\n') {
        if line.starts_with("---") && line[3..].trim().is_empty() {
            flush(&mut cur);
        } else {
            cur.push_str(line);
        }
    }
    flush(&mut cur);
    docs
}

/// Runs `each` on every object of a YAML stream (every item of a `List`, which is then written
/// back as a list) and joins the results with `---` after each, as `linkerd inject` writes them.
/// `each` gets the document's text and its parsed value.
fn process(
    text: &str,
    mut each: impl FnMut(&str, Json) -> Result<String, String>,
) -> Result<String, ManifestError> {
    let mut out = String::new();
    for (i, doc) in split_documents(text).into_iter().enumerate() {
        let fail = |message: String| ManifestError {
            doc: i + 1,
            message,
        };
        let parsed: Json =
            serde_saphyr::from_str(&doc).map_err(|e| fail(format!("invalid YAML: {e}")))?;
        let result = if parsed.get("kind").and_then(Json::as_str) == Some("List") {
            let mut list = parsed;
            let items = list
                .get("items")
                .and_then(Json::as_array)
                .cloned()
                .unwrap_or_default();
            let mut done = Vec::new();
            for item in items {
                let raw = crate::render::to_go_yaml(&item);
                let text = each(&raw, item).map_err(fail)?;
                done.push(serde_saphyr::from_str::<Json>(&text).map_err(|e| fail(e.to_string()))?);
            }
            // corev1.List is written with the standard encoder: its empty `metadata` stays.
            if let Json::Object(m) = &mut list {
                m.insert("items".into(), Json::Array(done));
                m.entry("metadata")
                    .or_insert_with(|| Json::Object(Default::default()));
            }
            crate::render::to_go_yaml(&list)
        } else {
            each(&doc, parsed).map_err(fail)?
        };
        out.push_str(&result);
        out.push_str("---\n");
    }
    Ok(out)
}

/// Injects every document of `text`. On the first document Linkerd refuses (`failed to
/// inject ...`) it stops and, like `linkerd inject`, writes nothing: the error is returned.
pub fn inject_manifest(text: &str, opts: &CliOptions) -> Result<CliOutput, ManifestError> {
    let uninjected;
    let input = if opts.uninject_first {
        uninjected = process(text, uninject_object)?;
        uninjected.as_str()
    } else {
        text
    };
    let mut reports = Vec::new();
    let mut overrides = opts.override_annotations.clone();
    let text = process(input, |raw, obj| {
        let (text, r) = transform(raw, obj, opts, &mut overrides)?;
        reports.push(r);
        Ok(text)
    })?;
    Ok(CliOutput { text, reports })
}

/// `linkerd uninject` of one object: Linkerd's containers, volumes and metadata removed from
/// what it injects or annotates; any other kind passes through as written.
fn uninject_object(raw: &str, mut obj: Json) -> Result<String, String> {
    let kind = obj
        .get("kind")
        .and_then(Json::as_str)
        .unwrap_or("")
        .to_ascii_lowercase();
    if kind == "namespace" || kind == "service" {
        uninject(&mut obj, None);
    } else if let Some(path) = template_path(&kind) {
        if obj.pointer(&format!("{path}/spec")).is_none() {
            return Ok(raw.to_owned());
        }
        uninject(&mut obj, Some(path));
    } else {
        return Ok(raw.to_owned());
    }
    Ok(emit(&mut obj))
}

/// The JSON pointer of the pod template of an injectable kind.
fn template_path(kind: &str) -> Option<&'static str> {
    if !is_injectable_kind(kind) {
        return None;
    }
    Some(match kind {
        "pod" => "",
        "cronjob" => "/spec/jobTemplate/spec/template",
        _ => "/spec/template",
    })
}

fn report_for(kind: &str, obj: &Json) -> DocReport {
    let name = obj
        .pointer("/metadata/name")
        .or_else(|| obj.pointer("/metadata/generateName"))
        .and_then(Json::as_str)
        .unwrap_or("")
        .to_owned();
    DocReport {
        kind: kind.to_owned(),
        name,
        injected: false,
        injectable: false,
        annotated: false,
        skipped: Vec::new(),
        udp: false,
        warnings: Vec::new(),
    }
}

fn emit(obj: &mut Json) -> String {
    typed_round_trip(obj);
    required_fields(obj);
    crate::render::to_go_yaml(obj)
}

/// Fields the Kubernetes types encode even when empty (no omitempty): a workload's `selector`
/// (`null`) and a StatefulSet's `serviceName` (`""`).
fn required_fields(obj: &mut Json) {
    let kind = obj
        .get("kind")
        .and_then(Json::as_str)
        .unwrap_or("")
        .to_owned();
    let Some(Json::Object(spec)) = obj.get_mut("spec") else {
        return;
    };
    if matches!(
        kind.as_str(),
        "Deployment" | "ReplicaSet" | "StatefulSet" | "DaemonSet"
    ) {
        spec.entry("selector").or_insert(Json::Null);
    }
    if kind == "StatefulSet" {
        spec.entry("serviceName")
            .or_insert_with(|| Json::String(String::new()));
    }
}

/// One object as `linkerd inject` transforms it: a Service or Namespace annotated, a workload
/// injected (or annotated for the webhook); anything else, and a workload Linkerd skips
/// without an error, is returned as given (`raw`).
fn transform(
    raw: &str,
    mut obj: Json,
    opts: &CliOptions,
    overrides: &mut Annotations,
) -> Result<(String, DocReport), String> {
    let kind = obj
        .get("kind")
        .and_then(Json::as_str)
        .unwrap_or("")
        .to_ascii_lowercase();
    let mut report = report_for(&kind, &obj);
    if kind == "service" {
        if let Some(p) = overrides.get(overrides::OPAQUE_PORTS).cloned() {
            annotate(&mut obj, vec![(overrides::OPAQUE_PORTS.to_owned(), p)]);
            report.annotated = true;
            return Ok((emit(&mut obj), report));
        }
        return Ok((raw.to_owned(), report));
    }
    if kind == "namespace" && opts.annotate_namespaces {
        let pairs = std::iter::once((overrides::INJECT.to_owned(), "enabled".to_owned()))
            .chain(overrides.iter().map(|(k, v)| (k.clone(), v.clone())))
            .collect();
        annotate(&mut obj, pairs);
        report.annotated = true;
        return Ok((emit(&mut obj), report));
    }
    let has_template = template_path(&kind).is_some_and(|p| {
        obj.pointer(&format!("{p}/spec"))
            .is_some_and(|s| !s.is_null())
    });
    if !has_template {
        report
            .skipped
            .push("this resource kind is unsupported".into());
        return Ok((raw.to_owned(), report));
    }
    typed_round_trip(&mut obj);
    let Some(mut w) = Workload::from_object(&obj, &opts.control_namespace, None, Origin::Cli)
    else {
        return Ok((raw.to_owned(), report));
    };
    if !opts.inject_proxy && w.pod_labels().contains_key(CONTROL_PLANE_COMPONENT) {
        return Err("--manual must be set when injecting control plane components".to_owned());
    }
    if opts.enable_debug_sidecar {
        w.annotations
            .insert(overrides::ENABLE_DEBUG.into(), "true".into());
    }
    if !overrides.is_empty() {
        w.annotations
            .extend(overrides.iter().map(|(k, v)| (k.clone(), v.clone())));
        report.annotated = true;
    }
    report.udp = has_udp(&w);
    let skipped = skip_reasons(&w, &opts.values);
    if !skipped.is_empty() {
        let errors: Vec<&str> = [AUTOMOUNT, HOST_NETWORK, SIDECAR]
            .into_iter()
            .filter(|r| skipped.iter().any(|s| s == r))
            .chain(report.udp.then_some(UDP))
            .collect();
        report.skipped = skipped;
        if !errors.is_empty() {
            return Err(format!(
                "failed to inject {}/{}: {}",
                report.kind,
                report.name,
                errors.join(", ")
            ));
        }
        return Ok((raw.to_owned(), report));
    }
    if opts.inject_proxy {
        // Linkerd removes the inject key from its override set once the first workload has
        // it, so later documents of the same run no longer get it.
        overrides.remove(overrides::INJECT);
        w.annotations
            .insert("linkerd.io/created-by".into(), opts.created_by.clone());
    } else if !opts.values.proxy.is_ingress {
        w.annotations
            .insert(overrides::INJECT.into(), "enabled".into());
    }
    let patch = pod_patch(&opts.values, &w, &opts.control_namespace, opts.inject_proxy)
        .map_err(|e| e.to_string())?;
    report.warnings = patch.warnings;
    report.injected = opts.inject_proxy;
    report.injectable = true;
    let mut injected = apply_patch(&obj, &patch.ops)?;
    drop_nulls(&mut injected);
    Ok((emit(&mut injected), report))
}

/// Adds annotations to an object's metadata, creating the maps as needed.
fn annotate(obj: &mut Json, pairs: Vec<(String, String)>) {
    let Some(m) = obj.as_object_mut() else {
        return;
    };
    let meta = m
        .entry("metadata")
        .or_insert_with(|| Json::Object(Default::default()));
    if let Json::Object(meta) = meta
        && let Json::Object(a) = meta
            .entry("annotations")
            .or_insert_with(|| Json::Object(Default::default()))
    {
        for (k, v) in pairs {
            a.insert(k, Json::String(v));
        }
    }
}

/// Linkerd's reasons not to inject a workload from the CLI (the namespace is not known there,
/// so only a pod-level `linkerd.io/inject: disabled` counts).
fn skip_reasons(w: &Workload, values: &Values) -> Vec<String> {
    let mut out = Vec::new();
    let spec: Option<k8s_openapi::api::core::v1::PodSpec> =
        serde_json::from_value(w.pod_spec.clone()).ok();
    if w.pod_spec.get("hostNetwork").and_then(Json::as_bool) == Some(true) {
        out.push(HOST_NETWORK.to_owned());
    }
    if spec
        .as_ref()
        .is_some_and(crate::mesh::linkerd::has_existing_sidecar)
    {
        out.push(SIDECAR.to_owned());
    }
    if w.pod_annotations()
        .get(overrides::INJECT)
        .map(String::as_str)
        == Some("disabled")
    {
        out.push("pod has the annotation \"linkerd.io/inject:disabled\"".to_owned());
    }
    if !values.service_account_token_projection
        && w.pod_spec
            .get("automountServiceAccountToken")
            .and_then(Json::as_bool)
            == Some(false)
    {
        out.push(AUTOMOUNT.to_owned());
    }
    out
}

fn has_udp(w: &Workload) -> bool {
    w.all_containers().any(|c| {
        c.get("ports")
            .and_then(Json::as_array)
            .into_iter()
            .flatten()
            .any(|p| p.get("protocol").and_then(Json::as_str) == Some("UDP"))
    })
}

/// The annotations `linkerd inject` writes for values that differ from the install's (its
/// flags such as `--proxy-version` or `--admin-port` set values; each difference is recorded on
/// the pod template so the webhook would render the same proxy).
pub fn cli_override_annotations(values: &Values, base: &Values) -> Annotations {
    let mut a = Annotations::new();
    let (p, b) = (&values.proxy, &base.proxy);
    let mut set = |cond: bool, key: &str, v: String| {
        if cond {
            a.insert(key.to_owned(), v);
        }
    };
    let c = "config.linkerd.io/";
    set(
        p.image.version != b.image.version,
        &format!("{c}proxy-version"),
        p.image.version.clone(),
    );
    let (pi, bi) = (&values.proxy_init, &base.proxy_init);
    set(
        pi.ignore_inbound_ports != bi.ignore_inbound_ports,
        &format!("{c}skip-inbound-ports"),
        pi.ignore_inbound_ports.clone(),
    );
    set(
        pi.ignore_outbound_ports != bi.ignore_outbound_ports,
        &format!("{c}skip-outbound-ports"),
        pi.ignore_outbound_ports.clone(),
    );
    for (key, v, bv) in [
        ("admin-port", p.admin_port, b.admin_port),
        ("control-port", p.control_port, b.control_port),
        ("inbound-port", p.inbound_port, b.inbound_port),
        ("outbound-port", p.outbound_port, b.outbound_port),
        ("proxy-uid", p.uid, b.uid),
    ] {
        set(v != bv, &format!("{c}{key}"), v.to_string());
    }
    set(
        p.opaque_ports != b.opaque_ports,
        &format!("{c}opaque-ports"),
        p.opaque_ports.clone(),
    );
    set(
        p.image.name != b.image.name,
        &format!("{c}proxy-image"),
        p.image.name.clone(),
    );
    let (d, bd) = (&values.debug_image, &base.debug_image);
    set(
        d.name != bd.name,
        &format!("{c}debug-image"),
        d.name.clone(),
    );
    set(
        d.version != bd.version,
        &format!("{c}debug-image-version"),
        d.version.clone(),
    );
    set(
        p.image.pull_policy != b.image.pull_policy,
        &format!("{c}image-pull-policy"),
        p.image.pull_policy.clone(),
    );
    set(
        p.gid >= 0 && (b.gid < 0 || p.gid != b.gid),
        &format!("{c}proxy-gid"),
        p.gid.to_string(),
    );
    for (key, v, bv) in [
        ("proxy-log-level", &p.log_level, &b.log_level),
        ("proxy-log-format", &p.log_format, &b.log_format),
        (
            "proxy-require-identity-inbound-ports",
            &p.require_identity_on_inbound_ports,
            &b.require_identity_on_inbound_ports,
        ),
        (
            "proxy-cpu-request",
            &p.resources.cpu.request,
            &b.resources.cpu.request,
        ),
        (
            "proxy-cpu-limit",
            &p.resources.cpu.limit,
            &b.resources.cpu.limit,
        ),
        (
            "proxy-memory-request",
            &p.resources.memory.request,
            &b.resources.memory.request,
        ),
        (
            "proxy-memory-limit",
            &p.resources.memory.limit,
            &b.resources.memory.limit,
        ),
        (
            "default-inbound-policy",
            &p.default_inbound_policy,
            &b.default_inbound_policy,
        ),
        ("access-log", &p.access_log, &b.access_log),
        (
            "shutdown-grace-period",
            &p.shutdown_grace_period,
            &b.shutdown_grace_period,
        ),
    ] {
        set(v != bv, &format!("{c}{key}"), v.clone());
    }
    for (key, v, bv) in [
        (
            "enable-external-profiles",
            p.enable_external_profiles,
            b.enable_external_profiles,
        ),
        (
            "proxy-metrics-hostname-labels",
            p.metrics_hostname_labels,
            b.metrics_hostname_labels,
        ),
        (
            "proxy-enable-native-sidecar",
            p.native_sidecar,
            b.native_sidecar,
        ),
    ] {
        set(v != bv, &format!("{c}{key}"), v.to_string());
    }
    set(
        p.is_ingress != b.is_ingress,
        overrides::INJECT,
        "ingress".to_owned(),
    );
    set(
        p.wait_before_exit_seconds != b.wait_before_exit_seconds,
        overrides::WAIT_BEFORE_EXIT,
        p.wait_before_exit_seconds.to_string(),
    );
    set(
        p.await_ != b.await_,
        &format!("{c}proxy-await"),
        if p.await_ { "enabled" } else { "disabled" }.to_owned(),
    );
    a
}
