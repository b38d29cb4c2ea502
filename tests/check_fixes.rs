//! The fixes and evidence of the injection-intent checks on their fixture scenarios: each fix
//! is one concrete command with the real names filled in, and evidence points at file:line.

use std::path::Path;

use meshdoctor::check::{CheckReport, Finding, RunOptions, run_checks};
use meshdoctor::engine::{Engine, EngineOptions};
use meshdoctor::source::offline::{LoadOptions, load_paths};

fn report(scenario: &str) -> CheckReport {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(scenario)
        .join("state.yaml");
    let state = load_paths(&[path], &LoadOptions::default()).expect("scenario loads");
    let engine = Engine::new(&state, EngineOptions::default());
    let opts = RunOptions {
        now_unix: 1_750_000_000,
        cert_warn_days: 30,
        ..RunOptions::default()
    };
    run_checks(&state, &engine, &meshdoctor::checks::builtin(), &opts).expect("checks run")
}

fn finding<'r>(report: &'r CheckReport, check: &str, object: &str) -> &'r Finding {
    report
        .findings
        .iter()
        .find(|f| f.check == check && f.object.to_string() == object)
        .unwrap_or_else(|| panic!("no {check} finding on {object}: {:#?}", report.findings))
}

fn assert_located(f: &Finding, scenario: &str) {
    let file = format!("fixtures/{scenario}/state.yaml:");
    for e in &f.evidence {
        assert!(
            e.location.contains(&file),
            "{}: evidence {e:?} is not located in {file}",
            f.check
        );
    }
}

#[test]
fn policy_fixes_use_the_helm_value_or_opt_the_workload_in() {
    let r = report("check-policy");
    let invalid = finding(
        &r,
        "policy-invalid",
        "configmap/istio-system/istio-sidecar-injector",
    );
    assert_eq!(
        invalid.fix,
        "helm upgrade istiod istio/istiod -n istio-system --reuse-values --set global.proxy.autoInject=enabled"
    );
    assert_eq!(invalid.evidence[0].observed, "\"enable\"");
    assert_located(invalid, "check-policy");
    let disabled = finding(
        &r,
        "policy-disabled",
        "configmap/istio-system/istio-sidecar-injector-canary",
    );
    assert_eq!(
        disabled.fix,
        r#"kubectl patch deployment reader -n blog --type merge -p '{"spec":{"template":{"metadata":{"labels":{"sidecar.istio.io/inject":"true"}}}}}'"#
    );
}

#[test]
fn misplaced_keys_move_to_the_pod_template() {
    let r = report("check-annotations");
    let web = finding(&r, "annotation-misplaced", "deployment/shop/web");
    assert_eq!(
        web.fix,
        r#"kubectl patch deployment web -n shop --type merge -p '{"metadata":{"annotations":{"sidecar.istio.io/inject":null}},"spec":{"template":{"metadata":{"labels":{"sidecar.istio.io/inject":"false"}}}}}'"#
    );
    assert_located(web, "check-annotations");
    let settle = finding(&r, "inject-value-invalid", "cronjob/payments/settle");
    assert_eq!(
        settle.fix,
        r#"kubectl patch cronjob settle -n payments --type merge -p '{"spec":{"jobTemplate":{"spec":{"template":{"metadata":{"labels":{"sidecar.istio.io/inject":"true"}}}}}}}'"#
    );
    let legacy = finding(&r, "inject-value-invalid", "namespace/legacy");
    assert_eq!(
        legacy.fix,
        "kubectl label namespace legacy istio-injection=enabled --overwrite"
    );

    let r = report("check-annotations-linkerd");
    let webapp = finding(&r, "annotation-misplaced", "deployment/books/webapp");
    assert_eq!(
        webapp.fix,
        r#"kubectl patch deployment webapp -n books --type merge -p '{"spec":{"template":{"metadata":{"labels":{"linkerd.io/inject":null},"annotations":{"linkerd.io/inject":"enabled"}}}}}'"#
    );
    let emoji = finding(&r, "inject-value-invalid", "deployment/emojivoto/emoji");
    assert!(
        emoji.fix.contains(r#"{"linkerd.io/inject":"disabled"}"#),
        "{}",
        emoji.fix
    );
}

#[test]
fn running_pods_are_recreated_through_their_owner() {
    let r = report("check-running-pods");
    let web = finding(&r, "pod-missing-sidecar", "deployment/shop/web");
    assert_eq!(web.fix, "kubectl rollout restart deployment/web -n shop");
    assert_eq!(web.evidence.len(), 2, "one piece of evidence per pod");
    assert_located(web, "check-running-pods");
    let db = finding(&r, "pod-missing-sidecar", "statefulset/shop/db");
    assert_eq!(db.fix, "kubectl rollout restart statefulset/db -n shop");
    // The ReplicaSet is not in the input, so the pod itself is deleted.
    let search = finding(&r, "pod-missing-sidecar", "pod/shop/search-6f7d9c8b7-zt5wq");
    assert_eq!(
        search.fix,
        "kubectl delete pod search-6f7d9c8b7-zt5wq -n shop"
    );
}

#[test]
fn revision_fixes_name_served_revisions() {
    let r = report("check-revisions");
    let blog = finding(&r, "revision-missing", "namespace/blog");
    assert_eq!(
        blog.fix,
        "kubectl label namespace blog istio.io/rev=default --overwrite && kubectl rollout restart deployment -n blog"
    );
    let shop = finding(&r, "namespace-label-conflict", "namespace/shop");
    assert_eq!(
        shop.fix,
        "kubectl label namespace shop istio-injection- && kubectl rollout restart deployment -n shop"
    );

    let r = report("check-overlap");
    let tag = finding(
        &r,
        "webhooks-overlap",
        "mutatingwebhookconfiguration/istio-sidecar-injector",
    );
    assert_eq!(
        tag.fix,
        "istioctl tag set default --revision 1-22 --overwrite"
    );
    let mixed = finding(
        &r,
        "webhooks-overlap",
        "mutatingwebhookconfiguration/linkerd-proxy-injector-webhook-config",
    );
    assert_eq!(
        mixed.fix,
        "kubectl label namespace mixed config.linkerd.io/admission-webhooks=disabled --overwrite"
    );
    assert_eq!(
        r.findings
            .iter()
            .filter(|f| f.check == "webhooks-overlap")
            .count(),
        2,
        "one finding per pair of configurations"
    );
}

#[test]
fn unreachable_requests_have_concrete_fixes() {
    let r = report("check-protected");
    let edge = finding(&r, "host-network", "deployment/shop/edge");
    assert_eq!(
        edge.fix,
        r#"kubectl patch deployment edge -n shop --type merge -p '{"spec":{"template":{"spec":{"hostNetwork":false}}}}'"#
    );
    let agent = finding(&r, "host-network", "daemonset/shop/node-agent");
    assert!(
        agent.fix.contains(r#"{"sidecar.istio.io/inject":"false"}"#),
        "{}",
        agent.fix
    );
    let lps = finding(&r, "protected-namespace", "namespace/local-path-storage");
    assert_eq!(
        lps.fix,
        "kubectl label namespace local-path-storage istio-injection-"
    );
}
