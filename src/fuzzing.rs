//! Fuzz harness bodies, one plain function per target, taking raw bytes.
//!
//! They live in the library (not in `fuzz/`) so that the cargo-fuzz targets and `cargo test`
//! (`tests/fuzz_corpora.rs` replays the committed seeds) run exactly the same code, and so that
//! they can reach crate-private entry points. Each function must never panic on any input:
//! input errors are fine and ignored. Where a law holds between two APIs (a selector that
//! matches has no failing requirement; tracing a webhook match does not change its outcome),
//! the harness asserts it, so a violation is a crash too.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use k8s_openapi::api::admissionregistration::v1::MutatingWebhookConfiguration;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use serde::Deserialize;
use serde_json::Value as Json;

use crate::admission::{AdmissionRequest, compile_configurations, effective_namespace_labels};
use crate::check::{RunOptions, run_checks};
use crate::engine::{Engine, EngineOptions};
use crate::selector::Selector;
use crate::source::offline::{LoadOptions, load_manifest_text, load_text};
use crate::state::ClusterState;
use crate::trace::{NoTrace, Trace};

/// A fixed clock (2026-01-01T00:00:00Z) so that runs are reproducible.
const NOW_UNIX: i64 = 1_767_225_600;

/// The offline loader on YAML or JSON text (as `--from` and as `preflight -f` read it), then
/// the engine's verdict for every pod and workload and the whole check catalog, as
/// `check -A` runs them.
pub fn loader(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    // Cluster state: strict string maps.
    let mut strict = ClusterState::default();
    let _ = load_text(&mut strict, "fuzz.yaml", &text, &LoadOptions::default());
    // Manifests: lenient string maps, objects recorded with their positions.
    let lenient_opts = LoadOptions {
        lenient_string_maps: true,
        ..LoadOptions::default()
    };
    let mut state = ClusterState::default();
    let Ok(objects) = load_manifest_text(&mut state, "fuzz.yaml", &text, &lenient_opts) else {
        return;
    };
    for o in &objects {
        if let Some(p) = &o.positions {
            let _ = p.locate("metadata.annotations");
        }
    }
    state.sort();
    let engine = Engine::new(&state, EngineOptions::default());
    let subjects = crate::workload::all_subjects(&state, None);
    for s in &subjects {
        let _ = engine.verdict(s);
    }
    // The traced decision is costlier; one subject keeps its code in the loop.
    if let Some(s) = subjects.first() {
        let _ = engine.explain(s);
    }
    let checks = crate::checks::builtin();
    let opts = RunOptions {
        namespace: None,
        only: Vec::new(),
        skip: Vec::new(),
        now_unix: NOW_UNIX,
        cert_warn_days: 30,
        preflight: None,
    };
    let _ = run_checks(&state, &engine, &checks, &opts);
}

/// The input of [`selector`]: a label selector and a label set (JSON or YAML).
#[derive(Deserialize)]
struct SelectorInput {
    selector: Option<LabelSelector>,
    #[serde(default)]
    labels: BTreeMap<String, String>,
}

/// Label selectors: compile a `LabelSelector`, then match and explain it against labels.
/// Asserts the laws between `matches`, `matches_by` and `first_failing`.
pub fn selector(data: &[u8]) {
    let Some(input) = decode::<SelectorInput>(data) else {
        return;
    };
    let _ = Selector::compile_optional(input.selector.as_ref());
    let _ = Selector::compile_optional_webhook(input.selector.as_ref());
    let Some(sel) = input.selector else { return };
    let Ok(compiled) = Selector::compile(&sel) else {
        return;
    };
    let labels = &input.labels;
    let matched = compiled.matches(labels);
    let by = compiled.matches_by(|k| labels.get(k).map(String::as_str));
    assert_eq!(matched, by, "matches and matches_by disagree");
    let failing = compiled.first_failing(labels);
    assert_eq!(
        matched,
        failing.is_none() && !compiled.is_nothing(),
        "a matching selector has a failing requirement (or the reverse)"
    );
    let _ = compiled.explain("pod", labels);
    for r in compiled.requirements() {
        let v = labels.get(r.key()).map(String::as_str);
        let _ = r.describe_value(v);
    }
}

/// The input of [`webhook_match`].
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WebhookInput {
    configuration: MutatingWebhookConfiguration,
    #[serde(default)]
    pod: Json,
    #[serde(default)]
    namespace: String,
    /// `None`: the namespace is unknown to the API server.
    namespace_labels: Option<BTreeMap<String, String>>,
}

/// Webhook matching: compile a MutatingWebhookConfiguration (rules, selectors, CEL
/// matchConditions) and match a pod CREATE against every webhook, untraced and traced.
pub fn webhook_match(data: &[u8]) {
    let Some(input) = decode::<WebhookInput>(data) else {
        return;
    };
    let (webhooks, _errors) = compile_configurations(&[&input.configuration]);
    let pod_labels: Option<BTreeMap<String, String>> = input
        .pod
        .pointer("/metadata/labels")
        .and_then(|l| serde_json::from_value(l.clone()).ok());
    let name = input
        .pod
        .pointer("/metadata/name")
        .and_then(Json::as_str)
        .unwrap_or("");
    let ns_labels = input
        .namespace_labels
        .as_ref()
        .map(|l| effective_namespace_labels(&input.namespace, l, Default::default()).into_owned());
    let req = AdmissionRequest::pod_create(
        &input.namespace,
        name,
        &input.pod,
        pod_labels.as_ref(),
        ns_labels.as_ref(),
    );
    for w in &webhooks {
        let quiet = w.matches(&req, &mut NoTrace);
        let mut trace = Trace::default();
        let traced = w.matches(&req, &mut trace);
        assert_eq!(
            quiet.is_matched(),
            traced.is_matched(),
            "tracing changed the match outcome"
        );
        let _ = w.on_error();
        let _ = w.client_config.url();
    }
}

/// The Go template parser and executor with the sprig and Istio functions, through the
/// injector: the input is the text of the one `sidecar` template, rendered for a fixed pod
/// with fixed values, then merged into the pod as a real injection is.
pub fn template(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let config = crate::render::InjectorConfig {
        policy: "enabled".to_owned(),
        default_templates: vec!["sidecar".to_owned()],
        templates: BTreeMap::from([("sidecar".to_owned(), text.into_owned())]),
        aliases: BTreeMap::new(),
        never_inject_selector: Vec::new(),
        always_inject_selector: Vec::new(),
        injected_annotations: BTreeMap::new(),
    };
    // The fixed inputs are parsed once: re-reading the values YAML took a quarter of each run.
    static FIXED: OnceLock<Option<(crate::render::InjectorValues, Json)>> = OnceLock::new();
    let fixed = FIXED.get_or_init(|| {
        let values = crate::render::InjectorValues::parse(TEMPLATE_VALUES).ok()?;
        let pod = serde_json::from_str::<Json>(TEMPLATE_POD).ok()?;
        Some((values, pod))
    });
    let Some((values, pod)) = fixed else { return };
    let mesh = crate::render::MeshConfig::default();
    let Ok(injector) = crate::render::Injector::new(config, values.clone(), mesh) else {
        return;
    };
    let ctx = crate::render::InjectContext {
        env: Some(BTreeMap::from([("FUZZ".to_owned(), "1".to_owned())])),
        request_namespace: "shop".to_owned(),
        ..Default::default()
    };
    let _ = injector.inject_pod(pod, &ctx);
}

/// `.Values` for [`template`]: a small slice of Istio's chart values.
const TEMPLATE_VALUES: &str = r#"
global:
  hub: docker.io/istio
  tag: 1.24.6
  proxy:
    image: proxyv2
    resources:
      requests: {cpu: 100m, memory: 128Mi}
    logLevel: warning
    includeIPRanges: "*"
  imagePullPolicy: IfNotPresent
sidecarInjectorWebhook:
  rewriteAppHTTPProbe: true
  templates: {}
revision: ""
"#;

/// The pod [`template`] renders for.
const TEMPLATE_POD: &str = r#"{
  "apiVersion": "v1", "kind": "Pod",
  "metadata": {"name": "web-1", "namespace": "shop",
    "labels": {"app": "web", "version": "v1"},
    "annotations": {"sidecar.istio.io/proxyCPU": "50m"}},
  "spec": {"containers": [{"name": "web", "image": "nginx",
    "ports": [{"containerPort": 8080}],
    "readinessProbe": {"httpGet": {"path": "/ready", "port": 8080}}}]}
}"#;

/// PEM and X.509: the bytes as a PEM bundle, as a `caBundle` field and as one DER
/// certificate; two halves of the input as a webhook bundle and a mesh root, compared.
pub fn pem(data: &[u8]) {
    use crate::pki;
    let whole = pki::parse_pem_bundle(data).ok();
    let _ = pki::decode_ca_bundle(data);
    if let Ok(cert) = pki::CertInfo::from_der(data) {
        let _ = cert.names();
        let _ = pki::bundle_fingerprint(std::slice::from_ref(&cert));
    }
    let mid = data.len() / 2;
    let (a, b) = data.split_at(mid);
    let left = pki::decode_ca_bundle(a).ok().map(|b| b.certs);
    let right = pki::parse_pem_bundle(b).ok().map(|b| b.certs);
    if let (Some(l), Some(r)) = (&left, &right) {
        let _ = pki::same_trust(l, r);
        let _ = pki::bundle_fingerprint(l);
        let _ = pki::verify_serving_cert(b, l, "istiod.istio-system.svc", NOW_UNIX);
    }
    if let Some(w) = whole {
        let _ = pki::bundle_fingerprint(&w.certs);
        let _ = pki::same_trust(&w.certs, &w.certs);
        let _ = pki::verify_serving_cert(data, &w.certs, "istiod.istio-system.svc", NOW_UNIX);
    }
}

/// The manifest position mapper: index every document, then look every scalar up again by
/// its JSON pointer and by its dotted path.
pub fn positions(data: &[u8]) {
    use crate::source::positions::index;
    let text = String::from_utf8_lossy(data);
    let Ok(docs) = index(&text) else { return };
    for doc in &docs {
        let mut pointer = String::new();
        let mut scalars = Vec::new();
        doc.root.walk_scalars(&mut pointer, &mut scalars);
        for (p, node) in scalars {
            // No law to assert: with a duplicate key the pointer finds the first entry,
            // which may not even hold the scalar the walk reported under the later one.
            let _ = doc.root.pointer(&p);
            let _ = node.pos;
            let _ = doc.root.key_position(&p);
            let dotted = dotted_path(&p);
            let _ = doc.root.locate(&dotted);
        }
        let _ = doc
            .root
            .locate("metadata.annotations.sidecar.istio.io/inject");
        let _ = doc.root.locate("webhooks[0].clientConfig");
    }
}

/// `/a/0/b~1c` → `a[0].b/c`: a JSON pointer as findings write field paths.
fn dotted_path(pointer: &str) -> String {
    let mut out = String::new();
    for token in pointer.split('/').skip(1) {
        let token = token.replace("~1", "/").replace("~0", "~");
        if !token.is_empty() && token.bytes().all(|b| b.is_ascii_digit()) {
            out.push('[');
            out.push_str(&token);
            out.push(']');
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(&token);
        }
    }
    out
}

/// Decodes JSON, or else YAML (seeds are easier to write in YAML); `None` when neither reads.
fn decode<T: for<'de> Deserialize<'de>>(data: &[u8]) -> Option<T> {
    if let Ok(v) = serde_json::from_slice(data) {
        return Some(v);
    }
    let text = std::str::from_utf8(data).ok()?;
    serde_saphyr::from_str(text).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dotted_paths_read_as_findings_write_them() {
        assert_eq!(dotted_path(""), "");
        assert_eq!(dotted_path("/webhooks/0/name"), "webhooks[0].name");
        assert_eq!(
            dotted_path("/metadata/annotations/sidecar.istio.io~1inject"),
            "metadata.annotations.sidecar.istio.io/inject"
        );
    }

    #[test]
    fn every_harness_accepts_empty_and_garbage_input() {
        for data in [&b""[..], b"\xff\xfe\x00", b"{", b"- [", b"{{"] {
            loader(data);
            selector(data);
            webhook_match(data);
            template(data);
            pem(data);
            positions(data);
        }
    }
}
