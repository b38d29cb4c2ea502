//! Table tests for webhook matching: rule forms and scopes, selectors, ordering, validation,
//! matchConditions, the namespace auto-label, and the Istio webhook shapes (as generic data:
//! the module itself knows nothing about Istio).

use std::collections::BTreeMap;

use k8s_openapi::api::admissionregistration::v1::MutatingWebhookConfiguration;
use serde_json::{Value, json};

use super::*;
use crate::trace::{NoTrace, StepResult, Trace};

// ---------- helpers ----------

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// `[(key, op, values)]` → a selector JSON with `matchExpressions`.
fn exprs(list: &[(&str, &str, &[&str])]) -> Value {
    let e: Vec<Value> = list
        .iter()
        .map(|(k, op, vals)| {
            if vals.is_empty() {
                json!({"key": k, "operator": op})
            } else {
                json!({"key": k, "operator": op, "values": vals})
            }
        })
        .collect();
    json!({"matchExpressions": e})
}

fn pods_rule() -> Value {
    json!([{"operations": ["CREATE"], "apiGroups": [""], "apiVersions": ["v1"], "resources": ["pods"]}])
}

fn webhook(name: &str, ns: Value, obj: Value) -> Value {
    let mut w = json!({
        "name": name,
        "clientConfig": {"service": {"name": "injector", "namespace": "mesh-system", "path": "/inject"}},
        "sideEffects": "None",
        "admissionReviewVersions": ["v1"],
        "rules": pods_rule(),
    });
    if !ns.is_null() {
        w["namespaceSelector"] = ns;
    }
    if !obj.is_null() {
        w["objectSelector"] = obj;
    }
    w
}

fn config(name: &str, webhooks: Vec<Value>) -> MutatingWebhookConfiguration {
    serde_json::from_value(json!({
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "MutatingWebhookConfiguration",
        "metadata": {"name": name},
        "webhooks": webhooks,
    }))
    .expect("test configuration must deserialize")
}

fn compile_one(cfg: &MutatingWebhookConfiguration) -> Vec<CompiledWebhook> {
    let (w, errors) = compile_configurations(&[cfg]);
    assert!(errors.is_empty(), "unexpected compile errors: {errors:?}");
    w
}

fn pod_json(name: &str, ns: &str, l: &BTreeMap<String, String>) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": ns, "labels": l},
           "spec": {"containers": [{"name": "app", "image": "nginx"}]}})
}

/// Matches a pod CREATE in `ns` (labels `ns_labels`, run through the ≥1.21 auto-label).
fn outcome(
    w: &CompiledWebhook,
    ns: &str,
    ns_labels: &BTreeMap<String, String>,
    pod_labels: &BTreeMap<String, String>,
) -> MatchOutcome {
    let eff = effective_namespace_labels(ns, ns_labels, MetadataNameLabel::Set);
    let pod = pod_json("web-1", ns, pod_labels);
    let req = AdmissionRequest::pod_create(ns, "web-1", &pod, Some(pod_labels), Some(&eff));
    let plain = w.matches(&req, &mut NoTrace);
    let mut t = Trace::default();
    assert_eq!(
        w.matches(&req, &mut t),
        plain,
        "tracing must not change the outcome"
    );
    plain
}

/// Names (`config/webhook`) of the webhooks that match.
fn matched(
    ws: &[CompiledWebhook],
    ns: &str,
    ns_labels: &BTreeMap<String, String>,
    pod_labels: &BTreeMap<String, String>,
) -> Vec<String> {
    ws.iter()
        .filter(|w| outcome(w, ns, ns_labels, pod_labels).is_matched())
        .map(|w| format!("{}/{}", w.configuration, w.name))
        .collect()
}

fn generic_request<'a>(
    op: Operation,
    resource: Gvr<'a>,
    sub: &'a str,
    namespace: &'a str,
    obj: Option<&'a BTreeMap<String, String>>,
    ns_labels: Option<&'a BTreeMap<String, String>>,
) -> AdmissionRequest<'a> {
    AdmissionRequest {
        operation: op,
        resource,
        subresource: sub,
        kind: Gvk {
            group: resource.group,
            version: resource.version,
            kind: "Thing",
        },
        namespace,
        name: "x",
        object: None,
        object_labels: obj,
        old_object: None,
        old_object_labels: None,
        namespace_labels: ns_labels,
        user_info: None,
        dry_run: false,
    }
}

const PODS: Gvr<'static> = Gvr {
    group: "",
    version: "v1",
    resource: "pods",
};
const NAMESPACES: Gvr<'static> = Gvr {
    group: "",
    version: "v1",
    resource: "namespaces",
};
const NODES: Gvr<'static> = Gvr {
    group: "",
    version: "v1",
    resource: "nodes",
};
const DEPLOYMENTS: Gvr<'static> = Gvr {
    group: "apps",
    version: "v1",
    resource: "deployments",
};

#[test]
fn compiled_webhooks_are_shareable_across_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<CompiledWebhook>();
}

// ---------- rules ----------

#[test]
fn rule_forms_and_scopes() {
    let empty = BTreeMap::new();
    // (rule JSON, op, resource, subresource, namespace, expected)
    let cases: Vec<(Value, Operation, Gvr, &str, &str, bool)> = vec![
        (
            json!({"operations": ["CREATE"], "apiGroups": [""], "apiVersions": ["v1"], "resources": ["pods"]}),
            Operation::Create,
            PODS,
            "",
            "ns",
            true,
        ),
        (
            json!({"operations": ["CREATE"], "apiGroups": [""], "apiVersions": ["v1"], "resources": ["pods"]}),
            Operation::Update,
            PODS,
            "",
            "ns",
            false,
        ),
        (
            json!({"operations": ["CREATE"], "apiGroups": [""], "apiVersions": ["v1"], "resources": ["pods"]}),
            Operation::Create,
            PODS,
            "status",
            "ns",
            false,
        ),
        (
            json!({"operations": ["CREATE"], "apiGroups": [""], "apiVersions": ["v1"], "resources": ["pods"]}),
            Operation::Create,
            PODS,
            "exec",
            "ns",
            false,
        ),
        (
            json!({"operations": ["*"], "apiGroups": [""], "apiVersions": ["v1"], "resources": ["pods"]}),
            Operation::Connect,
            PODS,
            "",
            "ns",
            true,
        ),
        (
            json!({"operations": ["CREATE", "UPDATE"], "apiGroups": [""], "apiVersions": ["v1"], "resources": ["pods"]}),
            Operation::Delete,
            PODS,
            "",
            "ns",
            false,
        ),
        // `*` is every resource but no subresource.
        (
            json!({"operations": ["CREATE"], "apiGroups": ["*"], "apiVersions": ["*"], "resources": ["*"]}),
            Operation::Create,
            DEPLOYMENTS,
            "",
            "ns",
            true,
        ),
        (
            json!({"operations": ["CREATE"], "apiGroups": ["*"], "apiVersions": ["*"], "resources": ["*"]}),
            Operation::Create,
            PODS,
            "status",
            "ns",
            false,
        ),
        // `pods/*` covers pods itself and all of its subresources.
        (
            json!({"operations": ["CREATE"], "apiGroups": [""], "apiVersions": ["v1"], "resources": ["pods/*"]}),
            Operation::Create,
            PODS,
            "",
            "ns",
            true,
        ),
        (
            json!({"operations": ["CREATE"], "apiGroups": [""], "apiVersions": ["v1"], "resources": ["pods/*"]}),
            Operation::Create,
            PODS,
            "exec",
            "ns",
            true,
        ),
        (
            json!({"operations": ["UPDATE"], "apiGroups": [""], "apiVersions": ["v1"], "resources": ["pods/status"]}),
            Operation::Update,
            PODS,
            "status",
            "ns",
            true,
        ),
        (
            json!({"operations": ["UPDATE"], "apiGroups": [""], "apiVersions": ["v1"], "resources": ["pods/status"]}),
            Operation::Update,
            PODS,
            "",
            "ns",
            false,
        ),
        (
            json!({"operations": ["UPDATE"], "apiGroups": ["*"], "apiVersions": ["*"], "resources": ["*/scale"]}),
            Operation::Update,
            DEPLOYMENTS,
            "scale",
            "ns",
            true,
        ),
        (
            json!({"operations": ["UPDATE"], "apiGroups": ["*"], "apiVersions": ["*"], "resources": ["*/scale"]}),
            Operation::Update,
            DEPLOYMENTS,
            "",
            "ns",
            false,
        ),
        (
            json!({"operations": ["*"], "apiGroups": ["*"], "apiVersions": ["*"], "resources": ["*/*"]}),
            Operation::Delete,
            PODS,
            "eviction",
            "ns",
            true,
        ),
        // group and version are exact.
        (
            json!({"operations": ["CREATE"], "apiGroups": ["apps"], "apiVersions": ["v1"], "resources": ["pods"]}),
            Operation::Create,
            PODS,
            "",
            "ns",
            false,
        ),
        (
            json!({"operations": ["CREATE"], "apiGroups": [""], "apiVersions": ["v1beta1"], "resources": ["pods"]}),
            Operation::Create,
            PODS,
            "",
            "ns",
            false,
        ),
        // scope
        (
            json!({"operations": ["CREATE"], "apiGroups": ["*"], "apiVersions": ["*"], "resources": ["*"], "scope": "Namespaced"}),
            Operation::Create,
            PODS,
            "",
            "ns",
            true,
        ),
        (
            json!({"operations": ["CREATE"], "apiGroups": ["*"], "apiVersions": ["*"], "resources": ["*"], "scope": "Namespaced"}),
            Operation::Create,
            NODES,
            "",
            "",
            false,
        ),
        // Namespace objects are cluster-scoped although their requests carry their own name.
        (
            json!({"operations": ["CREATE"], "apiGroups": ["*"], "apiVersions": ["*"], "resources": ["*"], "scope": "Namespaced"}),
            Operation::Create,
            NAMESPACES,
            "",
            "shop",
            false,
        ),
        (
            json!({"operations": ["CREATE"], "apiGroups": ["*"], "apiVersions": ["*"], "resources": ["*"], "scope": "Cluster"}),
            Operation::Create,
            NAMESPACES,
            "",
            "shop",
            true,
        ),
        (
            json!({"operations": ["CREATE"], "apiGroups": ["*"], "apiVersions": ["*"], "resources": ["*"], "scope": "Cluster"}),
            Operation::Create,
            NODES,
            "",
            "",
            true,
        ),
        (
            json!({"operations": ["CREATE"], "apiGroups": ["*"], "apiVersions": ["*"], "resources": ["*"], "scope": "Cluster"}),
            Operation::Create,
            PODS,
            "",
            "ns",
            false,
        ),
        (
            json!({"operations": ["CREATE"], "apiGroups": ["*"], "apiVersions": ["*"], "resources": ["*"], "scope": "*"}),
            Operation::Create,
            NODES,
            "",
            "",
            true,
        ),
        // Subresources follow their parent's scope.
        (
            json!({"operations": ["UPDATE"], "apiGroups": [""], "apiVersions": ["v1"], "resources": ["pods/status"], "scope": "Cluster"}),
            Operation::Update,
            PODS,
            "status",
            "ns",
            false,
        ),
    ];
    for (i, (rule, op, gvr, sub, ns, want)) in cases.into_iter().enumerate() {
        let mut w = webhook("a.b.example.com", Value::Null, Value::Null);
        w["rules"] = json!([rule]);
        let cfg = config("c", vec![w]);
        let ws = compile_one(&cfg);
        let req = generic_request(op, gvr, sub, ns, Some(&empty), Some(&empty));
        let got = ws[0].matches(&req, &mut NoTrace);
        assert_eq!(
            got.is_matched(),
            want,
            "case {i}: {rule} vs {op:?} {gvr:?}/{sub} ns={ns:?}: {got:?}"
        );
        if !want {
            assert_eq!(
                got,
                MatchOutcome::NotMatched(NotMatchedReason::Rules),
                "case {i}"
            );
        }
    }
}

#[test]
fn any_rule_may_match() {
    let mut w = webhook("a.b.example.com", Value::Null, Value::Null);
    w["rules"] = json!([
        {"operations": ["UPDATE"], "apiGroups": [""], "apiVersions": ["v1"], "resources": ["pods"]},
        {"operations": ["CREATE"], "apiGroups": [""], "apiVersions": ["v1"], "resources": ["pods"]},
    ]);
    let cfg = config("c", vec![w]);
    let ws = compile_one(&cfg);
    assert!(outcome(&ws[0], "ns", &labels(&[]), &labels(&[])).is_matched());
    // No rules at all: nothing matches.
    let mut w = webhook("a.b.example.com", Value::Null, Value::Null);
    w["rules"] = json!([]);
    let cfg = config("c", vec![w]);
    let ws = compile_one(&cfg);
    assert_eq!(
        outcome(&ws[0], "ns", &labels(&[]), &labels(&[])),
        MatchOutcome::NotMatched(NotMatchedReason::Rules)
    );
}

#[test]
fn admission_configuration_kinds_are_exempt() {
    let mut w = webhook("a.b.example.com", Value::Null, Value::Null);
    w["rules"] = json!([{"operations": ["*"], "apiGroups": ["*"], "apiVersions": ["*"], "resources": ["*/*"]}]);
    let cfg = config("c", vec![w]);
    let ws = compile_one(&cfg);
    let gvr = Gvr {
        group: "admissionregistration.k8s.io",
        version: "v1",
        resource: "mutatingwebhookconfigurations",
    };
    let mut req = generic_request(Operation::Create, gvr, "", "", Some(&NO_LABELS_TEST), None);
    req.kind = Gvk {
        group: "admissionregistration.k8s.io",
        version: "v1",
        kind: "MutatingWebhookConfiguration",
    };
    assert_eq!(
        ws[0].matches(&req, &mut NoTrace),
        MatchOutcome::NotMatched(NotMatchedReason::ExemptResource)
    );
    req.kind.kind = "SomethingElse";
    assert!(ws[0].matches(&req, &mut NoTrace).is_matched());
}

static NO_LABELS_TEST: BTreeMap<String, String> = BTreeMap::new();

// ---------- selectors ----------

#[test]
fn null_and_empty_selectors_match_everything() {
    for sel in [
        Value::Null,
        json!({}),
        json!({"matchLabels": {}}),
        json!({"matchExpressions": []}),
    ] {
        let cfg = config(
            "c",
            vec![webhook("a.b.example.com", sel.clone(), sel.clone())],
        );
        let ws = compile_one(&cfg);
        assert!(
            ws[0].namespace_selector.is_empty() && ws[0].object_selector.is_empty(),
            "{sel}"
        );
        assert!(
            outcome(&ws[0], "kube-system", &labels(&[]), &labels(&[])).is_matched(),
            "{sel}"
        );
        assert!(
            outcome(&ws[0], "x", &labels(&[("a", "b")]), &labels(&[("c", "d")])).is_matched(),
            "{sel}"
        );
    }
}

#[test]
fn namespace_selector_for_cluster_scoped_and_namespace_objects() {
    let sel = json!({"matchLabels": {"team": "a"}});
    let mut w = webhook("a.b.example.com", sel, Value::Null);
    w["rules"] = json!([{"operations": ["*"], "apiGroups": ["*"], "apiVersions": ["*"], "resources": ["*/*"]}]);
    let cfg = config("c", vec![w]);
    let ws = compile_one(&cfg);
    let w = &ws[0];
    let team_a = labels(&[("team", "a")]);
    let team_b = labels(&[("team", "b")]);

    // Cluster-scoped objects are never excluded by the namespaceSelector.
    let req = generic_request(Operation::Create, NODES, "", "", Some(&team_b), None);
    assert!(w.matches(&req, &mut NoTrace).is_matched());

    // Namespace CREATE/UPDATE: the incoming object's labels, not the stored ones.
    let req = generic_request(
        Operation::Create,
        NAMESPACES,
        "",
        "shop",
        Some(&team_a),
        Some(&team_b),
    );
    assert!(w.matches(&req, &mut NoTrace).is_matched());
    let req = generic_request(
        Operation::Update,
        NAMESPACES,
        "",
        "shop",
        Some(&team_b),
        Some(&team_a),
    );
    assert_eq!(
        w.matches(&req, &mut NoTrace),
        MatchOutcome::NotMatched(NotMatchedReason::NamespaceSelector)
    );
    // Namespace DELETE and namespace subresources: the stored namespace's labels.
    let req = generic_request(
        Operation::Delete,
        NAMESPACES,
        "",
        "shop",
        None,
        Some(&team_a),
    );
    assert!(w.matches(&req, &mut NoTrace).is_matched());
    let req = generic_request(
        Operation::Update,
        NAMESPACES,
        "finalize",
        "shop",
        Some(&team_a),
        Some(&team_b),
    );
    assert_eq!(
        w.matches(&req, &mut NoTrace),
        MatchOutcome::NotMatched(NotMatchedReason::NamespaceSelector)
    );

    // Namespaced objects: the namespace's labels.
    let req = generic_request(
        Operation::Create,
        PODS,
        "",
        "shop",
        Some(&team_b),
        Some(&team_a),
    );
    assert!(w.matches(&req, &mut NoTrace).is_matched());
}

#[test]
fn unknown_namespace_fails_only_when_rules_match() {
    let cfg = config(
        "c",
        vec![webhook(
            "a.b.example.com",
            json!({"matchLabels": {"team": "a"}}),
            Value::Null,
        )],
    );
    let ws = compile_one(&cfg);
    let none = labels(&[]);
    let req = generic_request(Operation::Create, PODS, "", "ghost", Some(&none), None);
    let mut t = Trace::default();
    assert_eq!(
        ws[0].matches(&req, &mut t),
        MatchOutcome::NotEvaluated {
            reason: NotEvaluatedReason::NamespaceUnknown,
            on_error: Consequence::RequestRejected
        }
    );
    assert_eq!(t.steps[0].result, StepResult::NotEvaluated);
    assert!(
        t.steps[0]
            .detail
            .contains("namespace \"ghost\" is not in the input"),
        "{}",
        t.steps[0].detail
    );
    // The error is swallowed for webhooks whose rules do not match.
    let req = generic_request(Operation::Update, PODS, "", "ghost", Some(&none), None);
    assert_eq!(
        ws[0].matches(&req, &mut NoTrace),
        MatchOutcome::NotMatched(NotMatchedReason::Rules)
    );
    // ... and when the objectSelector already excludes the object.
    let cfg = config(
        "c",
        vec![webhook(
            "a.b.example.com",
            json!({"matchLabels": {"team": "a"}}),
            json!({"matchLabels": {"x": "y"}}),
        )],
    );
    let ws = compile_one(&cfg);
    let req = generic_request(Operation::Create, PODS, "", "ghost", Some(&none), None);
    assert_eq!(
        ws[0].matches(&req, &mut NoTrace),
        MatchOutcome::NotMatched(NotMatchedReason::ObjectSelector)
    );
}

#[test]
fn object_selector_uses_new_or_old_object() {
    let mut w = webhook(
        "a.b.example.com",
        Value::Null,
        json!({"matchLabels": {"app": "web"}}),
    );
    w["rules"] = json!([{"operations": ["*"], "apiGroups": [""], "apiVersions": ["v1"], "resources": ["pods"]}]);
    let cfg = config("c", vec![w]);
    let ws = compile_one(&cfg);
    let web = labels(&[("app", "web")]);
    let db = labels(&[("app", "db")]);
    let ns = labels(&[]);
    // UPDATE: either the new or the old object may match.
    let mut req = generic_request(Operation::Update, PODS, "", "shop", Some(&db), Some(&ns));
    req.old_object_labels = Some(&web);
    assert!(ws[0].matches(&req, &mut NoTrace).is_matched());
    req.old_object_labels = Some(&db);
    assert_eq!(
        ws[0].matches(&req, &mut NoTrace),
        MatchOutcome::NotMatched(NotMatchedReason::ObjectSelector)
    );
    // DELETE: no new object, the old one decides.
    let mut req = generic_request(Operation::Delete, PODS, "", "shop", None, Some(&ns));
    req.old_object_labels = Some(&web);
    assert!(ws[0].matches(&req, &mut NoTrace).is_matched());
    // No object with metadata at all (e.g. CONNECT pods/exec): no match.
    let req = generic_request(Operation::Connect, PODS, "", "shop", None, Some(&ns));
    assert_eq!(
        ws[0].matches(&req, &mut NoTrace),
        MatchOutcome::NotMatched(NotMatchedReason::ObjectSelector)
    );
}

#[test]
fn selector_order_is_namespace_object_then_rules() {
    // Both selectors and the rules fail: the namespaceSelector is reported, as Go checks it first.
    let mut w = webhook(
        "a.b.example.com",
        json!({"matchLabels": {"a": "1"}}),
        json!({"matchLabels": {"b": "1"}}),
    );
    w["rules"] = json!([{"operations": ["DELETE"], "apiGroups": [""], "apiVersions": ["v1"], "resources": ["pods"]}]);
    let cfg = config("c", vec![w]);
    let ws = compile_one(&cfg);
    let none = labels(&[]);
    assert_eq!(
        outcome(&ws[0], "ns", &none, &none),
        MatchOutcome::NotMatched(NotMatchedReason::NamespaceSelector)
    );
    assert_eq!(
        outcome(&ws[0], "ns", &labels(&[("a", "1")]), &none),
        MatchOutcome::NotMatched(NotMatchedReason::ObjectSelector)
    );
    assert_eq!(
        outcome(&ws[0], "ns", &labels(&[("a", "1")]), &labels(&[("b", "1")])),
        MatchOutcome::NotMatched(NotMatchedReason::Rules)
    );
}

// ---------- kubernetes.io/metadata.name ----------

#[test]
fn metadata_name_label_on_and_off() {
    let stored = labels(&[("team", "a")]);
    let on = effective_namespace_labels("kube-system", &stored, MetadataNameLabel::Set);
    assert_eq!(
        on.get(METADATA_NAME_LABEL).map(String::as_str),
        Some("kube-system")
    );
    assert_eq!(on.get("team").map(String::as_str), Some("a"));
    let off = effective_namespace_labels("kube-system", &stored, MetadataNameLabel::Absent);
    assert!(matches!(off, std::borrow::Cow::Borrowed(_)));
    assert_eq!(off.get(METADATA_NAME_LABEL), None);
    // A user-supplied different value is overwritten; a correct one is borrowed as is.
    let wrong = labels(&[(METADATA_NAME_LABEL, "other")]);
    let fixed = effective_namespace_labels("shop", &wrong, MetadataNameLabel::Set);
    assert_eq!(
        fixed.get(METADATA_NAME_LABEL).map(String::as_str),
        Some("shop")
    );
    let right = labels(&[(METADATA_NAME_LABEL, "shop")]);
    assert!(matches!(
        effective_namespace_labels("shop", &right, MetadataNameLabel::Set),
        std::borrow::Cow::Borrowed(_)
    ));
    // No name yet (generateName): nothing to add.
    assert_eq!(
        effective_namespace_labels("", &stored, MetadataNameLabel::Set).get(METADATA_NAME_LABEL),
        None
    );
}

#[test]
fn not_in_kube_system_relies_on_the_auto_label() {
    let sel = exprs(&[(
        METADATA_NAME_LABEL,
        "NotIn",
        &["kube-system", "cert-manager"],
    )]);
    let cfg = config("c", vec![webhook("a.b.example.com", sel, Value::Null)]);
    let ws = compile_one(&cfg);
    let pod_labels = labels(&[]);
    let pod = pod_json("p", "kube-system", &pod_labels);
    let stored = labels(&[]);
    let check = |mode| {
        let eff = effective_namespace_labels("kube-system", &stored, mode);
        let req =
            AdmissionRequest::pod_create("kube-system", "p", &pod, Some(&pod_labels), Some(&eff));
        ws[0].matches(&req, &mut NoTrace).is_matched()
    };
    assert!(
        !check(MetadataNameLabel::Set),
        "≥1.21: kube-system is excluded"
    );
    assert!(
        check(MetadataNameLabel::Absent),
        "1.20: NotIn holds on the absent key, kube-system is NOT excluded"
    );
}

// ---------- ordering and validation ----------

#[test]
fn configurations_sorted_by_name_webhooks_in_order() {
    let b = config(
        "b-config",
        vec![
            webhook("z.b.example.com", Value::Null, Value::Null),
            webhook("a.b.example.com", Value::Null, Value::Null),
        ],
    );
    let a2 = config(
        "a-config-2",
        vec![webhook("m.b.example.com", Value::Null, Value::Null)],
    );
    let upper = config(
        "Z-config",
        vec![webhook("u.b.example.com", Value::Null, Value::Null)],
    );
    let a = config(
        "a-config",
        vec![webhook("k.b.example.com", Value::Null, Value::Null)],
    );
    let (ws, errors) = compile_configurations(&[&b, &a2, &upper, &a]);
    assert!(errors.is_empty(), "{errors:?}");
    let order: Vec<String> = ws
        .iter()
        .map(|w| format!("{}/{}#{}", w.configuration, w.name, w.index))
        .collect();
    // Byte-wise: uppercase sorts before lowercase.
    assert_eq!(
        order,
        [
            "Z-config/u.b.example.com#0",
            "a-config/k.b.example.com#0",
            "a-config-2/m.b.example.com#0",
            "b-config/z.b.example.com#0",
            "b-config/a.b.example.com#1",
        ]
    );
}

#[test]
fn defaults_are_applied() {
    let cfg = config(
        "c",
        vec![webhook("a.b.example.com", Value::Null, Value::Null)],
    );
    let ws = compile_one(&cfg);
    let w = &ws[0];
    assert_eq!(w.failure_policy, FailurePolicy::Fail);
    assert_eq!(w.match_policy, MatchPolicy::Equivalent);
    assert_eq!(w.reinvocation_policy, ReinvocationPolicy::Never);
    assert_eq!(w.timeout_seconds, 10);
    assert_eq!(w.side_effects, SideEffects::None);
    assert_eq!(w.rules[0].scope, Scope::All);
    assert_eq!(
        w.client_config.target,
        WebhookTarget::Service {
            namespace: "mesh-system".into(),
            name: "injector".into(),
            port: 443,
            path: Some("/inject".into())
        }
    );
    assert_eq!(
        w.client_config.url(),
        "https://injector.mesh-system.svc:443/inject"
    );
    assert_eq!(
        w.client_config.server_name().as_deref(),
        Some("injector.mesh-system.svc")
    );
    assert_eq!(w.client_config.ca_bundle, None);
}

#[test]
fn explicit_fields_and_ca_bundle() {
    let mut w = webhook("a.b.example.com", Value::Null, Value::Null);
    w["failurePolicy"] = json!("Ignore");
    w["matchPolicy"] = json!("Exact");
    w["reinvocationPolicy"] = json!("IfNeeded");
    w["timeoutSeconds"] = json!(30);
    w["sideEffects"] = json!("NoneOnDryRun");
    w["clientConfig"] = json!({"url": "https://hook.example.com/x", "caBundle": "aGVsbG8="});
    let cfg = config("c", vec![w]);
    let ws = compile_one(&cfg);
    let w = &ws[0];
    assert_eq!(w.failure_policy, FailurePolicy::Ignore);
    assert_eq!(w.on_error(), Consequence::WebhookSkipped);
    assert_eq!(w.match_policy, MatchPolicy::Exact);
    assert_eq!(w.reinvocation_policy, ReinvocationPolicy::IfNeeded);
    assert_eq!(w.timeout_seconds, 30);
    assert!(w.side_effects.supports_dry_run());
    assert_eq!(
        w.client_config.target,
        WebhookTarget::Url("https://hook.example.com/x".into())
    );
    assert_eq!(w.client_config.ca_bundle.as_deref(), Some(&b"hello"[..]));
}

#[test]
fn invalid_webhooks_are_located_and_drop_their_configuration() {
    let with = |f: &dyn Fn(&mut Value)| {
        let mut w = webhook("a.b.example.com", Value::Null, Value::Null);
        f(&mut w);
        w
    };
    let cases: Vec<(Value, &str)> = vec![
        (
            with(&|w| w["namespaceSelector"] = exprs(&[("istio-injection", "Inn", &["enabled"])])),
            "webhooks[1].namespaceSelector.matchExpressions[0].operator: unknown operator \"Inn\"",
        ),
        (
            with(&|w| w["objectSelector"] = exprs(&[("a", "Exists", &["x"])])),
            "webhooks[1].objectSelector.matchExpressions[0].values: values may not be specified when operator is Exists",
        ),
        (
            with(&|w| w["timeoutSeconds"] = json!(31)),
            "webhooks[1].timeoutSeconds: the timeout value must be between 1 and 30 seconds",
        ),
        (
            with(&|w| w["failurePolicy"] = json!("Never")),
            "webhooks[1].failurePolicy: unsupported value \"Never\": supported values are \"Fail\", \"Ignore\"",
        ),
        (
            with(&|w| w["sideEffects"] = json!("")),
            "webhooks[1].sideEffects: must specify one of None, NoneOnDryRun",
        ),
        (
            with(&|w| w["admissionReviewVersions"] = json!(["v2"])),
            "webhooks[1].admissionReviewVersions: must include at least one of v1, v1beta1",
        ),
        (
            with(&|w| w["name"] = json!("injector")),
            "webhooks[1].name: \"injector\" should be a domain with at least three segments separated by dots",
        ),
        (
            with(&|w| w["name"] = json!("first.b.example.com")),
            "webhooks[1].name: duplicate value \"first.b.example.com\"",
        ),
        (
            with(
                &|w| w["clientConfig"] = json!({"url": "https://x.example.com", "service": {"name": "a", "namespace": "b"}}),
            ),
            "webhooks[1].clientConfig: exactly one of url or service is required",
        ),
        (
            with(
                &|w| w["rules"] = json!([{"operations": ["CREATE", "*"], "apiGroups": [""], "apiVersions": ["v1"], "resources": ["pods"]}]),
            ),
            "webhooks[1].rules[0].operations: if '*' is present, must not specify other operations",
        ),
        (
            with(
                &|w| w["rules"] = json!([{"operations": ["PATCH"], "apiGroups": [""], "apiVersions": ["v1"], "resources": ["pods"]}]),
            ),
            "webhooks[1].rules[0].operations[0]: unsupported value \"PATCH\": supported values are \"*\", \"CONNECT\", \"CREATE\", \"DELETE\", \"UPDATE\"",
        ),
        (
            with(
                &|w| w["rules"] = json!([{"operations": ["CREATE"], "apiGroups": [""], "apiVersions": ["v1"], "resources": ["*", "pods"]}]),
            ),
            "webhooks[1].rules[0].resources: if '*' is present, must not specify other resources without subresources",
        ),
        (
            with(
                &|w| w["rules"] = json!([{"operations": ["CREATE"], "apiGroups": [""], "apiVersions": ["v1"], "resources": ["pods/*", "pods/status"]}]),
            ),
            "webhooks[1].rules[0].resources: if 'pods/*' is present, must not specify pods/status",
        ),
        (
            with(
                &|w| w["rules"] = json!([{"operations": ["CREATE"], "apiGroups": [""], "apiVersions": ["v1"], "resources": ["*/*", "pods"]}]),
            ),
            "webhooks[1].rules[0].resources: if '*/*' is present, must not specify other resources",
        ),
        (
            with(
                &|w| w["rules"] = json!([{"operations": ["CREATE"], "apiGroups": [""], "apiVersions": ["v1"], "resources": ["pods"], "scope": "Global"}]),
            ),
            "webhooks[1].rules[0].scope: unsupported value \"Global\": supported values are \"*\", \"Cluster\", \"Namespaced\"",
        ),
        (
            with(
                &|w| w["rules"] = json!([{"operations": ["CREATE"], "apiGroups": [], "apiVersions": ["v1"], "resources": ["pods"]}]),
            ),
            "webhooks[1].rules[0].apiGroups: must specify at least one of API groups",
        ),
        (
            with(&|w| {
                w["matchConditions"] = json!([{"name": "a", "expression": "true"}, {"name": "a", "expression": "true"}])
            }),
            "webhooks[1].matchConditions[1].name: duplicate value \"a\"",
        ),
    ];
    for (bad, want) in cases {
        let cfg = config(
            "broken",
            vec![
                webhook("first.b.example.com", Value::Null, Value::Null),
                bad,
            ],
        );
        let ok = config(
            "fine",
            vec![webhook("a.b.example.com", Value::Null, Value::Null)],
        );
        let (ws, errors) = compile_configurations(&[&cfg, &ok]);
        let msgs: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert_eq!(
            msgs,
            [format!("mutatingwebhookconfiguration \"broken\": {want}")]
        );
        // The whole broken configuration is left out; the other one is kept.
        assert_eq!(
            ws.iter().map(|w| &*w.configuration).collect::<Vec<_>>(),
            ["fine"]
        );
    }
}

#[test]
fn origins_are_kept_on_webhooks_errors_and_steps() {
    let path: std::sync::Arc<str> = "fixtures/a.yaml".into();
    let good = config(
        "good",
        vec![webhook(
            "a.b.example.com",
            json!({"matchLabels": {"on": "yes"}}),
            Value::Null,
        )],
    );
    let bad = config(
        "bad",
        vec![webhook(
            "a.b.example.com",
            exprs(&[("k", "Inn", &["v"])]),
            Value::Null,
        )],
    );
    let (ws, errors) = compile_configurations_with_origins(&[
        (&good, Some(crate::origin::Origin::file(&path, 3))),
        (&bad, Some(crate::origin::Origin::file(&path, 40))),
    ]);
    assert_eq!(errors.len(), 1);
    assert_eq!(
        errors[0]
            .origin
            .as_ref()
            .map(ToString::to_string)
            .as_deref(),
        Some("fixtures/a.yaml:40")
    );
    let eff = labels(&[]);
    let pod_labels = labels(&[]);
    let pod = pod_json("p", "shop", &pod_labels);
    let req = AdmissionRequest::pod_create("shop", "p", &pod, Some(&pod_labels), Some(&eff));
    let mut t = Trace::default();
    ws[0].matches(&req, &mut t);
    let src = t.steps[0].source.as_ref().expect("steps cite their source");
    assert_eq!(src.object, "MutatingWebhookConfiguration/good");
    assert_eq!(src.field, "webhooks[0].namespaceSelector");
    assert_eq!(src.location, "fixtures/a.yaml:3");
}

// ---------- traces ----------

#[test]
fn trace_steps_name_selector_and_labels() {
    let cfg = config(
        "c",
        vec![webhook(
            "a.b.example.com",
            json!({"matchLabels": {"istio-injection": "enabled"}}),
            exprs(&[("sidecar.istio.io/inject", "NotIn", &["false"])]),
        )],
    );
    let ws = compile_one(&cfg);
    let pod_labels = labels(&[]);
    let pod = pod_json("web-1", "shop", &pod_labels);
    let ns = labels(&[("team", "a")]);
    let req = AdmissionRequest::pod_create("shop", "web-1", &pod, Some(&pod_labels), Some(&ns));
    let mut t = Trace::default();
    assert_eq!(
        ws[0].matches(&req, &mut t),
        MatchOutcome::NotMatched(NotMatchedReason::NamespaceSelector)
    );
    assert_eq!(t.steps.len(), 1);
    assert_eq!(t.steps[0].step, "namespace-selector");
    assert_eq!(t.steps[0].result, StepResult::Fail);
    assert_eq!(
        t.steps[0].detail,
        "namespaceSelector istio-injection=enabled did not match: namespace \"shop\" has no label istio-injection (needs istio-injection=enabled)"
    );

    let ns = labels(&[("istio-injection", "enabled")]);
    let req = AdmissionRequest::pod_create("shop", "web-1", &pod, Some(&pod_labels), Some(&ns));
    let mut t = Trace::default();
    assert!(ws[0].matches(&req, &mut t).is_matched());
    let ids: Vec<(&str, StepResult)> = t
        .steps
        .iter()
        .map(|s| (s.step.as_str(), s.result))
        .collect();
    assert_eq!(
        ids,
        [
            ("namespace-selector", StepResult::Pass),
            ("object-selector", StepResult::Pass),
            ("webhook-rules", StepResult::Pass),
            ("match-conditions", StepResult::Skip),
        ]
    );
    assert_eq!(
        t.steps[0].detail,
        "namespaceSelector istio-injection=enabled matched: namespace \"shop\" has istio-injection=\"enabled\""
    );
    assert_eq!(
        t.steps[1].detail,
        "objectSelector sidecar.istio.io/inject notin (false) matched: pod \"web-1\" has no sidecar.istio.io/inject"
    );
    assert_eq!(
        t.steps[2].detail,
        "rules[0] CREATE pods (apiGroups \"\", apiVersions v1, scope *) matches CREATE pods (v1) in namespace \"shop\""
    );
}

// ---------- matchConditions ----------

fn with_conditions(conds: Value, failure: &str) -> Vec<CompiledWebhook> {
    let mut w = webhook("a.b.example.com", Value::Null, Value::Null);
    w["matchConditions"] = conds;
    w["failurePolicy"] = json!(failure);
    let cfg = config("c", vec![w]);
    compile_one(&cfg)
}

fn eval_conditions(
    ws: &[CompiledWebhook],
    pod_labels: &BTreeMap<String, String>,
    user: Option<&UserInfo>,
) -> (MatchOutcome, Trace) {
    let pod = pod_json("web-1", "shop", pod_labels);
    let ns = labels(&[]);
    let mut req = AdmissionRequest::pod_create("shop", "web-1", &pod, Some(pod_labels), Some(&ns));
    if let Some(u) = user {
        req = req.with_user_info(u);
    }
    let mut t = Trace::default();
    let o = ws[0].matches(&req, &mut t);
    assert_eq!(ws[0].matches(&req, &mut NoTrace), o);
    (o, t)
}

#[test]
fn match_conditions_true_false() {
    let ws = with_conditions(
        json!([
            {"name": "is-pod", "expression": "request.kind.kind == 'Pod' && request.operation == 'CREATE' && request.namespace == 'shop'"},
            {"name": "no-old", "expression": "oldObject == null && request.resource.resource == 'pods' && !has(request.subResource)"},
            {"name": "has-app", "expression": "object.spec.containers.exists(c, c.name == 'app')"},
        ]),
        "Fail",
    );
    let (o, t) = eval_conditions(&ws, &labels(&[]), None);
    assert_eq!(o, MatchOutcome::Matched);
    assert_eq!(t.steps.last().map(|s| s.result), Some(StepResult::Pass));

    let ws = with_conditions(
        json!([
            {"name": "always", "expression": "true"},
            {"name": "skip-web", "expression": "object.metadata.name != 'web-1'"},
        ]),
        "Fail",
    );
    let (o, t) = eval_conditions(&ws, &labels(&[]), None);
    assert_eq!(
        o,
        MatchOutcome::NotMatched(NotMatchedReason::MatchConditionFalse {
            name: "skip-web".into()
        })
    );
    let last = t.steps.last().expect("a step");
    assert_eq!(
        (last.step.as_str(), last.result),
        ("match-conditions", StepResult::Fail)
    );
    assert!(
        last.detail.contains("\"skip-web\" is false"),
        "{}",
        last.detail
    );
}

#[test]
fn match_condition_label_keys_are_not_escaped() {
    let ws = with_conditions(
        json!([{"name": "opted-in", "expression": "object.metadata.labels['sidecar.istio.io/inject'] == 'true'"}]),
        "Fail",
    );
    let (o, _) = eval_conditions(&ws, &labels(&[("sidecar.istio.io/inject", "true")]), None);
    assert_eq!(o, MatchOutcome::Matched);
    let (o, _) = eval_conditions(&ws, &labels(&[("sidecar.istio.io/inject", "false")]), None);
    assert_eq!(
        o,
        MatchOutcome::NotMatched(NotMatchedReason::MatchConditionFalse {
            name: "opted-in".into()
        })
    );
    let ws = with_conditions(
        json!([{"name": "has-key", "expression": "'sidecar.istio.io/inject' in object.metadata.labels"}]),
        "Fail",
    );
    let (o, _) = eval_conditions(&ws, &labels(&[("sidecar.istio.io/inject", "x")]), None);
    assert_eq!(o, MatchOutcome::Matched);
}

#[test]
fn match_condition_errors_follow_failure_policy() {
    let cond = json!([{"name": "missing", "expression": "object.metadata.labels['nope'] == 'x'"}]);
    let (o, t) = eval_conditions(&with_conditions(cond.clone(), "Fail"), &labels(&[]), None);
    match o {
        MatchOutcome::NotEvaluated {
            reason: NotEvaluatedReason::MatchConditionError { name, .. },
            on_error,
        } => {
            assert_eq!(&*name, "missing");
            assert_eq!(on_error, Consequence::RequestRejected);
        }
        other => panic!("expected an evaluation error, got {other:?}"),
    }
    let last = t.steps.last().expect("a step");
    assert_eq!(last.result, StepResult::NotEvaluated);
    assert!(
        last.detail.contains("pods \"web-1\" is forbidden"),
        "{}",
        last.detail
    );
    let (o, _) = eval_conditions(&with_conditions(cond, "Ignore"), &labels(&[]), None);
    assert!(
        matches!(
            o,
            MatchOutcome::NotEvaluated {
                on_error: Consequence::WebhookSkipped,
                ..
            }
        ),
        "{o:?}"
    );

    // A non-bool result is an error too.
    let (o, _) = eval_conditions(
        &with_conditions(json!([{"name": "n", "expression": "1 + 1"}]), "Fail"),
        &labels(&[]),
        None,
    );
    assert!(
        matches!(
            o,
            MatchOutcome::NotEvaluated {
                reason: NotEvaluatedReason::MatchConditionError { .. },
                ..
            }
        ),
        "{o:?}"
    );
}

#[test]
fn a_false_condition_wins_over_an_error() {
    let ws = with_conditions(
        json!([
            {"name": "broken", "expression": "object.metadata.labels['nope'] == 'x'"},
            {"name": "authz", "expression": "authorizer.group('').resource('pods').allowed()"},
            {"name": "no", "expression": "false"},
        ]),
        "Fail",
    );
    let (o, _) = eval_conditions(&ws, &labels(&[]), None);
    assert_eq!(
        o,
        MatchOutcome::NotMatched(NotMatchedReason::MatchConditionFalse { name: "no".into() })
    );
}

#[test]
fn authorizer_and_unknown_user_are_not_evaluated_offline() {
    let ws = with_conditions(
        json!([{"name": "authz", "expression": "authorizer.group('').resource('pods').namespace('shop').check('create').allowed()"}]),
        "Fail",
    );
    let (o, t) = eval_conditions(&ws, &labels(&[]), None);
    assert!(
        matches!(&o, MatchOutcome::NotEvaluated { reason: NotEvaluatedReason::MatchConditionUnsupported { name, .. }, on_error: Consequence::RequestRejected } if &**name == "authz"),
        "{o:?}"
    );
    assert!(
        t.steps
            .last()
            .is_some_and(|s| s.detail.contains("authorizer"))
    );

    let ws = with_conditions(
        json!([{"name": "not-system", "expression": "!request.userInfo.username.startsWith('system:')"}]),
        "Ignore",
    );
    let (o, _) = eval_conditions(&ws, &labels(&[]), None);
    assert!(
        matches!(
            o,
            MatchOutcome::NotEvaluated {
                reason: NotEvaluatedReason::MatchConditionUnsupported { .. },
                ..
            }
        ),
        "{o:?}"
    );
    // Even an expression that would not error on the empty userInfo is not evaluated.
    let guarded = with_conditions(
        json!([{"name": "guarded", "expression": "has(request.userInfo.username)"}]),
        "Fail",
    );
    let (o, _) = eval_conditions(&guarded, &labels(&[]), None);
    assert!(
        matches!(
            o,
            MatchOutcome::NotEvaluated {
                reason: NotEvaluatedReason::MatchConditionUnsupported { .. },
                ..
            }
        ),
        "{o:?}"
    );
    let admin = UserInfo {
        username: "alice".into(),
        groups: vec!["dev".into()],
        ..UserInfo::default()
    };
    let (o, _) = eval_conditions(&ws, &labels(&[]), Some(&admin));
    assert_eq!(o, MatchOutcome::Matched);
    let system = UserInfo {
        username: "system:serviceaccount:kube-system:replicaset-controller".into(),
        ..UserInfo::default()
    };
    let (o, _) = eval_conditions(&ws, &labels(&[]), Some(&system));
    assert_eq!(
        o,
        MatchOutcome::NotMatched(NotMatchedReason::MatchConditionFalse {
            name: "not-system".into()
        })
    );
}

#[test]
fn namespace_object_is_null_for_webhooks() {
    let ws = with_conditions(
        json!([{"name": "ns", "expression": "namespaceObject == null"}]),
        "Fail",
    );
    let (o, _) = eval_conditions(&ws, &labels(&[]), None);
    assert_eq!(o, MatchOutcome::Matched);
}

#[test]
fn unparsable_conditions_are_not_evaluated() {
    let ws = with_conditions(
        json!([{"name": "opt", "expression": "object.metadata.?labels[?'app'].orValue('') == 'web'"}]),
        "Fail",
    );
    let (o, _) = eval_conditions(&ws, &labels(&[]), None);
    assert!(
        matches!(
            o,
            MatchOutcome::NotEvaluated {
                reason: NotEvaluatedReason::MatchConditionUnsupported { .. },
                ..
            }
        ),
        "{o:?}"
    );
}

// ---------- Istio webhook shapes (istio-injection.md §2.3) ----------

/// The injector webhooks rendered for revision `rev` (entries 1–2), plus entries 3–4 for the
/// default revision and entry 5 when namespaces are injected by default.
fn mesh_config(
    name: &str,
    rev: &str,
    default_entries: bool,
    auto: bool,
) -> MutatingWebhookConfiguration {
    let no_false = || exprs(&[("sidecar.istio.io/inject", "NotIn", &["false"])]);
    let mut ws = vec![
        webhook(
            "rev.namespace.sidecar-injector.istio.io",
            exprs(&[
                ("istio.io/rev", "In", &[rev]),
                ("istio-injection", "DoesNotExist", &[]),
            ]),
            no_false(),
        ),
        webhook(
            "rev.object.sidecar-injector.istio.io",
            exprs(&[
                ("istio.io/rev", "DoesNotExist", &[]),
                ("istio-injection", "DoesNotExist", &[]),
            ]),
            exprs(&[
                ("sidecar.istio.io/inject", "NotIn", &["false"]),
                ("istio.io/rev", "In", &[rev]),
            ]),
        ),
    ];
    if default_entries {
        ws.push(webhook(
            "namespace.sidecar-injector.istio.io",
            exprs(&[("istio-injection", "In", &["enabled"])]),
            no_false(),
        ));
        ws.push(webhook(
            "object.sidecar-injector.istio.io",
            exprs(&[
                ("istio-injection", "DoesNotExist", &[]),
                ("istio.io/rev", "DoesNotExist", &[]),
            ]),
            exprs(&[
                ("sidecar.istio.io/inject", "In", &["true"]),
                ("istio.io/rev", "DoesNotExist", &[]),
            ]),
        ));
    }
    if auto {
        ws.push(webhook(
            "auto.sidecar-injector.istio.io",
            exprs(&[
                ("istio-injection", "DoesNotExist", &[]),
                ("istio.io/rev", "DoesNotExist", &[]),
                (
                    METADATA_NAME_LABEL,
                    "NotIn",
                    &[
                        "kube-system",
                        "kube-public",
                        "kube-node-lease",
                        "local-path-storage",
                    ],
                ),
            ]),
            exprs(&[
                ("sidecar.istio.io/inject", "DoesNotExist", &[]),
                ("istio.io/rev", "DoesNotExist", &[]),
            ]),
        ));
    }
    config(name, ws)
}

/// The "which webhook matches" column of the truth table (§2.4), for a default install plus a
/// `canary` control plane; `None` is "none".
fn truth_table(
    ns_inj: Option<&str>,
    ns_rev: Option<&str>,
    pod_inj: Option<&str>,
    pod_rev: Option<&str>,
) -> Option<&'static str> {
    if pod_inj == Some("false") {
        return None;
    }
    match (ns_inj, ns_rev) {
        (Some("enabled"), _) => Some("istio-sidecar-injector/namespace.sidecar-injector.istio.io"),
        (Some(_), _) => None,
        (None, Some("default")) => {
            Some("istio-sidecar-injector/rev.namespace.sidecar-injector.istio.io")
        }
        (None, Some("canary")) => {
            Some("istio-sidecar-injector-canary/rev.namespace.sidecar-injector.istio.io")
        }
        (None, Some(_)) => None,
        (None, None) => match (pod_inj, pod_rev) {
            (_, Some("default")) => {
                Some("istio-sidecar-injector/rev.object.sidecar-injector.istio.io")
            }
            (_, Some("canary")) => {
                Some("istio-sidecar-injector-canary/rev.object.sidecar-injector.istio.io")
            }
            (Some("true"), None) => Some("istio-sidecar-injector/object.sidecar-injector.istio.io"),
            _ => None,
        },
    }
}

fn opt_labels(pairs: &[(&str, Option<&str>)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .filter_map(|(k, v)| v.map(|v| ((*k).to_owned(), v.to_owned())))
        .collect()
}

#[test]
fn istio_shapes_against_the_truth_table() {
    let default = mesh_config("istio-sidecar-injector", "default", true, false);
    let canary = mesh_config("istio-sidecar-injector-canary", "canary", false, false);
    let (ws, errors) = compile_configurations(&[&canary, &default]);
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(ws.len(), 6);
    let mut rows = 0;
    for ns_inj in [None, Some("enabled"), Some("disabled"), Some("other")] {
        for ns_rev in [None, Some("default"), Some("canary"), Some("unknown")] {
            for pod_inj in [None, Some("true"), Some("false"), Some("yes")] {
                for pod_rev in [None, Some("default"), Some("canary")] {
                    let ns = opt_labels(&[("istio-injection", ns_inj), ("istio.io/rev", ns_rev)]);
                    let pod = opt_labels(&[
                        ("sidecar.istio.io/inject", pod_inj),
                        ("istio.io/rev", pod_rev),
                    ]);
                    let got = matched(&ws, "shop", &ns, &pod);
                    let want: Vec<String> = truth_table(ns_inj, ns_rev, pod_inj, pod_rev)
                        .into_iter()
                        .map(str::to_owned)
                        .collect();
                    assert_eq!(got, want, "ns {ns:?}, pod {pod:?}");
                    rows += 1;
                }
            }
        }
    }
    assert_eq!(rows, 192);
}

#[test]
fn istio_auto_webhook_and_system_namespaces() {
    let default = mesh_config("istio-sidecar-injector", "default", true, true);
    let ws = compile_one(&default);
    let none = labels(&[]);
    let auto = vec!["istio-sidecar-injector/auto.sidecar-injector.istio.io".to_owned()];
    assert_eq!(matched(&ws, "shop", &none, &none), auto);
    assert_eq!(
        matched(&ws, "kube-system", &none, &none),
        Vec::<String>::new()
    );
    assert_eq!(
        matched(&ws, "local-path-storage", &none, &none),
        Vec::<String>::new()
    );
    // Any pod label among the two keys hands over to another webhook (or none).
    assert_eq!(
        matched(
            &ws,
            "shop",
            &none,
            &labels(&[("sidecar.istio.io/inject", "true")])
        ),
        ["istio-sidecar-injector/object.sidecar-injector.istio.io"]
    );
    assert_eq!(
        matched(
            &ws,
            "shop",
            &none,
            &labels(&[("sidecar.istio.io/inject", "yes")])
        ),
        Vec::<String>::new()
    );
    assert_eq!(
        matched(
            &ws,
            "shop",
            &labels(&[("istio-injection", "disabled")]),
            &none
        ),
        Vec::<String>::new()
    );
}

#[test]
fn legacy_single_webhook_forms() {
    let opt_in = config(
        "istio-sidecar-injector",
        vec![webhook(
            "sidecar-injector.istio.io",
            json!({"matchLabels": {"istio-injection": "enabled"}}),
            Value::Null,
        )],
    );
    let opt_out = config(
        "istio-sidecar-injector",
        vec![webhook(
            "sidecar-injector.istio.io",
            exprs(&[("istio-injection", "NotIn", &["disabled"])]),
            Value::Null,
        )],
    );
    let in_ws = compile_one(&opt_in);
    let out_ws = compile_one(&opt_out);
    let none = labels(&[]);
    for (ns, opt_in_matches, opt_out_matches) in [
        (labels(&[]), false, true),
        (labels(&[("istio-injection", "enabled")]), true, true),
        (labels(&[("istio-injection", "disabled")]), false, false),
        (labels(&[("istio-injection", "Enabled")]), false, true),
    ] {
        assert_eq!(
            outcome(&in_ws[0], "shop", &ns, &none).is_matched(),
            opt_in_matches,
            "opt-in {ns:?}"
        );
        assert_eq!(
            outcome(&out_ws[0], "shop", &ns, &none).is_matched(),
            opt_out_matches,
            "opt-out {ns:?}"
        );
    }
}

// ---------- Istio's own check-inject data (conformance) ----------

const CONFORMANCE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../shared/conformance/istio-1.24.6/"
);

#[derive(serde::Deserialize)]
struct CheckInjectCase {
    name: String,
    webhook_configs: Vec<String>,
    pod_labels: BTreeMap<String, String>,
    namespace_labels: BTreeMap<String, String>,
    expected: Vec<CheckInjectExpected>,
}

#[derive(serde::Deserialize)]
struct CheckInjectExpected {
    name: String,
    #[serde(default)]
    injected: bool,
}

fn read_conformance(rel: &str) -> String {
    std::fs::read_to_string(format!("{CONFORMANCE}{rel}"))
        .unwrap_or_else(|e| panic!("reading {rel}: {e}"))
}

#[test]
fn deactivated_never_match_configuration_matches_nothing() {
    let cfg: MutatingWebhookConfiguration = serde_saphyr::from_str(&read_conformance(
        "check-inject/check-inject/never-match-injector.yaml",
    ))
    .expect("parses");
    let ws = compile_one(&cfg);
    assert_eq!(ws.len(), 4);
    for ns_inj in [None, Some("enabled")] {
        for ns_rev in [None, Some("default")] {
            for pod_inj in [None, Some("true")] {
                let ns = opt_labels(&[("istio-injection", ns_inj), ("istio.io/rev", ns_rev)]);
                let pod = opt_labels(&[("sidecar.istio.io/inject", pod_inj)]);
                assert_eq!(
                    matched(&ws, "shop", &ns, &pod),
                    Vec::<String>::new(),
                    "{ns:?} {pod:?}"
                );
            }
        }
    }
    let ns = labels(&[("istio.io/deactivated", "never-match")]);
    let mut t = Trace::default();
    let pod_labels = labels(&[]);
    let pod = pod_json("p", "shop", &pod_labels);
    let req = AdmissionRequest::pod_create("shop", "p", &pod, Some(&pod_labels), Some(&ns));
    assert_eq!(
        ws[0].matches(&req, &mut t),
        MatchOutcome::NotMatched(NotMatchedReason::ObjectSelector)
    );
    assert!(
        t.steps[1]
            .detail
            .contains("istio.io/deactivated=never-match"),
        "{}",
        t.steps[1].detail
    );
}

/// Every `injected` verdict of istioctl's check-inject tests agrees with which configuration
/// has a webhook the API server would call.
#[test]
fn check_inject_conformance_injected_flags() {
    let cases: Vec<CheckInjectCase> =
        serde_saphyr::from_str(&read_conformance("check-inject-cases.yaml")).expect("parses");
    assert_eq!(cases.len(), 11);
    for case in cases {
        let configs: Vec<MutatingWebhookConfiguration> = case
            .webhook_configs
            .iter()
            .map(|f| serde_saphyr::from_str(&read_conformance(f)).expect("webhook file parses"))
            .collect();
        let refs: Vec<&MutatingWebhookConfiguration> = configs.iter().collect();
        let (ws, errors) = compile_configurations(&refs);
        assert!(errors.is_empty(), "{}: {errors:?}", case.name);
        for exp in &case.expected {
            let any = ws
                .iter()
                .filter(|w| *w.configuration == *exp.name)
                .any(|w| {
                    outcome(w, "test1", &case.namespace_labels, &case.pod_labels).is_matched()
                });
            assert_eq!(any, exp.injected, "{}: {}", case.name, exp.name);
        }
    }
}

// ---------- the hot path does not allocate ----------

/// Counts allocations per thread, so that parallel tests do not disturb each other.
mod alloc_count {
    use std::alloc::{GlobalAlloc, Layout, System};
    use std::cell::Cell;

    thread_local! {
        static COUNT: Cell<usize> = const { Cell::new(0) };
    }

    pub struct Counting;

    // SAFETY: forwards every call to the system allocator unchanged; only counts.
    unsafe impl GlobalAlloc for Counting {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            // `try_with`: no panic while the thread-local is being torn down.
            let _ = COUNT.try_with(|c| c.set(c.get() + 1));
            // SAFETY: same contract as the caller's.
            unsafe { System.alloc(layout) }
        }
        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            // SAFETY: same contract as the caller's.
            unsafe { System.dealloc(ptr, layout) }
        }
        unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
            let _ = COUNT.try_with(|c| c.set(c.get() + 1));
            // SAFETY: same contract as the caller's.
            unsafe { System.realloc(ptr, layout, new_size) }
        }
    }

    #[global_allocator]
    static GLOBAL: Counting = Counting;

    pub fn count() -> usize {
        COUNT.with(Cell::get)
    }
}

#[test]
fn no_trace_matching_does_not_allocate() {
    let default = mesh_config("istio-sidecar-injector", "default", true, true);
    let ws = compile_one(&default);
    let combos = [
        (
            labels(&[("istio-injection", "enabled")]),
            labels(&[("app", "web")]),
        ),
        (labels(&[]), labels(&[("sidecar.istio.io/inject", "true")])),
        (
            labels(&[("istio.io/rev", "default")]),
            labels(&[("sidecar.istio.io/inject", "false")]),
        ),
        (labels(&[(METADATA_NAME_LABEL, "shop")]), labels(&[])),
    ];
    let pod = json!({});
    for (ns, pod_labels) in &combos {
        let req = AdmissionRequest::pod_create("shop", "web-1", &pod, Some(pod_labels), Some(ns));
        let before = alloc_count::count();
        let mut hits = 0;
        for w in &ws {
            hits += usize::from(w.matches(&req, &mut NoTrace).is_matched());
        }
        assert_eq!(
            alloc_count::count() - before,
            0,
            "matching {ns:?} / {pod_labels:?} allocated"
        );
        assert!(hits <= 1);
        // The counter works: tracing does allocate.
        let before = alloc_count::count();
        ws[0].matches(&req, &mut Trace::default());
        assert!(alloc_count::count() > before);
    }
}

#[test]
fn typed_pods_are_converted_for_cel() {
    let ws = with_conditions(
        json!([{"name": "typed", "expression": "object.kind == 'Pod' && object.metadata.labels['sidecar.istio.io/inject'] == 'true'"}]),
        "Fail",
    );
    let pod: k8s_openapi::api::core::v1::Pod = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "web-1", "labels": {"sidecar.istio.io/inject": "true"}},
    }))
    .expect("pod parses");
    let ns = labels(&[]);
    let req = AdmissionRequest::pod_create(
        "shop",
        "web-1",
        &pod,
        pod.metadata.labels.as_ref(),
        Some(&ns),
    );
    assert_eq!(ws[0].matches(&req, &mut NoTrace), MatchOutcome::Matched);
    // A pod without labels is an empty label set for selectors.
    let bare = k8s_openapi::api::core::v1::Pod::default();
    let req =
        AdmissionRequest::pod_create("shop", "", &bare, bare.metadata.labels.as_ref(), Some(&ns));
    assert_eq!(req.object_labels.map(BTreeMap::len), Some(0));
}
