//! `explain --show-pod` / `--show-patch` and `inject --from` render with the injector
//! ConfigMap found in the cluster state. The state is built at test time around Istio 1.24.6's
//! own injector settings from ../shared/conformance (read in place, never copied).

use assert_cmd::Command;
use serde_json::Value;

fn conformance() -> Option<std::path::PathBuf> {
    let dir =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/conformance/istio-1.24.6");
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!("skipped: {} is absent", dir.display());
        None
    }
}

/// A state with the default install's injector ConfigMap and mesh ConfigMap, a labelled
/// namespace and Istio's hello Deployment.
fn state_dir(c: &std::path::Path) -> std::path::PathBuf {
    let read = |p: &str| std::fs::read_to_string(c.join(p)).unwrap();
    let configmap = |name: &str, data: Vec<(&str, String)>| {
        let data: serde_json::Map<String, Value> = data
            .into_iter()
            .map(|(k, v)| (k.to_owned(), Value::String(v)))
            .collect();
        serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": "istio-system"}, "data": data})
    };
    let docs: Vec<Value> = serde_saphyr::from_multiple(&read("inject/hello.yaml")).unwrap();
    let mut hello = docs[0].clone();
    hello["metadata"]["namespace"] = Value::String("shop".into());
    let webhooks = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures/check-namespace-selected/state.yaml"),
    )
    .unwrap();
    let mwc = webhooks.split("\n---\n").next().unwrap().to_owned();
    let items = serde_json::json!({
        "apiVersion": "v1",
        "kind": "List",
        "items": [
            configmap("istio-sidecar-injector", vec![("config", read("inputs/default.template.gen.yaml")), ("values", read("inputs/default.values.gen.yaml"))]),
            configmap("istio", vec![("mesh", read("inputs/default.mesh.gen.yaml"))]),
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop", "labels": {"istio-injection": "enabled"}}},
            hello,
        ]
    });
    let dir = std::env::temp_dir().join(format!("meshdoctor-show-pod-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("state.json"),
        serde_json::to_string_pretty(&items).unwrap(),
    )
    .unwrap();
    std::fs::write(dir.join("webhooks.yaml"), mwc).unwrap();
    dir
}

/// `explain TARGET -n NS --from FROM --show-pod --show-patch -o json`, run from the crate root.
fn explain_shown(target: &str, namespace: &str, from: &str) -> Value {
    let out = Command::cargo_bin("meshdoctor")
        .unwrap()
        .args([
            "explain",
            target,
            "-n",
            namespace,
            "--from",
            from,
            "--show-pod",
            "--show-patch",
            "-o",
            "json",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn show_pod_renders_with_the_clusters_injector() {
    let Some(c) = conformance() else { return };
    let dir = state_dir(&c);
    let v = explain_shown("deployment/hello", "shop", dir.to_str().unwrap());
    assert_eq!(v["inject"], true);
    let names = |list: &Value| -> Vec<String> {
        list.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|c| c["name"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    // The golden's pod template (kube-inject path) has the same containers as the webhook path.
    let golden: Vec<Value> = serde_saphyr::from_multiple(
        &std::fs::read_to_string(c.join("inject/hello.yaml.injected")).unwrap(),
    )
    .unwrap();
    let want = &golden[0]["spec"]["template"]["spec"];
    let got = &v["mutated_pod"]["spec"];
    assert_eq!(names(&got["containers"]), names(&want["containers"]));
    assert_eq!(
        names(&got["initContainers"]),
        names(&want["initContainers"])
    );
    assert!(v["mutated_pod"]["metadata"]["annotations"]["sidecar.istio.io/status"].is_string());
    let patch = v["patch"].as_array().unwrap();
    assert!(patch.iter().any(|op| op["path"].as_str().is_some_and(|p| {
        p.starts_with("/spec/initContainers") || p.starts_with("/spec/containers")
    })));
}

#[test]
fn inject_from_state_matches_kube_inject_from_files() {
    let Some(c) = conformance() else { return };
    let dir = state_dir(&c);
    let input = c.join("inject/hello.yaml");
    let from_state = Command::cargo_bin("meshdoctor")
        .unwrap()
        .args([
            "inject",
            "-f",
            input.to_str().unwrap(),
            "--from",
            dir.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(
        from_state.status.success(),
        "{}",
        String::from_utf8_lossy(&from_state.stderr)
    );
    let golden = std::fs::read_to_string(c.join("inject/hello.yaml.injected")).unwrap();
    assert_eq!(
        String::from_utf8_lossy(&from_state.stdout).trim(),
        golden.trim()
    );
}

#[test]
fn inject_from_files_is_byte_identical_to_istioctl() {
    let Some(c) = conformance() else { return };
    let p = |s: &str| c.join(s).to_str().unwrap().to_owned();
    let out = Command::cargo_bin("meshdoctor")
        .unwrap()
        .args([
            "inject",
            "-f",
            &p("inject/hello.yaml"),
            "--injectConfigFile",
            &p("inputs/default.template.gen.yaml"),
            "--valuesFile",
            &p("inputs/default.values.gen.yaml"),
            "--meshConfigFile",
            &p("inputs/default.mesh.gen.yaml"),
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    let golden = std::fs::read_to_string(c.join("inject/hello.yaml.injected")).unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), golden.trim());
}

#[test]
fn inject_with_a_missing_file_is_exit_2() {
    Command::cargo_bin("meshdoctor")
        .unwrap()
        .args([
            "inject",
            "-f",
            "no/such/file.yaml",
            "--injectConfigFile",
            "no/such/template.yaml",
        ])
        .assert()
        .code(2);
}

/// Linkerd: the patch is the one meshdoctor builds the way Linkerd's proxy injector does, from
/// the fixture's `linkerd-config`; applying it gives the pod `--show-pod` prints.
#[test]
fn linkerd_show_patch_is_the_webhook_patch() {
    let v = explain_shown(
        "pod/web-1",
        "emojivoto",
        "fixtures/linkerd-basic/state.yaml",
    );
    let ops = v["patch"].as_array().unwrap();
    let paths: Vec<&str> = ops.iter().map(|o| o["path"].as_str().unwrap()).collect();
    // Native sidecar (the fixture's values): linkerd-init first, the proxy right after it.
    assert!(paths.contains(&"/spec/initContainers/0"), "{paths:?}");
    assert_eq!(*paths.last().unwrap(), "/spec/initContainers/1");
    assert_eq!(ops.last().unwrap()["value"]["name"], "linkerd-proxy");
    let pod = &v["mutated_pod"];
    let inits: Vec<&str> = pod["spec"]["initContainers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(inits, ["linkerd-init", "linkerd-proxy"]);
    assert_eq!(
        pod["metadata"]["annotations"]["linkerd.io/proxy-version"],
        "edge-26.8.3"
    );
    assert_eq!(
        pod["metadata"]["labels"]["linkerd.io/workload-ns"],
        "emojivoto"
    );
    // No `null` left from Linkerd's `"resources": null`.
    assert!(pod["spec"]["initContainers"][0].get("resources").is_none());
}

fn linkerd_deployment() -> std::path::PathBuf {
    let path = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("linkerd-web.yaml");
    std::fs::write(
        &path,
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: emojivoto\nspec:\n  selector:\n    matchLabels: {app: web}\n  template:\n    metadata:\n      labels: {app: web}\n    spec:\n      containers:\n      - name: web\n        image: nginx\n",
    )
    .unwrap();
    path
}

fn meshdoctor(args: &[&str]) -> std::process::Output {
    Command::cargo_bin("meshdoctor")
        .unwrap()
        .args(args)
        .output()
        .unwrap()
}

/// `inject --from` a state with only Linkerd picks Linkerd: the template gets the proxy as the
/// fixture's linkerd-config configures it (native sidecar), and stderr has Linkerd's report.
#[test]
fn linkerd_inject_from_a_linkerd_only_state() {
    let input = linkerd_deployment();
    let out = meshdoctor(&[
        "inject",
        "-f",
        input.to_str().unwrap(),
        "--from",
        "fixtures/linkerd-basic/state.yaml",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("deployment \"web\" injected"), "{stderr}");
    let doc: Value = serde_saphyr::from_str(
        String::from_utf8_lossy(&out.stdout)
            .trim_end()
            .trim_end_matches("---"),
    )
    .unwrap();
    let tpl = &doc["spec"]["template"];
    let inits: Vec<&str> = tpl["spec"]["initContainers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(inits, ["linkerd-init", "linkerd-proxy"]);
    assert_eq!(
        tpl["metadata"]["annotations"]["linkerd.io/created-by"],
        "linkerd/cli edge-26.8.3"
    );

    // --annotate-only: only the annotation the webhook acts on.
    let out = meshdoctor(&[
        "inject",
        "-f",
        input.to_str().unwrap(),
        "--from",
        "fixtures/linkerd-basic/state.yaml",
        "--annotate-only",
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("linkerd.io/inject: enabled"), "{text}");
    assert!(!text.contains("linkerd-proxy"), "{text}");
}

/// Without --mesh, a state with both meshes' injectors is ambiguous: exit 2 and say how to pick.
#[test]
fn inject_asks_for_the_mesh_when_the_state_has_both() {
    let input = linkerd_deployment();
    let out = meshdoctor(&[
        "inject",
        "-f",
        input.to_str().unwrap(),
        "--from",
        "fixtures/check-overlap/state.yaml",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("both Istio's and Linkerd's injectors")
            && stderr.contains("--mesh istio|linkerd"),
        "{stderr}"
    );
    // Naming the mesh resolves it: Linkerd then renders from what the state has (its webhook,
    // no linkerd-config: the chart defaults, which carry no trust anchors).
    let out = meshdoctor(&[
        "inject",
        "-f",
        input.to_str().unwrap(),
        "--from",
        "fixtures/check-overlap/state.yaml",
        "--mesh",
        "linkerd",
        "--linkerd-version",
        "edge-26.8.3",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("identityTrustAnchorsPEM is empty"),
        "{stderr}"
    );
}

/// Bad Linkerd inputs: one line naming what is wrong, exit 2.
#[test]
fn linkerd_inject_input_errors() {
    let input = linkerd_deployment();
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let no_version = dir.join("linkerd-values-no-version.yaml");
    std::fs::write(&no_version, "linkerdVersion: linkerdVersionValue\n").unwrap();
    let bad_type = dir.join("linkerd-values-bad.yaml");
    std::fs::write(&bad_type, "proxy:\n  ports:\n    admin: lots\n").unwrap();
    let f = input.to_str().unwrap();
    for (args, want) in [
        (
            vec![
                "--mesh",
                "linkerd",
                "--linkerd-values",
                no_version.to_str().unwrap(),
            ],
            "no Linkerd version",
        ),
        (
            vec![
                "--linkerd-values",
                bad_type.to_str().unwrap(),
                "--linkerd-version",
                "edge-26.8.3",
            ],
            "proxy.ports.admin",
        ),
        (vec!["--mesh", "linkerd"], "pass --from"),
        (
            vec!["--mesh", "linkerd", "--valuesFile", "x.json"],
            "--valuesFile do not apply to --mesh linkerd",
        ),
        (
            vec![
                "--linkerd-version",
                "edge-26.8.3",
                "--injectConfigFile",
                "x",
            ],
            "are Istio flags",
        ),
    ] {
        let mut all = vec!["inject", "-f", f];
        all.extend(args.iter().copied());
        let out = meshdoctor(&all);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(want), "{args:?}: {stderr}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "{args:?}: {stderr}");
    }
}

/// The version rules: edge-23.10.1 had no native sidecars (the proxy is a regular container
/// whatever the values say); an unreadable version renders as edge-26.8.3 with a note.
#[test]
fn linkerd_inject_follows_the_versions_rules() {
    let input = linkerd_deployment();
    let f = input.to_str().unwrap();
    let state = "fixtures/linkerd-basic/state.yaml";
    let out = meshdoctor(&[
        "inject",
        "-f",
        f,
        "--from",
        state,
        "--linkerd-version",
        "edge-23.10.1",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: Value = serde_saphyr::from_str(
        String::from_utf8_lossy(&out.stdout)
            .trim_end()
            .trim_end_matches("---"),
    )
    .unwrap();
    let spec = &doc["spec"]["template"]["spec"];
    assert_eq!(spec["containers"][0]["name"], "linkerd-proxy");
    assert_eq!(spec["initContainers"].as_array().unwrap().len(), 1);
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .lines()
            .all(|l| !l.starts_with("note:"))
    );

    let out = meshdoctor(&[
        "inject",
        "-f",
        f,
        "--from",
        state,
        "--linkerd-version",
        "dev-undefined",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("note: Linkerd version \"dev-undefined\" is not a release"),
        "{stderr}"
    );
    assert!(stderr.contains("rendered as edge-26.8.3"), "{stderr}");
}
