//! Writes a synthetic cluster snapshot for the scale benchmark (`scripts/bench-scale.sh`).
//!
//! The injection machinery is real: Istio with a default revision, a `canary` revision and a
//! `prod` tag (from `fixtures/istio-revisions-and-tags`) and Linkerd (from
//! `fixtures/linkerd-basic`). Around it the generator puts N application namespaces, cycling
//! through the labels users set (`istio-injection`, `istio.io/rev`, `linkerd.io/inject`, none)
//! and M pods shaped like `kubectl get pods -o json` prints them (owner references, managed
//! fields, probes, a projected service-account volume, full status), with Deployments and
//! ReplicaSets owning them, sidecars where the mesh injected one, and a few pods that predate
//! their namespace's label (what `running-pod-not-injected` is for). The output is one
//! `kind: List`, as JSON (kubectl's 4-space indentation) or YAML (as `kubectl get -o yaml`
//! writes it: go-yaml v2's layout and quoting).
//!
//! ```text
//! cargo run --release --example gen_cluster -- --namespaces 200 --pods 50000 --format json > cluster.json
//! ```
//!
//! The output is deterministic for a given set of flags (a fixed-seed xorshift generator), so
//! two benchmark runs read the same bytes.

use std::io::{BufWriter, Write};
use std::path::Path;

use serde_json::{Map, Value, json};

struct Args {
    namespaces: usize,
    pods: usize,
    yaml: bool,
    pods_per_deployment: usize,
    /// Istio revisions beside the fixture's `default` and `canary`, cloned from `canary`.
    revisions: usize,
    istio: bool,
    linkerd: bool,
    shape: PodShape,
}

/// How much of a real pod each generated pod carries.
#[derive(Clone, Copy, PartialEq)]
enum PodShape {
    /// Only what meshdoctor reads: metadata, containers with images, owner, phase.
    Skinny,
    /// As `kubectl get pods -o json` prints a pod: probes, env, volumes, full status and the
    /// managed fields of every manager that wrote it.
    Fat,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        namespaces: 100,
        pods: 10_000,
        yaml: false,
        pods_per_deployment: 5,
        revisions: 0,
        istio: true,
        linkerd: true,
        shape: PodShape::Fat,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{flag}: missing value"));
        match flag.as_str() {
            "--namespaces" => args.namespaces = number(&flag, &value()?)?,
            "--pods" => args.pods = number(&flag, &value()?)?,
            "--pods-per-deployment" => args.pods_per_deployment = number(&flag, &value()?)?.max(1),
            "--format" => {
                args.yaml = match value()?.as_str() {
                    "json" => false,
                    "yaml" => true,
                    other => return Err(format!("--format: expected json or yaml, got {other:?}")),
                }
            }
            "--revisions" => args.revisions = number(&flag, &value()?)?,
            "--mesh" => {
                (args.istio, args.linkerd) = match value()?.as_str() {
                    "istio" => (true, false),
                    "linkerd" => (false, true),
                    "both" => (true, true),
                    other => {
                        return Err(format!(
                            "--mesh: expected istio, linkerd or both, got {other:?}"
                        ));
                    }
                }
            }
            "--pod-shape" => {
                args.shape = match value()?.as_str() {
                    "skinny" => PodShape::Skinny,
                    "fat" => PodShape::Fat,
                    other => {
                        return Err(format!(
                            "--pod-shape: expected skinny or fat, got {other:?}"
                        ));
                    }
                }
            }
            "-h" | "--help" => {
                return Err("usage: gen_cluster [--namespaces N] [--pods M] \
                            [--pods-per-deployment K] [--revisions R] \
                            [--mesh istio|linkerd|both] [--pod-shape skinny|fat] \
                            [--format json|yaml]"
                    .to_owned());
            }
            other => return Err(format!("unknown flag {other:?}")),
        }
    }
    if args.namespaces == 0 {
        return Err("--namespaces: must be at least 1".to_owned());
    }
    if args.revisions > 0 && !args.istio {
        return Err("--revisions: needs Istio (--mesh istio or both)".to_owned());
    }
    Ok(args)
}

fn number(flag: &str, text: &str) -> Result<usize, String> {
    text.replace('_', "")
        .parse()
        .map_err(|_| format!("{flag}: expected a number, got {text:?}"))
}

/// A tiny deterministic generator: the benchmark must read the same cluster every run.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    fn hex(&mut self, len: usize) -> String {
        let mut s = String::with_capacity(len);
        while s.len() < len {
            s.push_str(&format!("{:016x}", self.next()));
        }
        s.truncate(len);
        s
    }

    fn uid(&mut self) -> String {
        let h = self.hex(32);
        format!(
            "{}-{}-{}-{}-{}",
            &h[..8],
            &h[8..12],
            &h[12..16],
            &h[16..20],
            &h[20..]
        )
    }
}

/// How an application namespace is labelled, and which sidecar its pods carry.
#[derive(Clone, Copy)]
enum NamespaceFlavor {
    Plain,
    IstioEnabled,
    IstioCanary,
    IstioProdTag,
    IstioDisabled,
    LinkerdEnabled,
    /// `istio.io/rev=rev-N`, one of the `--revisions` clones.
    IstioRevision(usize),
}

/// The labellings application namespaces cycle through, for the meshes and revisions asked for.
fn flavors(args: &Args) -> Vec<NamespaceFlavor> {
    let mut out = Vec::new();
    if args.istio {
        out.push(NamespaceFlavor::IstioEnabled);
    }
    out.push(NamespaceFlavor::Plain);
    if args.istio {
        out.push(NamespaceFlavor::IstioCanary);
    }
    if args.linkerd {
        out.push(NamespaceFlavor::LinkerdEnabled);
    }
    if args.istio {
        out.extend([
            NamespaceFlavor::IstioProdTag,
            NamespaceFlavor::IstioDisabled,
        ]);
    }
    out.extend((1..=args.revisions).map(NamespaceFlavor::IstioRevision));
    out
}

impl NamespaceFlavor {
    fn labels(self, name: &str) -> Value {
        let mut labels = Map::new();
        labels.insert("kubernetes.io/metadata.name".into(), json!(name));
        labels.insert("team".into(), json!(format!("team-{}", name.len() % 7)));
        let revision = match self {
            NamespaceFlavor::IstioRevision(n) => format!("rev-{n}"),
            _ => String::new(),
        };
        let extra = match self {
            NamespaceFlavor::Plain => None,
            NamespaceFlavor::IstioRevision(_) => Some(("istio.io/rev", revision.as_str())),
            NamespaceFlavor::IstioEnabled => Some(("istio-injection", "enabled")),
            NamespaceFlavor::IstioCanary => Some(("istio.io/rev", "canary")),
            NamespaceFlavor::IstioProdTag => Some(("istio.io/rev", "prod")),
            NamespaceFlavor::IstioDisabled => Some(("istio-injection", "disabled")),
            NamespaceFlavor::LinkerdEnabled => None,
        };
        if let Some((k, v)) = extra {
            labels.insert(k.into(), json!(v));
        }
        Value::Object(labels)
    }

    fn annotations(self) -> Value {
        match self {
            NamespaceFlavor::LinkerdEnabled => json!({"linkerd.io/inject": "enabled"}),
            _ => json!({}),
        }
    }

    fn sidecar(self) -> Sidecar {
        match self {
            NamespaceFlavor::IstioEnabled
            | NamespaceFlavor::IstioCanary
            | NamespaceFlavor::IstioProdTag
            | NamespaceFlavor::IstioRevision(_) => Sidecar::Istio,
            NamespaceFlavor::LinkerdEnabled => Sidecar::Linkerd,
            NamespaceFlavor::Plain | NamespaceFlavor::IstioDisabled => Sidecar::None,
        }
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Sidecar {
    None,
    Istio,
    Linkerd,
}

/// The mesh machinery of a fixture: everything but its application namespaces and pods.
fn machinery(fixture: &Path) -> Result<Vec<Value>, String> {
    let text =
        std::fs::read_to_string(fixture).map_err(|e| format!("{}: {e}", fixture.display()))?;
    let docs: Vec<Value> =
        serde_saphyr::from_multiple(&text).map_err(|e| format!("{}: {e}", fixture.display()))?;
    Ok(docs
        .into_iter()
        .filter(|d| {
            let kind = d.get("kind").and_then(Value::as_str).unwrap_or("");
            let ns = d.pointer("/metadata/namespace").and_then(Value::as_str);
            let name = d.pointer("/metadata/name").and_then(Value::as_str);
            match kind {
                "Pod" => matches!(ns, Some("istio-system" | "linkerd")),
                "Namespace" => matches!(name, Some("istio-system" | "linkerd")),
                "" => false,
                _ => true,
            }
        })
        .collect())
}

/// `count` more Istio revisions, `rev-1` … `rev-N`: copies of everything that makes up the
/// fixture's `canary` revision (its webhook configuration, injector ConfigMap and istiod
/// Deployment), renamed. The `prod` tag keeps pointing at `canary`.
fn extra_revisions(machinery: &[Value], count: usize) -> Vec<Value> {
    let canary: Vec<String> = machinery
        .iter()
        .filter(|d| {
            let name = d.pointer("/metadata/name").and_then(Value::as_str);
            let kind = d.get("kind").and_then(Value::as_str);
            kind != Some("Namespace") && name.is_some_and(|n| n.ends_with("-canary"))
        })
        .map(Value::to_string)
        .collect();
    (1..=count)
        .flat_map(|n| {
            canary.iter().map(move |text| {
                serde_json::from_str(&text.replace("canary", &format!("rev-{n}")))
                    .expect("a renamed copy of valid JSON is valid JSON")
            })
        })
        .collect()
}

fn main() {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("gen_cluster: {e}");
            std::process::exit(2);
        }
    };
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let mut items = Vec::new();
    let fixtures = [
        (args.istio, "istio-revisions-and-tags/state.yaml"),
        (args.linkerd, "linkerd-basic/state.yaml"),
    ];
    for (_, fixture) in fixtures.iter().filter(|(wanted, _)| *wanted) {
        match machinery(&root.join(fixture)) {
            Ok(docs) => items.extend(docs),
            Err(e) => {
                eprintln!("gen_cluster: {e}");
                std::process::exit(2);
            }
        }
    }
    items.extend(extra_revisions(&items, args.revisions));
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    let flavors = flavors(&args);
    let namespaces: Vec<(String, NamespaceFlavor)> = (0..args.namespaces)
        .map(|i| (format!("app-{i:04}"), flavors[i % flavors.len()]))
        .collect();
    for (name, flavor) in &namespaces {
        items.push(namespace(&mut rng, name, *flavor));
    }
    // Pods are spread evenly over the namespaces, grouped into Deployments.
    let mut pod_index = 0;
    let mut deployment_index = 0;
    while pod_index < args.pods {
        let (ns, flavor) = &namespaces[deployment_index % namespaces.len()];
        let replicas = args.pods_per_deployment.min(args.pods - pod_index);
        let app = format!("svc-{deployment_index:05}");
        let hash = rng.hex(10);
        items.push(deployment(&mut rng, ns, &app, replicas, *flavor));
        let rs_uid = rng.uid();
        items.push(replica_set(&mut rng, ns, &app, &hash, &rs_uid, replicas));
        for _ in 0..replicas {
            // One pod in fifty predates its namespace's label and runs without its sidecar.
            let sidecar = if rng.below(50) == 0 {
                Sidecar::None
            } else {
                flavor.sidecar()
            };
            let fat = pod(&mut rng, ns, &app, &hash, &rs_uid, sidecar);
            items.push(match args.shape {
                PodShape::Fat => fat,
                PodShape::Skinny => skinny(&fat),
            });
            pod_index += 1;
        }
        deployment_index += 1;
    }
    let stdout = std::io::stdout().lock();
    let mut out = BufWriter::with_capacity(1 << 20, stdout);
    let written = if args.yaml {
        write_kubectl_yaml(&mut out, &items).map_err(|e| e.to_string())
    } else {
        let list = json!({
            "apiVersion": "v1",
            "kind": "List",
            "metadata": {"resourceVersion": ""},
            "items": items,
        });
        // kubectl indents JSON by four spaces.
        let formatter = serde_json::ser::PrettyFormatter::with_indent(b"    ");
        let mut ser = serde_json::Serializer::with_formatter(&mut out, formatter);
        serde::Serialize::serialize(&list, &mut ser)
            .map_err(|e| e.to_string())
            .and_then(|()| writeln!(out).map_err(|e| e.to_string()))
    };
    if let Err(e) = written.and_then(|()| out.flush().map_err(|e| e.to_string())) {
        eprintln!("gen_cluster: writing: {e}");
        std::process::exit(1);
    }
}

/// The List as `kubectl get -o yaml` writes it (sigs.k8s.io/yaml, that is go-yaml v2: sorted
/// keys, block style, `items` entries at the key's indentation, go-yaml's quoting and folding),
/// one item at a time so that a 150,000-pod cluster is never one string.
fn write_kubectl_yaml(out: &mut impl Write, items: &[Value]) -> std::io::Result<()> {
    out.write_all(b"apiVersion: v1\nitems:\n")?;
    for item in items {
        // A one-item `items:` map renders the item exactly as it sits in the whole List.
        let one = meshdoctor::render::to_go_yaml(&json!({ "items": [item] }));
        out.write_all(one.trim_start_matches("items:\n").as_bytes())?;
    }
    out.write_all(b"kind: List\nmetadata:\n  resourceVersion: \"\"\n")
}

fn namespace(rng: &mut XorShift, name: &str, flavor: NamespaceFlavor) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {
            "name": name,
            "uid": rng.uid(),
            "resourceVersion": rng.below(9_000_000).to_string(),
            "creationTimestamp": "2026-03-02T10:00:00Z",
            "labels": flavor.labels(name),
            "annotations": flavor.annotations(),
        },
        "spec": {"finalizers": ["kubernetes"]},
        "status": {"phase": "Active"},
    })
}

fn deployment(
    rng: &mut XorShift,
    ns: &str,
    app: &str,
    replicas: usize,
    flavor: NamespaceFlavor,
) -> Value {
    let mut template_annotations = Map::new();
    template_annotations.insert(
        "kubectl.kubernetes.io/restartedAt".into(),
        json!("2026-11-01T08:00:00Z"),
    );
    if matches!(flavor, NamespaceFlavor::IstioEnabled) && rng.below(10) == 0 {
        template_annotations.insert("sidecar.istio.io/inject".into(), json!("false"));
    }
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": app,
            "namespace": ns,
            "uid": rng.uid(),
            "generation": 3,
            "resourceVersion": rng.below(9_000_000).to_string(),
            "creationTimestamp": "2026-06-11T12:00:00Z",
            "labels": {"app": app},
            "annotations": {"deployment.kubernetes.io/revision": "3"},
        },
        "spec": {
            "replicas": replicas,
            "revisionHistoryLimit": 10,
            "selector": {"matchLabels": {"app": app}},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}},
            "template": {
                "metadata": {"labels": {"app": app, "version": "v1"}, "annotations": template_annotations},
                "spec": {"containers": [app_container(app, 8080)], "restartPolicy": "Always", "serviceAccountName": app},
            },
        },
        "status": {"replicas": replicas, "readyReplicas": replicas, "availableReplicas": replicas, "observedGeneration": 3},
    })
}

fn replica_set(
    rng: &mut XorShift,
    ns: &str,
    app: &str,
    hash: &str,
    uid: &str,
    replicas: usize,
) -> Value {
    json!({
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {
            "name": format!("{app}-{hash}"),
            "namespace": ns,
            "uid": uid,
            "resourceVersion": rng.below(9_000_000).to_string(),
            "creationTimestamp": "2026-11-01T08:00:00Z",
            "labels": {"app": app, "pod-template-hash": hash},
            "ownerReferences": [{
                "apiVersion": "apps/v1", "kind": "Deployment", "name": app,
                "uid": rng.uid(), "controller": true, "blockOwnerDeletion": true,
            }],
        },
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": app, "pod-template-hash": hash}},
            "template": {
                "metadata": {"labels": {"app": app, "version": "v1", "pod-template-hash": hash}},
                "spec": {"containers": [app_container(app, 8080)], "restartPolicy": "Always", "serviceAccountName": app},
            },
        },
        "status": {"replicas": replicas, "readyReplicas": replicas, "availableReplicas": replicas},
    })
}

fn app_container(app: &str, port: u16) -> Value {
    json!({
        "name": app,
        "image": format!("registry.example.com/shop/{app}:1.4.{}", app.len()),
        "imagePullPolicy": "IfNotPresent",
        "ports": [{"containerPort": port, "name": "http", "protocol": "TCP"}],
        "env": [
            {"name": "LOG_LEVEL", "value": "info"},
            {"name": "POD_NAME", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.name"}}},
            {"name": "POD_NAMESPACE", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}},
            {"name": "DATABASE_URL", "valueFrom": {"secretKeyRef": {"name": "db", "key": "url"}}},
        ],
        "resources": {"limits": {"cpu": "500m", "memory": "512Mi"}, "requests": {"cpu": "100m", "memory": "128Mi"}},
        "livenessProbe": {"httpGet": {"path": "/healthz", "port": port, "scheme": "HTTP"}, "periodSeconds": 10, "timeoutSeconds": 1, "failureThreshold": 3, "successThreshold": 1},
        "readinessProbe": {"httpGet": {"path": "/ready", "port": port, "scheme": "HTTP"}, "periodSeconds": 5, "timeoutSeconds": 1, "failureThreshold": 3, "successThreshold": 1},
        "terminationMessagePath": "/dev/termination-log",
        "terminationMessagePolicy": "File",
        "volumeMounts": [{"mountPath": "/var/run/secrets/kubernetes.io/serviceaccount", "name": "kube-api-access", "readOnly": true}],
    })
}

/// A pod as few tools would write it but meshdoctor fully decides: the fat pod's metadata
/// (labels, annotations, owner), its containers' names and images, its node and phase.
/// It is cut from the fat pod, so both shapes draw the same random numbers.
fn skinny(fat: &Value) -> Value {
    let keep = |v: &Value, fields: &[&str]| -> Value {
        let mut m = Map::new();
        for f in fields {
            if let Some(x) = v.get(*f) {
                m.insert((*f).to_owned(), x.clone());
            }
        }
        Value::Object(m)
    };
    let containers = |key: &str| -> Option<Value> {
        let list = fat["spec"].get(key)?.as_array()?;
        Some(Value::Array(
            list.iter().map(|c| keep(c, &["name", "image"])).collect(),
        ))
    };
    let mut spec = keep(&fat["spec"], &["nodeName", "serviceAccountName"]);
    for key in ["initContainers", "containers"] {
        if let Some(list) = containers(key) {
            spec[key] = list;
        }
    }
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": keep(&fat["metadata"], &["name", "namespace", "uid", "labels", "annotations", "ownerReferences"]),
        "spec": spec,
        "status": keep(&fat["status"], &["phase"]),
    })
}

/// The managed fields the API server records for a pod: the controller manager owns the whole
/// spec it created (one `k:{"name":…}` entry per container and volume), the kubelet the status.
/// This is often the largest part of a pod in `kubectl get -o json`.
fn managed_fields(spec: &Value, labels: &Value, annotations: &Value, ip: &str) -> Value {
    let keys = |v: &Value| -> Value {
        let mut m = Map::new();
        m.insert(".".into(), json!({}));
        for k in v.as_object().into_iter().flatten().map(|(k, _)| k) {
            m.insert(format!("f:{k}"), json!({}));
        }
        Value::Object(m)
    };
    let container_fields = |list: Option<&Value>| -> Value {
        let mut m = Map::new();
        for c in list.and_then(Value::as_array).into_iter().flatten() {
            let mut fields = Map::new();
            fields.insert(".".into(), json!({}));
            for (k, v) in c.as_object().into_iter().flatten() {
                let entry = match (k.as_str(), v) {
                    ("env", Value::Array(env)) => {
                        let mut e = Map::new();
                        e.insert(".".into(), json!({}));
                        for var in env {
                            let name = var["name"].as_str().unwrap_or("");
                            e.insert(
                                format!("k:{{\"name\":\"{name}\"}}"),
                                json!({".": {}, "f:name": {}, "f:value": {}, "f:valueFrom": {}}),
                            );
                        }
                        Value::Object(e)
                    }
                    (_, Value::Object(_)) => keys(v),
                    _ => json!({}),
                };
                fields.insert(format!("f:{k}"), entry);
            }
            let name = c["name"].as_str().unwrap_or("");
            m.insert(format!("k:{{\"name\":\"{name}\"}}"), Value::Object(fields));
        }
        m.insert(".".into(), json!({}));
        Value::Object(m)
    };
    let statuses = container_fields(spec.get("containers"));
    json!([{
        "apiVersion": "v1", "fieldsType": "FieldsV1", "manager": "kube-controller-manager",
        "operation": "Update", "time": "2026-11-01T08:00:02Z",
        "fieldsV1": {
            "f:metadata": {
                "f:annotations": keys(annotations), "f:generateName": {}, "f:labels": keys(labels),
                "f:ownerReferences": {".": {}, "k:{\"uid\":\"owner\"}": {}},
            },
            "f:spec": {
                "f:containers": container_fields(spec.get("containers")),
                "f:initContainers": container_fields(spec.get("initContainers")),
                "f:dnsPolicy": {}, "f:enableServiceLinks": {}, "f:restartPolicy": {},
                "f:schedulerName": {}, "f:securityContext": {}, "f:serviceAccount": {},
                "f:serviceAccountName": {}, "f:terminationGracePeriodSeconds": {},
                "f:volumes": {".": {}, "k:{\"name\":\"kube-api-access\"}": {".": {}, "f:name": {}, "f:projected": {}}},
            },
        },
    }, {
        "apiVersion": "v1", "fieldsType": "FieldsV1", "manager": "kubelet",
        "operation": "Update", "subresource": "status", "time": "2026-11-01T08:00:13Z",
        "fieldsV1": {"f:status": {
            "f:conditions": {
                "k:{\"type\":\"ContainersReady\"}": {".": {}, "f:lastProbeTime": {}, "f:lastTransitionTime": {}, "f:status": {}, "f:type": {}},
                "k:{\"type\":\"Initialized\"}": {".": {}, "f:lastProbeTime": {}, "f:lastTransitionTime": {}, "f:status": {}, "f:type": {}},
                "k:{\"type\":\"Ready\"}": {".": {}, "f:lastProbeTime": {}, "f:lastTransitionTime": {}, "f:status": {}, "f:type": {}},
            },
            "f:containerStatuses": statuses, "f:hostIP": {}, "f:phase": {}, "f:podIP": {},
            "f:podIPs": {".": {}, format!("k:{{\"ip\":\"{ip}\"}}"): {".": {}, "f:ip": {}}},
            "f:startTime": {},
        }},
    }])
}

fn pod(
    rng: &mut XorShift,
    ns: &str,
    app: &str,
    hash: &str,
    rs_uid: &str,
    sidecar: Sidecar,
) -> Value {
    let name = format!("{app}-{hash}-{}", rng.hex(5));
    let ip = format!(
        "10.{}.{}.{}",
        rng.below(256),
        rng.below(256),
        1 + rng.below(254)
    );
    let node = format!("node-{:03}", rng.below(120));
    let mut labels = json!({"app": app, "version": "v1", "pod-template-hash": hash});
    let mut annotations = json!({"kubectl.kubernetes.io/restartedAt": "2026-11-01T08:00:00Z"});
    let mut containers = vec![app_container(app, 8080)];
    let mut init_containers = Vec::new();
    match sidecar {
        Sidecar::None => {}
        Sidecar::Istio => {
            labels["security.istio.io/tlsMode"] = json!("istio");
            labels["service.istio.io/canonical-name"] = json!(app);
            annotations["sidecar.istio.io/status"] = json!(
                "{\"initContainers\":[\"istio-init\"],\"containers\":[\"istio-proxy\"],\"volumes\":[\"istio-envoy\",\"istio-data\",\"istio-podinfo\",\"istio-token\",\"istiod-ca-cert\"],\"imagePullSecrets\":null,\"revision\":\"default\"}"
            );
            annotations["prometheus.io/scrape"] = json!("true");
            annotations["prometheus.io/port"] = json!("15020");
            init_containers.push(json!({
                "name": "istio-init",
                "image": "docker.io/istio/proxyv2:1.24.6",
                "args": ["istio-iptables", "-p", "15001", "-z", "15006", "-u", "1337", "-m", "REDIRECT", "-i", "*", "-x", "", "-b", "*", "-d", "15090,15021,15020"],
                "resources": {"limits": {"cpu": "2", "memory": "1Gi"}, "requests": {"cpu": "10m", "memory": "40Mi"}},
                "securityContext": {"capabilities": {"add": ["NET_ADMIN", "NET_RAW"], "drop": ["ALL"]}, "runAsUser": 0, "runAsNonRoot": false},
            }));
            containers.push(json!({
                "name": "istio-proxy",
                "image": "docker.io/istio/proxyv2:1.24.6",
                "args": ["proxy", "sidecar", "--domain", "$(POD_NAMESPACE).svc.cluster.local", "--proxyLogLevel=warning", "--log_output_level=default:info"],
                "ports": [{"containerPort": 15090, "name": "http-envoy-prom", "protocol": "TCP"}],
                "env": [
                    {"name": "PILOT_CERT_PROVIDER", "value": "istiod"},
                    {"name": "CA_ADDR", "value": "istiod.istio-system.svc:15012"},
                    {"name": "POD_NAME", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.name"}}},
                    {"name": "ISTIO_META_APP_CONTAINERS", "value": app},
                ],
                "readinessProbe": {"httpGet": {"path": "/healthz/ready", "port": 15021, "scheme": "HTTP"}, "periodSeconds": 15, "failureThreshold": 4},
                "resources": {"limits": {"cpu": "2", "memory": "1Gi"}, "requests": {"cpu": "100m", "memory": "128Mi"}},
                "securityContext": {"allowPrivilegeEscalation": false, "capabilities": {"drop": ["ALL"]}, "readOnlyRootFilesystem": true, "runAsGroup": 1337, "runAsNonRoot": true, "runAsUser": 1337},
            }));
        }
        Sidecar::Linkerd => {
            annotations["linkerd.io/inject"] = json!("enabled");
            annotations["linkerd.io/created-by"] = json!("linkerd/proxy-injector stable-2.14.10");
            annotations["linkerd.io/proxy-version"] = json!("stable-2.14.10");
            labels["linkerd.io/control-plane-ns"] = json!("linkerd");
            labels["linkerd.io/proxy-deployment"] = json!(app);
            init_containers.push(json!({
                "name": "linkerd-init",
                "image": "cr.l5d.io/linkerd/proxy-init:v2.2.3",
                "args": ["--incoming-proxy-port", "4143", "--outgoing-proxy-port", "4140", "--proxy-uid", "2102"],
                "securityContext": {"capabilities": {"add": ["NET_ADMIN", "NET_RAW"]}, "runAsUser": 65534},
            }));
            containers.insert(0, json!({
                "name": "linkerd-proxy",
                "image": "cr.l5d.io/linkerd/proxy:stable-2.14.10",
                "ports": [{"containerPort": 4143, "name": "linkerd-proxy"}, {"containerPort": 4191, "name": "linkerd-admin"}],
                "env": [{"name": "LINKERD2_PROXY_LOG", "value": "warn,linkerd=info"}],
                "securityContext": {"allowPrivilegeEscalation": false, "readOnlyRootFilesystem": true, "runAsUser": 2102},
            }));
        }
    }
    let statuses: Vec<Value> = containers
        .iter()
        .map(|c| {
            json!({
                "name": c["name"], "image": c["image"], "imageID": format!("registry.example.com@sha256:{}", rng.hex(64)),
                "containerID": format!("containerd://{}", rng.hex(64)),
                "ready": true, "restartCount": rng.below(3), "started": true,
                "state": {"running": {"startedAt": "2026-11-01T08:00:12Z"}},
                "lastState": {},
            })
        })
        .collect();
    let mut spec = json!({
        "containers": containers,
        "dnsPolicy": "ClusterFirst",
        "enableServiceLinks": true,
        "nodeName": node,
        "preemptionPolicy": "PreemptLowerPriority",
        "priority": 0,
        "restartPolicy": "Always",
        "schedulerName": "default-scheduler",
        "securityContext": {},
        "serviceAccount": app,
        "serviceAccountName": app,
        "terminationGracePeriodSeconds": 30,
        "tolerations": [
            {"effect": "NoExecute", "key": "node.kubernetes.io/not-ready", "operator": "Exists", "tolerationSeconds": 300},
            {"effect": "NoExecute", "key": "node.kubernetes.io/unreachable", "operator": "Exists", "tolerationSeconds": 300},
        ],
        "volumes": [{
            "name": "kube-api-access",
            "projected": {"defaultMode": 420, "sources": [
                {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
                {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
                {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}},
            ]},
        }],
    });
    if !init_containers.is_empty() {
        spec["initContainers"] = Value::Array(init_containers);
    }
    let managed = managed_fields(&spec, &labels, &annotations, &ip);
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "generateName": format!("{app}-{hash}-"),
            "namespace": ns,
            "uid": rng.uid(),
            "resourceVersion": rng.below(9_000_000).to_string(),
            "creationTimestamp": "2026-11-01T08:00:02Z",
            "labels": labels,
            "annotations": annotations,
            "ownerReferences": [{
                "apiVersion": "apps/v1", "kind": "ReplicaSet", "name": format!("{app}-{hash}"),
                "uid": rs_uid, "controller": true, "blockOwnerDeletion": true,
            }],
            "managedFields": managed,
        },
        "spec": spec,
        "status": {
            "phase": "Running",
            "conditions": [
                {"type": "Initialized", "status": "True", "lastTransitionTime": "2026-11-01T08:00:05Z", "lastProbeTime": null},
                {"type": "Ready", "status": "True", "lastTransitionTime": "2026-11-01T08:00:14Z", "lastProbeTime": null},
                {"type": "ContainersReady", "status": "True", "lastTransitionTime": "2026-11-01T08:00:14Z", "lastProbeTime": null},
                {"type": "PodScheduled", "status": "True", "lastTransitionTime": "2026-11-01T08:00:02Z", "lastProbeTime": null},
            ],
            "containerStatuses": statuses,
            "hostIP": format!("192.168.{}.{}", rng.below(4), 10 + rng.below(120)),
            "hostIPs": [{"ip": "192.168.0.10"}],
            "podIP": ip,
            "podIPs": [{"ip": ip}],
            "qosClass": "Burstable",
            "startTime": "2026-11-01T08:00:02Z",
        },
    })
}
