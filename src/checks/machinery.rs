//! What the injection-machinery checks share: the mesh injector webhooks as written in their
//! configurations (so that a configuration the API server would reject is still looked at), the
//! mesh root certificate and the injector's serving certificate, and how to show a certificate
//! source with the `kubectl ... | md5sum` command a runbook reader would type.
//!
//! Webhooks are read from the raw `MutatingWebhookConfiguration` objects rather than from the
//! engine's compiled webhooks: a configuration that fails validation (e.g. `timeoutSeconds: 0`
//! in a manifest under review) has no compiled webhooks, and its certificates still matter.

use std::collections::BTreeMap;

use k8s_openapi::api::admissionregistration::v1::MutatingWebhook;
use k8s_openapi::api::core::v1::{ConfigMap, Secret, Service, ServicePort};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use crate::check::{CheckContext, Skip};
use crate::mesh::istio::install::is_istio_injector_webhook;
use crate::mesh::linkerd::is_linkerd_injector_webhook;
use crate::origin::Origin;
use crate::pki::{CertInfo, parse_pem_bundle, runbook_md5, runbook_md5_decoded};
use crate::state::{ClusterState, Object};

/// Which mesh an injector webhook belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MeshKind {
    Istio,
    Linkerd,
}

impl MeshKind {
    pub fn name(self) -> &'static str {
        match self {
            MeshKind::Istio => "Istio",
            MeshKind::Linkerd => "Linkerd",
        }
    }
}

/// One mesh injector webhook, as written in its configuration.
pub struct MeshWebhook<'a> {
    pub configuration: &'a str,
    pub index: usize,
    pub webhook: &'a MutatingWebhook,
    pub mesh: MeshKind,
    pub origin: &'a Origin,
}

/// A `clientConfig.service` reference with the API server's default port applied.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ServiceRef {
    pub namespace: String,
    pub name: String,
    pub port: i32,
}

impl ServiceRef {
    /// The TLS server name the API server verifies (`<name>.<namespace>.svc`).
    pub fn host(&self) -> String {
        format!("{}.{}.svc", self.name, self.namespace)
    }
}

impl MeshWebhook<'_> {
    /// `webhooks[<i>].<rest>`.
    pub fn field(&self, rest: &str) -> String {
        format!("webhooks[{}].{rest}", self.index)
    }

    /// `failurePolicy`, defaulted (`Fail`).
    pub fn fails_open(&self) -> bool {
        self.webhook.failure_policy.as_deref() == Some("Ignore")
    }

    pub fn failure_policy(&self) -> &str {
        self.webhook.failure_policy.as_deref().unwrap_or("Fail")
    }

    pub fn service(&self) -> Option<ServiceRef> {
        self.webhook
            .client_config
            .service
            .as_ref()
            .map(|s| ServiceRef {
                namespace: s.namespace.clone(),
                name: s.name.clone(),
                port: s.port.unwrap_or(443),
            })
    }

    /// The decoded `caBundle` bytes; `None` when absent.
    pub fn ca_bundle(&self) -> Option<&[u8]> {
        self.webhook
            .client_config
            .ca_bundle
            .as_ref()
            .map(|b| b.0.as_slice())
    }

    /// The command printing this webhook's `caBundle` as the API server returns it (base64).
    pub fn ca_bundle_command(&self) -> String {
        format!(
            "kubectl get mutatingwebhookconfiguration {} -o jsonpath='{{.webhooks[{}].clientConfig.caBundle}}'",
            self.configuration, self.index
        )
    }

    /// A JSON patch path for this webhook's field.
    pub fn patch_path(&self, rest: &str) -> String {
        format!("/webhooks/{}/{rest}", self.index)
    }
}

/// [`mesh_webhooks`], or the skip every mesh check gives when there is none.
pub fn required_mesh_webhooks<'a>(ctx: &CheckContext<'a>) -> Result<Vec<MeshWebhook<'a>>, Skip> {
    let webhooks = mesh_webhooks(ctx);
    if webhooks.is_empty() {
        Err(super::support::no_mesh_webhook())
    } else {
        Ok(webhooks)
    }
}

/// Every Istio or Linkerd injector webhook in the state, in input order. Webhooks `istioctl tag`
/// deactivated (both selectors never match) are left out: the API server never calls them.
pub fn mesh_webhooks<'a>(ctx: &CheckContext<'a>) -> Vec<MeshWebhook<'a>> {
    let mut out = Vec::new();
    for cfg in ctx.state.mutating_webhooks.iter() {
        let configuration = cfg.obj.metadata.name.as_deref().unwrap_or("");
        for (index, webhook) in cfg.obj.webhooks.iter().flatten().enumerate() {
            let mesh = if is_istio_injector_webhook(&webhook.name) {
                MeshKind::Istio
            } else if is_linkerd_injector_webhook(configuration, &webhook.name) {
                MeshKind::Linkerd
            } else {
                continue;
            };
            let deactivated = ctx
                .engine
                .istio
                .webhook(configuration, &webhook.name)
                .is_some_and(|w| w.deactivated);
            if deactivated {
                continue;
            }
            out.push(MeshWebhook {
                configuration,
                index,
                webhook,
                mesh,
                origin: &cfg.origin,
            });
        }
    }
    out
}

/// Groups webhooks by configuration, keeping input order.
pub fn by_configuration<'w, 'a>(
    webhooks: &'w [MeshWebhook<'a>],
) -> Vec<(&'a str, Vec<&'w MeshWebhook<'a>>)> {
    let mut out: Vec<(&'a str, Vec<&'w MeshWebhook<'a>>)> = Vec::new();
    for w in webhooks {
        match out.iter_mut().find(|(c, _)| *c == w.configuration) {
            Some((_, list)) => list.push(w),
            None => out.push((w.configuration, vec![w])),
        }
    }
    out
}

/// `a`, `a and b`, `a, b and 2 more`.
pub fn name_list(names: &[String]) -> String {
    match names {
        [] => String::new(),
        [one] => one.clone(),
        [a, b] => format!("{a} and {b}"),
        [a, b, rest @ ..] => format!("{a}, {b} and {} more", rest.len()),
    }
}

/// Where a certificate came from: an object, a data key, and the bytes found there.
#[derive(Debug, Clone)]
pub struct CertSource {
    pub kind: &'static str,
    pub namespace: Option<String>,
    pub name: String,
    pub key: String,
    pub origin: Origin,
    /// The PEM bytes (decoded Secret data / ConfigMap text).
    pub pem: Vec<u8>,
    pub certs: Vec<CertInfo>,
}

impl CertSource {
    /// `secret istio-system/cacerts (root-cert.pem)`.
    pub fn describe(&self) -> String {
        let ns = self
            .namespace
            .as_deref()
            .map(|n| format!("{n}/"))
            .unwrap_or_default();
        format!(
            "{} {ns}{} ({})",
            self.kind.to_ascii_lowercase(),
            self.name,
            self.key
        )
    }

    /// `data.root-cert.pem`.
    pub fn field(&self) -> String {
        format!("data.{}", self.key)
    }

    /// The command a runbook reader runs to print this value, and the md5 it prints.
    /// `kubectl -o jsonpath` prints Secret data base64-encoded and ConfigMap data as text.
    pub fn runbook_md5(&self) -> (String, String) {
        let ns = self.namespace.as_deref().unwrap_or("default");
        let key = self.key.replace('.', "\\.");
        let kind = self.kind.to_ascii_lowercase();
        let cmd = format!(
            "kubectl -n {ns} get {kind} {} -o jsonpath='{{.data.{key}}}' | md5sum",
            self.name
        );
        let md5 = if self.kind == "Secret" {
            runbook_md5(&self.pem)
        } else {
            runbook_md5_decoded(&self.pem)
        };
        (cmd, md5)
    }

    /// Whether [`CertSource::runbook_md5`] hashes base64 text (Secrets) or the PEM itself.
    pub fn md5_of_base64(&self) -> bool {
        self.kind == "Secret"
    }
}

/// A data value of a Secret (`data`, else `stringData` as written in a manifest).
pub fn secret_value(secret: &Secret, key: &str) -> Option<Vec<u8>> {
    if let Some(v) = secret.data.as_ref().and_then(|d| d.get(key)) {
        return Some(v.0.clone());
    }
    secret
        .string_data
        .as_ref()
        .and_then(|d| d.get(key))
        .map(|s| s.as_bytes().to_vec())
}

fn configmap_value(cm: &ConfigMap, key: &str) -> Option<Vec<u8>> {
    cm.data
        .as_ref()
        .and_then(|d| d.get(key))
        .map(|s| s.as_bytes().to_vec())
        .or_else(|| {
            cm.binary_data
                .as_ref()
                .and_then(|d| d.get(key))
                .map(|b| b.0.clone())
        })
}

/// Why a source that exists could not be used (kept for skip reasons).
pub type Unusable = String;

fn from_secret(
    obj: &Object<Secret>,
    key: &str,
    unusable: &mut Vec<Unusable>,
) -> Option<CertSource> {
    let pem = secret_value(&obj.obj, key)?;
    source("Secret", &obj.obj.metadata, key, &obj.origin, pem, unusable)
}

fn from_configmap(
    obj: &Object<ConfigMap>,
    key: &str,
    unusable: &mut Vec<Unusable>,
) -> Option<CertSource> {
    let pem = configmap_value(&obj.obj, key)?;
    source(
        "ConfigMap",
        &obj.obj.metadata,
        key,
        &obj.origin,
        pem,
        unusable,
    )
}

fn source(
    kind: &'static str,
    meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
    key: &str,
    origin: &Origin,
    pem: Vec<u8>,
    unusable: &mut Vec<Unusable>,
) -> Option<CertSource> {
    let name = meta.name.clone().unwrap_or_default();
    let namespace = meta.namespace.clone();
    match parse_pem_bundle(&pem) {
        Ok(bundle) => Some(CertSource {
            kind,
            namespace,
            name,
            key: key.to_owned(),
            origin: origin.clone(),
            pem,
            certs: bundle.certs,
        }),
        Err(e) => {
            unusable.push(format!(
                "{} {}/{} {key}: {e}",
                kind.to_ascii_lowercase(),
                namespace.unwrap_or_default(),
                name
            ));
            None
        }
    }
}

/// Istio's root of trust for the injector in `namespace` (the control-plane namespace).
///
/// istiod patches the injector `caBundle` with the root of the CA that signed its own serving
/// certificate, and publishes the same root as `istio-ca-root-cert` in every namespace. The
/// ConfigMap in the control-plane namespace is preferred (it reflects the running istiod); then
/// the plugged-in CA Secret `cacerts` (`root-cert.pem`, else `ca-cert.pem`), then the
/// self-signed CA Secret `istio-ca-secret` (`ca-cert.pem`), then the ConfigMap copy in any
/// other namespace.
pub fn istio_root(state: &ClusterState, namespace: &str) -> Result<CertSource, String> {
    const CM: &str = "istio-ca-root-cert";
    let mut unusable = Vec::new();
    if let Some(cm) = state.configmaps.get(Some(namespace), CM)
        && let Some(s) = from_configmap(cm, "root-cert.pem", &mut unusable)
    {
        return Ok(s);
    }
    if let Some(sec) = state.secrets.get(Some(namespace), "cacerts") {
        for key in ["root-cert.pem", "ca-cert.pem"] {
            if let Some(s) = from_secret(sec, key, &mut unusable) {
                return Ok(s);
            }
        }
    }
    if let Some(sec) = state.secrets.get(Some(namespace), "istio-ca-secret")
        && let Some(s) = from_secret(sec, "ca-cert.pem", &mut unusable)
    {
        return Ok(s);
    }
    for cm in state.configmaps.iter() {
        if cm.obj.metadata.name.as_deref() == Some(CM)
            && let Some(s) = from_configmap(cm, "root-cert.pem", &mut unusable)
        {
            return Ok(s);
        }
    }
    let mut why = format!(
        "no Istio root certificate for {namespace}: looked for configmap {CM} (root-cert.pem), secret cacerts (root-cert.pem, ca-cert.pem) and secret istio-ca-secret (ca-cert.pem)"
    );
    append_reasons(state, &mut why, &unusable);
    Err(why)
}

/// The Linkerd proxy injector's TLS Secret in `namespace`: `linkerd-proxy-injector-k8s-tls`
/// (`tls.crt`), or the pre-2.10 `linkerd-proxy-injector-tls` (`crt.pem`).
pub fn linkerd_serving(state: &ClusterState, namespace: &str) -> Option<CertSource> {
    let mut unusable = Vec::new();
    [
        ("linkerd-proxy-injector-k8s-tls", "tls.crt"),
        ("linkerd-proxy-injector-tls", "crt.pem"),
    ]
    .into_iter()
    .find_map(|(name, key)| {
        let sec = state.secrets.get(Some(namespace), name)?;
        from_secret(sec, key, &mut unusable)
    })
}

/// What the Linkerd injector `caBundle` must trust: the CA next to the serving certificate
/// (`ca.crt`, as cert-manager writes it), else the serving certificate itself when it is
/// self-signed (what the chart's `genSelfSignedCert` makes), else the identity trust anchors
/// (`linkerd-identity-trust-roots` / `ca-bundle.crt`) when they issued it.
pub fn linkerd_root(state: &ClusterState, namespace: &str) -> Result<CertSource, String> {
    let mut unusable = Vec::new();
    let tls = state
        .secrets
        .get(Some(namespace), "linkerd-proxy-injector-k8s-tls");
    if let Some(sec) = tls
        && let Some(s) = from_secret(sec, "ca.crt", &mut unusable)
    {
        return Ok(s);
    }
    let serving = linkerd_serving(state, namespace);
    if let Some(s) = &serving
        && let Some(leaf) = s.certs.first()
        && leaf.subject == leaf.issuer
    {
        return Ok(s.clone());
    }
    if let Some(cm) = state
        .configmaps
        .get(Some(namespace), "linkerd-identity-trust-roots")
        && let Some(anchors) = from_configmap(cm, "ca-bundle.crt", &mut unusable)
        && let Some(leaf) = serving.as_ref().and_then(|s| s.certs.last())
        && anchors.certs.iter().any(|a| a.subject == leaf.issuer)
    {
        return Ok(anchors);
    }
    let mut why = format!(
        "no Linkerd injector CA for {namespace}: looked for secret linkerd-proxy-injector-k8s-tls (ca.crt, or a self-signed tls.crt) and configmap linkerd-identity-trust-roots (ca-bundle.crt) as the issuer of tls.crt"
    );
    append_reasons(state, &mut why, &unusable);
    Err(why)
}

/// The root for a mesh's webhook.
pub fn mesh_root(
    state: &ClusterState,
    mesh: MeshKind,
    namespace: &str,
) -> Result<CertSource, String> {
    match mesh {
        MeshKind::Istio => istio_root(state, namespace),
        MeshKind::Linkerd => linkerd_root(state, namespace),
    }
}

/// The injector's serving certificate chain, when the state holds it: Istio's `istiod-tls`
/// (cert-manager / istio-csr, or a custom certificate) or `dns-certs`; Linkerd's injector TLS
/// Secret. istiod's self-signed DNS certificate lives only in memory and is never in a Secret.
pub fn serving_cert(state: &ClusterState, mesh: MeshKind, namespace: &str) -> Option<CertSource> {
    match mesh {
        MeshKind::Linkerd => linkerd_serving(state, namespace),
        MeshKind::Istio => {
            let mut unusable = Vec::new();
            ["istiod-tls", "dns-certs"].into_iter().find_map(|name| {
                let sec = state.secrets.get(Some(namespace), name)?;
                ["tls.crt", "cert-chain.pem", "cert.pem"]
                    .into_iter()
                    .find_map(|key| from_secret(sec, key, &mut unusable))
            })
        }
    }
}

fn append_reasons(state: &ClusterState, why: &mut String, unusable: &[Unusable]) {
    for u in unusable {
        why.push_str(&format!("; {u}"));
    }
    for kind in [crate::state::Kind::ConfigMap, crate::state::Kind::Secret] {
        if let Some(r) = state.unavailable_reason(kind) {
            why.push_str(&format!("; {r}"));
        }
    }
}

/// The Service a webhook calls, and the port entry that serves the webhook port.
pub fn service_port(service: &Service, port: i32) -> Option<&ServicePort> {
    service
        .spec
        .as_ref()?
        .ports
        .iter()
        .flatten()
        .find(|p| p.port == port)
}

/// `15017` / `"https-webhook"`; a missing targetPort defaults to the port itself.
pub fn target_port(port: &ServicePort) -> IntOrString {
    port.target_port
        .clone()
        .unwrap_or(IntOrString::Int(port.port))
}

pub fn show_int_or_string(v: &IntOrString) -> String {
    match v {
        IntOrString::Int(i) => i.to_string(),
        IntOrString::String(s) => s.clone(),
    }
}

/// The label sets of the pods a Service selects: the labels of matching pods and pod templates
/// in the state, or the selector itself (every selected pod has at least those labels).
pub fn selected_pod_labels(
    state: &ClusterState,
    namespace: &str,
    selector: &BTreeMap<String, String>,
) -> Vec<BTreeMap<String, String>> {
    let matches =
        |labels: &BTreeMap<String, String>| selector.iter().all(|(k, v)| labels.get(k) == Some(v));
    let mut out: Vec<BTreeMap<String, String>> = Vec::new();
    let mut push = |labels: Option<&BTreeMap<String, String>>| {
        if let Some(l) = labels
            && matches(l)
            && !out.contains(l)
        {
            out.push(l.clone());
        }
    };
    for p in state.pods.in_namespace(Some(namespace)) {
        push(p.obj.metadata.labels.as_ref());
    }
    for d in state.deployments.in_namespace(Some(namespace)) {
        push(
            d.obj
                .spec
                .template
                .metadata
                .as_ref()
                .and_then(|m| m.labels.as_ref()),
        );
    }
    if out.is_empty() {
        out.push(selector.clone());
    }
    out
}

/// The container port number behind a named target port, from pods or pod templates the
/// Service selects.
pub fn resolve_named_port(
    state: &ClusterState,
    namespace: &str,
    selector: &BTreeMap<String, String>,
    name: &str,
) -> Option<i32> {
    let matches = |labels: Option<&BTreeMap<String, String>>| {
        labels.is_some_and(|l| selector.iter().all(|(k, v)| l.get(k) == Some(v)))
    };
    let specs = state
        .pods
        .in_namespace(Some(namespace))
        .filter(|p| matches(p.obj.metadata.labels.as_ref()))
        .filter_map(|p| p.obj.spec.as_ref())
        .chain(
            state
                .deployments
                .in_namespace(Some(namespace))
                .map(|d| &d.obj.spec)
                .filter(|s| matches(s.template.metadata.as_ref().and_then(|m| m.labels.as_ref())))
                .filter_map(|s| s.template.spec.as_ref()),
        );
    for spec in specs {
        for c in &spec.containers {
            for p in c.ports.iter().flatten() {
                if p.name.as_deref() == Some(name) {
                    return Some(p.container_port);
                }
            }
        }
    }
    None
}

/// The webhook server port a mesh's injector listens on, by its charts (istiod `15017`,
/// Linkerd's proxy injector `8443`): used when a named port cannot be resolved from the state.
pub fn default_webhook_port(mesh: MeshKind) -> i32 {
    match mesh {
        MeshKind::Istio => 15017,
        MeshKind::Linkerd => 8443,
    }
}

/// A short description of a certificate: `CN=istiod (sha256 1a2b3c4d…)`.
pub fn cert_label(c: &CertInfo) -> String {
    let fp: String = c.sha256_fingerprint.chars().take(16).collect();
    format!("{} (sha256 {fp}…)", c.subject)
}

/// What is wrong with a webhook's `caBundle`, when it yields no usable certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BundleProblem {
    /// Absent, or only whitespace.
    Empty,
    /// Present but the API server cannot load it: what it holds, and the error the API server
    /// reports for every call (`could not get REST client: <error>`).
    Undecodable { what: String, apiserver: String },
}

/// Decodes a webhook's `caBundle` (the bytes after the API server's base64 decoding) the way
/// the API server's TLS client loads it (client-go `rootCertPool`).
pub fn webhook_bundle(raw: Option<&[u8]>) -> Result<crate::pki::CaBundle, BundleProblem> {
    use crate::pki::{CaBundleEncoding, CaBundleError, PemError, decode_ca_bundle};
    const NOT_PEM: &str = "unable to load root certificates: unable to parse bytes as PEM block";
    let Some(raw) = raw else {
        return Err(BundleProblem::Empty);
    };
    let undecodable =
        |what: String, apiserver: String| BundleProblem::Undecodable { what, apiserver };
    match decode_ca_bundle(raw) {
        Ok(b) if b.encoding == CaBundleEncoding::Pem => Ok(b),
        Ok(_) => Err(undecodable(
            "base64 text instead of PEM: the value was base64-encoded twice".to_owned(),
            NOT_PEM.to_owned(),
        )),
        Err(CaBundleError::Empty) => Err(BundleProblem::Empty),
        Err(CaBundleError::Der) => Err(undecodable(
            "a DER certificate instead of PEM text".to_owned(),
            NOT_PEM.to_owned(),
        )),
        Err(CaBundleError::DoubleBase64) => Err(undecodable(
            "base64 text instead of PEM: the value was base64-encoded three times".to_owned(),
            NOT_PEM.to_owned(),
        )),
        // The bytes here are already decoded from the field's base64, so bytes that are
        // neither PEM nor base64 of PEM are simply not PEM: a base64 offset would mislead.
        Err(CaBundleError::InvalidBase64 { .. } | CaBundleError::Base64 { .. }) => {
            Err(undecodable(
                "no PEM block (the decoded value is not PEM text)".to_owned(),
                NOT_PEM.to_owned(),
            ))
        }
        Err(CaBundleError::Pem(PemError::NoCertificate { labels })) => Err(undecodable(
            format!("no CERTIFICATE block (only {})", labels.join(", ")),
            "unable to load root certificates: no valid certificate authority data seen".to_owned(),
        )),
        Err(CaBundleError::Pem(e @ PemError::NotACertificate { .. })) => Err(undecodable(
            e.to_string(),
            "unable to load root certificates: failed to parse certificate: …".to_owned(),
        )),
        Err(e) => Err(undecodable(
            e.to_string().trim_start_matches("caBundle: ").to_owned(),
            NOT_PEM.to_owned(),
        )),
    }
}

/// A `kubectl patch` that sets a webhook's `caBundle` from the mesh's own CA (base64 exactly
/// once, as the field needs): Istio's `istio-ca-root-cert`, Linkerd's injector TLS Secret.
pub fn patch_ca_bundle_command(w: &MeshWebhook<'_>, namespace: &str) -> String {
    let value = match w.mesh {
        MeshKind::Istio => format!(
            "$(kubectl -n {namespace} get configmap istio-ca-root-cert -o jsonpath='{{.data.root-cert\\.pem}}' | base64 -w0)"
        ),
        MeshKind::Linkerd => format!(
            "$(kubectl -n {namespace} get secret linkerd-proxy-injector-k8s-tls -o jsonpath='{{.data.tls\\.crt}}')"
        ),
    };
    format!(
        "kubectl patch mutatingwebhookconfiguration {} --type=json -p \"[{{\\\"op\\\":\\\"replace\\\",\\\"path\\\":\\\"{}\\\",\\\"value\\\":\\\"{value}\\\"}}]\"",
        w.configuration,
        w.patch_path("clientConfig/caBundle")
    )
}

/// A `kubectl patch` that copies `source` into a webhook's `caBundle` (base64 exactly once:
/// Secret data already prints as base64, ConfigMap text is encoded).
pub fn patch_from_source_command(w: &MeshWebhook<'_>, source: &CertSource) -> String {
    let ns = source.namespace.as_deref().unwrap_or("default");
    let key = source.key.replace('.', "\\.");
    let value = if source.kind == "Secret" {
        format!(
            "$(kubectl -n {ns} get secret {} -o jsonpath='{{.data.{key}}}')",
            source.name
        )
    } else {
        format!(
            "$(kubectl -n {ns} get configmap {} -o jsonpath='{{.data.{key}}}' | base64 -w0)",
            source.name
        )
    };
    format!(
        "kubectl patch mutatingwebhookconfiguration {} --type=json -p \"[{{\\\"op\\\":\\\"replace\\\",\\\"path\\\":\\\"{}\\\",\\\"value\\\":\\\"{value}\\\"}}]\"",
        w.configuration,
        w.patch_path("clientConfig/caBundle")
    )
}

/// The webhooks that call one Service port, and whether any of them fails closed.
pub struct ServiceUse<'w, 'a> {
    pub service: ServiceRef,
    pub webhooks: Vec<&'w MeshWebhook<'a>>,
}

impl ServiceUse<'_, '_> {
    pub fn any_fail_closed(&self) -> bool {
        self.webhooks.iter().any(|w| !w.fails_open())
    }

    pub fn mesh(&self) -> MeshKind {
        self.webhooks.first().map_or(MeshKind::Istio, |w| w.mesh)
    }

    /// `istio-sidecar-injector (4 webhooks), istio-revision-tag-default`.
    pub fn configurations(&self) -> String {
        let mut names: Vec<&str> = Vec::new();
        for w in &self.webhooks {
            if !names.contains(&w.configuration) {
                names.push(w.configuration);
            }
        }
        names.join(", ")
    }

    /// What a failing call does to pods under the strictest failurePolicy in use.
    pub fn consequence(&self) -> &'static str {
        if self.any_fail_closed() {
            "with failurePolicy Fail, every pod creation in the namespaces it selects fails"
        } else {
            "with failurePolicy Ignore, pods in the namespaces it selects start without a sidecar"
        }
    }

    pub fn severity(&self) -> crate::check::Severity {
        if self.any_fail_closed() {
            crate::check::Severity::Error
        } else {
            crate::check::Severity::Warning
        }
    }
}

/// Service-backed webhooks grouped by the Service port they call, in input order.
pub fn by_service<'w, 'a>(webhooks: &'w [MeshWebhook<'a>]) -> Vec<ServiceUse<'w, 'a>> {
    let mut out: Vec<ServiceUse<'w, 'a>> = Vec::new();
    for w in webhooks {
        let Some(svc) = w.service() else {
            continue;
        };
        match out.iter_mut().find(|u| u.service == svc) {
            Some(u) => u.webhooks.push(w),
            None => out.push(ServiceUse {
                service: svc,
                webhooks: vec![w],
            }),
        }
    }
    out
}

/// `webhook "a"` / `webhooks "a" and "b"`, and whether that is plural (for the verb).
pub fn which_webhooks<'w, 'a: 'w>(
    webhooks: impl IntoIterator<Item = &'w MeshWebhook<'a>>,
) -> (String, bool) {
    let names: Vec<String> = webhooks
        .into_iter()
        .map(|w| format!("\"{}\"", w.webhook.name))
        .collect();
    let plural = names.len() > 1;
    let noun = if plural { "webhooks" } else { "webhook" };
    (format!("{noun} {}", name_list(&names)), plural)
}

/// Runs one check over YAML text, for the unit tests of the machinery checks.
#[cfg(test)]
pub(crate) mod testing {
    use crate::check::{Check, CheckContext, Finding, Skip};
    use crate::engine::{Engine, EngineOptions};
    use crate::source::offline::{LoadOptions, load_text};
    use crate::state::ClusterState;

    pub const NOW: i64 = 1_750_000_000;

    pub fn run(check: &dyn Check, yaml: &str) -> Result<Vec<Finding>, Skip> {
        run_with(check, yaml, false)
    }

    /// [`run`] with every pod and workload of the input decided, as the check runner does.
    pub fn run_on_subjects(check: &dyn Check, yaml: &str) -> Result<Vec<Finding>, Skip> {
        run_with(check, yaml, true)
    }

    fn run_with(check: &dyn Check, yaml: &str, decide: bool) -> Result<Vec<Finding>, Skip> {
        let mut state = ClusterState::default();
        load_text(&mut state, "test.yaml", yaml, &LoadOptions::default())
            .unwrap_or_else(|e| panic!("test input does not load: {e}"));
        let engine = Engine::new(&state, EngineOptions::default());
        let subjects: Vec<_> = if decide {
            crate::workload::all_subjects(&state, None)
                .into_iter()
                .map(|s| {
                    let v = engine.verdict(&s);
                    (s, v)
                })
                .collect()
        } else {
            Vec::new()
        };
        let ctx = CheckContext {
            state: &state,
            engine: &engine,
            subjects: &subjects,
            namespace: None,
            now_unix: NOW,
            cert_warn_days: 30,
            preflight: None,
        };
        let mut out = Vec::new();
        check.run(&ctx, &mut out).map(|()| out)
    }

    /// An Istio injector configuration with one webhook; `extra` is appended to the webhook.
    pub fn istio_mwc(name: &str, service: &str, extra: &str) -> String {
        format!(
            "apiVersion: admissionregistration.k8s.io/v1
kind: MutatingWebhookConfiguration
metadata: {{name: {name}, labels: {{istio.io/rev: default}}}}
webhooks:
- name: namespace.sidecar-injector.istio.io
  clientConfig:
    service: {{name: {service}, namespace: istio-system, path: /inject}}
  rules:
  - {{operations: [CREATE], apiGroups: [\"\"], apiVersions: [v1], resources: [pods]}}
  sideEffects: None
  admissionReviewVersions: [v1]
{extra}
"
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pki::testgen;
    use base64::Engine as _;

    fn b64(b: &[u8]) -> String {
        base64::engine::general_purpose::STANDARD.encode(b)
    }

    #[test]
    fn a_bundle_of_plain_text_is_not_pem_rather_than_bad_base64() {
        let Err(BundleProblem::Undecodable { what, apiserver }) =
            webhook_bundle(Some(b"hello, this is not a certificate\n"))
        else {
            panic!("plain text must be undecodable");
        };
        assert_eq!(what, "no PEM block (the decoded value is not PEM text)");
        assert!(
            apiserver.contains("unable to parse bytes as PEM block"),
            "{apiserver}"
        );
    }

    #[test]
    fn bundle_problems_say_what_the_api_server_reports() {
        let ca = testgen::ca("root");
        assert!(webhook_bundle(Some(ca.cert_pem.as_bytes())).is_ok());
        assert_eq!(webhook_bundle(None), Err(BundleProblem::Empty));
        assert_eq!(webhook_bundle(Some(b" \n")), Err(BundleProblem::Empty));

        let Err(BundleProblem::Undecodable { what, apiserver }) =
            webhook_bundle(Some(b64(ca.cert_pem.as_bytes()).as_bytes()))
        else {
            panic!("base64 text must be undecodable");
        };
        assert!(what.contains("base64-encoded twice"), "{what}");
        assert!(apiserver.ends_with("unable to parse bytes as PEM block"));

        let der = parse_pem_bundle(ca.cert_pem.as_bytes()).unwrap().certs[0]
            .der
            .clone();
        let Err(BundleProblem::Undecodable { what, .. }) = webhook_bundle(Some(&der)) else {
            panic!("DER must be undecodable");
        };
        assert!(what.contains("DER"), "{what}");

        let Err(BundleProblem::Undecodable { what, apiserver }) =
            webhook_bundle(Some(ca.key_pem.as_bytes()))
        else {
            panic!("a key alone must be undecodable");
        };
        assert!(what.contains("PRIVATE KEY"), "{what}");
        assert!(apiserver.contains("no valid certificate authority data seen"));
    }

    #[test]
    fn runbook_md5_commands_match_how_kubectl_prints_each_kind() {
        let src = |kind: &'static str| CertSource {
            kind,
            namespace: Some("istio-system".to_owned()),
            name: "x".to_owned(),
            key: "root-cert.pem".to_owned(),
            origin: Origin::Derived,
            pem: b"hello\n".to_vec(),
            certs: Vec::new(),
        };
        let (cmd, md5) = src("Secret").runbook_md5();
        assert_eq!(
            cmd,
            "kubectl -n istio-system get secret x -o jsonpath='{.data.root-cert\\.pem}' | md5sum"
        );
        // md5 of "aGVsbG8K", the base64 kubectl prints for Secret data.
        assert_eq!(md5, "6b70b3a2e20c0f3fe876d8a107b7753d");
        let (cmd, md5) = src("ConfigMap").runbook_md5();
        assert!(cmd.contains("get configmap x"), "{cmd}");
        assert_eq!(md5, "b1946ac92492d2347c6235b4d2611184");
    }

    #[test]
    fn linkerd_root_prefers_ca_crt_then_a_self_signed_tls_crt() {
        let ca = testgen::ca("webhook ca");
        let (leaf, _) = testgen::serving(
            &ca,
            &["linkerd-proxy-injector.linkerd.svc"],
            testing::NOW - 86_400,
            testing::NOW + 86_400 * 90,
        );
        let secret = |extra: &str| {
            format!(
                "apiVersion: v1\nkind: Secret\nmetadata: {{name: linkerd-proxy-injector-k8s-tls, namespace: linkerd}}\ndata:\n  tls.crt: {}\n{extra}",
                b64(leaf.as_bytes())
            )
        };
        let load = |yaml: &str| {
            let mut state = ClusterState::default();
            crate::source::offline::load_text(&mut state, "t.yaml", yaml, &Default::default())
                .unwrap();
            state
        };
        // Issued by a CA that is nowhere in the input: no root can be named.
        let state = load(&secret(""));
        let err = linkerd_root(&state, "linkerd").unwrap_err();
        assert!(err.contains("linkerd-identity-trust-roots"), "{err}");
        // cert-manager's ca.crt.
        let state = load(&secret(&format!(
            "  ca.crt: {}\n",
            b64(ca.cert_pem.as_bytes())
        )));
        let root = linkerd_root(&state, "linkerd").unwrap();
        assert_eq!(root.key, "ca.crt");
        assert_eq!(root.certs[0].subject, "CN=webhook ca");
    }
}
