//! `meshdoctor preflight` as CI runs it: findings at exact file:line:column over the manifest
//! fixtures, SARIF validated against the vendored 2.1.0 schema, JUnit read back with an XML
//! parser, GitHub workflow commands, suppressions, and the exit code of every `--fail-on` in
//! every format.
//!
//! Findings are compared for the checks this gate is about (other checks may be added to the
//! catalog; their findings are real but not asserted here).

use std::collections::BTreeSet;
use std::path::PathBuf;

use assert_cmd::Command;
use serde_json::Value;

const CONTEXT: &str = "fixtures/manifests/context";
const HELM: &str = "fixtures/manifests/helm-release.yaml";
const YAML11: &str = "fixtures/manifests/yaml11.yaml";
const JSON_LIST: &str = "fixtures/manifests/extra.json";
const CLEAN: &str = "fixtures/manifests/clean";

const GATE_CHECKS: [&str; 4] = [
    "expected-injection",
    "annotation-not-string",
    "ignore-annotation-invalid",
    "namespace-not-selected",
];

fn meshdoctor() -> Command {
    let mut c = Command::cargo_bin("meshdoctor").unwrap();
    c.current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("NO_COLOR")
        .env_remove("GITHUB_ACTIONS");
    c
}

fn all_manifests() -> Vec<&'static str> {
    vec![
        "preflight",
        "-f",
        HELM,
        "-f",
        YAML11,
        "-f",
        JSON_LIST,
        "--from",
        CONTEXT,
        "--expect-injected-in",
        "shop",
    ]
}

fn run_json(args: &[&str]) -> (Value, i32) {
    let out = meshdoctor()
        .args(args)
        .args(["-o", "json"])
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (v, out.status.code().unwrap_or(-1))
}

fn object(v: &Value) -> String {
    match v["namespace"].as_str() {
        Some(ns) => format!(
            "{}/{ns}/{}",
            v["kind"].as_str().unwrap().to_ascii_lowercase(),
            v["name"].as_str().unwrap()
        ),
        None => format!(
            "{}/{}",
            v["kind"].as_str().unwrap().to_ascii_lowercase(),
            v["name"].as_str().unwrap()
        ),
    }
}

fn at(loc: &Value) -> String {
    format!(
        "{}:{}:{}",
        loc["file"].as_str().unwrap(),
        loc["line"],
        loc["column"]
    )
}

#[test]
fn findings_point_at_the_exact_field() {
    let (v, code) = run_json(&all_manifests());
    assert_eq!(code, 1);
    let got: BTreeSet<(String, String, String)> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| GATE_CHECKS.contains(&f["check"].as_str().unwrap()))
        .map(|f| {
            (
                f["check"].as_str().unwrap().to_owned(),
                object(&f["object"]),
                at(&f["location"]),
            )
        })
        .collect();
    let want: BTreeSet<(String, String, String)> = [
        // The namespace's `labels` key: the label to add goes there.
        (
            "namespace-not-selected",
            "namespace/payments",
            "helm-release.yaml:7:3",
        ),
        // The pod template's inject annotation, in a namespace no webhook selects.
        (
            "expected-injection",
            "deployment/payments/api",
            "helm-release.yaml:25:9",
        ),
        // The inject annotation on the Deployment's own metadata.
        (
            "expected-injection",
            "deployment/catalog/web",
            "helm-release.yaml:38:5",
        ),
        // The `hostNetwork` line of the DaemonSet in the meshed namespace.
        (
            "expected-injection",
            "daemonset/shop/node-agent",
            "helm-release.yaml:67:7",
        ),
        // `version: 1.10` and `sidecar.istio.io/inject: yes`, unquoted.
        (
            "annotation-not-string",
            "deployment/shop/legacy",
            "yaml11.yaml:9:5",
        ),
        (
            "annotation-not-string",
            "deployment/shop/legacy",
            "yaml11.yaml:21:9",
        ),
        // `"managed": true` in a JSON List.
        (
            "annotation-not-string",
            "configmap/shop/cart-settings",
            "extra.json:11:20",
        ),
        // `meshdoctor.io/ignore: "annotation-not-string"` gives no reason.
        (
            "ignore-annotation-invalid",
            "deployment/shop/legacy",
            "yaml11.yaml:11:5",
        ),
    ]
    .into_iter()
    .map(|(c, o, l)| {
        (
            c.to_owned(),
            o.to_owned(),
            format!("fixtures/manifests/{l}"),
        )
    })
    .collect();
    assert_eq!(got, want);

    // The DaemonSet with a reasoned suppression is reported as suppressed, not as a finding.
    let suppressed = v["suppressed"].as_array().unwrap();
    assert_eq!(suppressed.len(), 1, "{suppressed:#?}");
    let s = &suppressed[0];
    assert_eq!(s["check"], "expected-injection");
    assert_eq!(object(&s["object"]), "daemonset/shop/log-agent");
    assert_eq!(
        at(&s["location"]),
        "fixtures/manifests/helm-release.yaml:89:7"
    );
    assert_eq!(s["suppression"]["kind"], "annotation");
    assert_eq!(
        s["suppression"]["reason"],
        "ships the node's logs, runs outside the mesh by design"
    );
    assert_eq!(
        at(&s["suppression"]["location"]),
        "fixtures/manifests/helm-release.yaml:79:5"
    );
    assert_eq!(v["summary"]["suppressed"], 1);

    // Evidence locations are rewritten to line:column where they are in the manifests.
    let web = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| object(&f["object"]) == "deployment/payments/api")
        .unwrap();
    let ev: Vec<&str> = web["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["location"].as_str().unwrap())
        .collect();
    assert_eq!(
        ev,
        [
            "fixtures/manifests/helm-release.yaml:25:9",
            "fixtures/manifests/helm-release.yaml:7:3"
        ]
    );
    // The context's webhooks have no caBundle: reported, but about the context, not gating.
    assert!(
        v["context_findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["check"] == "cabundle-empty")
    );
}

fn sarif(args: &[&str]) -> (Value, i32) {
    let out = meshdoctor()
        .args(args)
        .args(["-o", "sarif"])
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    (v, out.status.code().unwrap_or(-1))
}

fn schema_validate(v: &Value) {
    let mut schema: Value =
        serde_json::from_str(include_str!("data/sarif-schema-2.1.0.json")).unwrap();
    // The official schema's `language` patterns have a stray `]` that a strict (Unicode) regex
    // engine rejects, so the validator refuses the schema itself; use the pattern the schema
    // means (a language tag such as `en` or `en-US`). No output of ours sets a language.
    fn fix_patterns(v: &mut Value) -> usize {
        match v {
            Value::Object(m) => {
                let mut n = 0;
                for (k, child) in m.iter_mut() {
                    if k == "pattern" && child == "^[a-zA-Z]{2}|^[a-zA-Z]{2}-[a-zA-Z]{2}]?$" {
                        *child = Value::from("^[a-zA-Z]{2}(-[a-zA-Z]{2})?$");
                        n += 1;
                    } else {
                        n += fix_patterns(child);
                    }
                }
                n
            }
            Value::Array(a) => a.iter_mut().map(fix_patterns).sum(),
            _ => 0,
        }
    }
    assert!(fix_patterns(&mut schema) >= 1);
    let validator = jsonschema::validator_for(&schema).unwrap();
    // The validator does reject what GitHub rejects (kube-linter#213: no runs, bad level).
    assert!(!validator.is_valid(&serde_json::json!({"version": "2.1.0"})));
    assert!(
        !validator.is_valid(&serde_json::json!({"version": "2.1.0", "runs": [{
        "tool": {"driver": {"name": "x"}},
        "results": [{"message": {"text": "m"}, "level": "fatal"}]}]}))
    );
    let errors: Vec<String> = validator
        .iter_errors(v)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "SARIF schema errors:\n{}",
        errors.join("\n")
    );
}

#[test]
fn sarif_is_valid_for_code_scanning_and_points_at_the_lines() {
    let (v, code) = sarif(&all_manifests());
    assert_eq!(code, 1);
    schema_validate(&v);
    assert_eq!(v["version"], "2.1.0");
    let run = &v["runs"][0];
    assert_eq!(run["tool"]["driver"]["name"], "meshdoctor");
    let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
    for r in rules {
        for key in ["shortDescription", "fullDescription", "help"] {
            let text = r[key]["text"].as_str().unwrap_or("");
            assert!(
                !text.is_empty() && text.chars().count() <= 1024 || key == "help",
                "{r}"
            );
        }
        assert!(r["help"]["markdown"].as_str().unwrap().contains("## Fix"));
        assert!(
            ["error", "warning", "note"]
                .contains(&r["defaultConfiguration"]["level"].as_str().unwrap())
        );
    }
    let results = run["results"].as_array().unwrap();
    let mut located = BTreeSet::new();
    for r in results {
        let id = r["ruleId"].as_str().unwrap();
        let index = r["ruleIndex"].as_u64().unwrap() as usize;
        assert_eq!(rules[index]["id"], id);
        assert!(
            r["partialFingerprints"]["meshdoctorFinding/v1"]
                .as_str()
                .is_some_and(|f| f.len() == 32)
        );
        let phys = &r["locations"][0]["physicalLocation"];
        if GATE_CHECKS.contains(&id) {
            located.insert((
                id.to_owned(),
                phys["artifactLocation"]["uri"].as_str().unwrap().to_owned(),
                phys["region"]["startLine"].as_u64().unwrap(),
                phys["region"]["startColumn"].as_u64().unwrap(),
                r.get("suppressions").is_some(),
            ));
        }
    }
    let h = "fixtures/manifests/helm-release.yaml";
    let y = "fixtures/manifests/yaml11.yaml";
    let want: BTreeSet<(String, String, u64, u64, bool)> = [
        ("namespace-not-selected", h, 7, 3, false),
        ("expected-injection", h, 25, 9, false),
        ("expected-injection", h, 38, 5, false),
        ("expected-injection", h, 67, 7, false),
        ("expected-injection", h, 89, 7, true),
        ("annotation-not-string", y, 9, 5, false),
        ("annotation-not-string", y, 21, 9, false),
        (
            "annotation-not-string",
            "fixtures/manifests/extra.json",
            11,
            20,
            false,
        ),
        ("ignore-annotation-invalid", y, 11, 5, false),
    ]
    .into_iter()
    .map(|(c, f, l, col, s)| (c.to_owned(), f.to_owned(), l, col, s))
    .collect();
    assert_eq!(located, want);
    let suppressed = results
        .iter()
        .find(|r| r.get("suppressions").is_some())
        .unwrap();
    assert_eq!(suppressed["suppressions"][0]["kind"], "inSource");
    // Skipped checks are visible as notifications.
    let notes = run["invocations"][0]["toolExecutionNotifications"]
        .as_array()
        .unwrap();
    assert!(notes.iter().any(|n| {
        n["message"]["text"]
            .as_str()
            .unwrap()
            .starts_with("webhook-service-missing skipped")
    }));
}

#[test]
fn sarif_for_a_clean_set_has_an_empty_results_array() {
    let (v, code) = sarif(&[
        "preflight",
        "-f",
        CLEAN,
        "--from",
        CONTEXT,
        "--expect-injected-in",
        "orders",
    ]);
    assert_eq!(code, 0);
    schema_validate(&v);
    assert_eq!(v["runs"][0]["results"], serde_json::json!([]));
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "meshdoctor-preflight-{}-{name}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn fingerprints_do_not_change_when_lines_move() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(root.join(HELM)).unwrap();
    let dir = temp_dir("fingerprints");
    let moved = dir.join("helm-release.yaml");
    std::fs::write(&moved, format!("# a\n# b\n# c\n{text}")).unwrap();
    let context = root.join(CONTEXT);
    let prints = |file: &str, base: &str| -> Vec<(String, u64)> {
        let (v, _) = sarif(&[
            "preflight",
            "-f",
            file,
            "--from",
            context.to_str().unwrap(),
            "--base-dir",
            base,
        ]);
        let mut out: Vec<(String, u64)> = v["runs"][0]["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r["partialFingerprints"]["meshdoctorFinding/v1"]
                        .as_str()
                        .unwrap()
                        .to_owned(),
                    r["locations"][0]["physicalLocation"]["region"]["startLine"]
                        .as_u64()
                        .unwrap(),
                )
            })
            .collect();
        out.sort();
        out
    };
    let before = prints(HELM, "fixtures/manifests");
    let after = prints(moved.to_str().unwrap(), dir.to_str().unwrap());
    assert!(!before.is_empty());
    let fp = |v: &[(String, u64)]| v.iter().map(|(f, _)| f.clone()).collect::<Vec<_>>();
    assert_eq!(fp(&before), fp(&after));
    for ((_, l1), (_, l2)) in before.iter().zip(&after) {
        assert_eq!(l1 + 3, *l2);
    }
    // With --base-dir, uris are relative to it.
    let (v, _) = sarif(&[
        "preflight",
        "-f",
        HELM,
        "--from",
        CONTEXT,
        "--base-dir",
        "fixtures",
    ]);
    assert_eq!(
        v["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
        "manifests/helm-release.yaml"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// What a JUnit file holds, read back with an XML parser.
#[derive(Debug, Default)]
struct Junit {
    suites: Vec<String>,
    /// (classname, name, outcome, body)
    cases: Vec<(String, String, String, String)>,
}

fn parse_junit(xml: &str) -> Junit {
    use quick_xml::Reader;
    use quick_xml::events::Event;
    let mut reader = Reader::from_str(xml);
    let mut out = Junit::default();
    let mut in_outcome = false;
    loop {
        match reader.read_event().unwrap() {
            Event::Start(e) | Event::Empty(e) if e.name().as_ref() == b"testsuite" => {
                let name = e
                    .try_get_attribute("name")
                    .unwrap()
                    .unwrap()
                    .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                    .unwrap()
                    .into_owned();
                out.suites.push(name);
            }
            Event::Start(e) | Event::Empty(e) if e.name().as_ref() == b"testcase" => {
                let attr = |k: &str| {
                    e.try_get_attribute(k)
                        .unwrap()
                        .map(|a| {
                            a.normalized_value(quick_xml::XmlVersion::Implicit1_0)
                                .unwrap()
                                .into_owned()
                        })
                        .unwrap_or_default()
                };
                out.cases.push((
                    attr("classname"),
                    attr("name"),
                    "passed".into(),
                    String::new(),
                ));
            }
            Event::Start(e) | Event::Empty(e)
                if matches!(e.name().as_ref(), b"failure" | b"skipped" | b"error") =>
            {
                let kind = String::from_utf8_lossy(e.name().as_ref()).into_owned();
                if let Some(last) = out.cases.last_mut() {
                    last.2 = kind;
                }
                in_outcome = true;
            }
            Event::End(e) if matches!(e.name().as_ref(), b"failure" | b"skipped" | b"error") => {
                in_outcome = false;
            }
            Event::Text(t) if in_outcome => {
                if let Some(last) = out.cases.last_mut() {
                    last.3.push_str(&t.decode().unwrap());
                }
            }
            Event::GeneralRef(r) if in_outcome => {
                if let Some(last) = out.cases.last_mut() {
                    let name = r.decode().unwrap();
                    last.3.push_str(match name.as_ref() {
                        "quot" => "\"",
                        "apos" => "'",
                        "lt" => "<",
                        "gt" => ">",
                        "amp" => "&",
                        _ => "?",
                    });
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    out
}

#[test]
fn junit_has_a_suite_per_check_and_a_case_per_object() {
    let out = meshdoctor()
        .args(all_manifests())
        .args(["-o", "junit"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let junit = parse_junit(&String::from_utf8(out.stdout).unwrap());
    for id in GATE_CHECKS {
        assert!(junit.suites.iter().any(|s| s == id), "{:?}", junit.suites);
    }
    // classname + name pairs are unique (GitLab merges duplicates).
    let pairs: BTreeSet<(&str, &str)> = junit
        .cases
        .iter()
        .map(|(c, n, _, _)| (c.as_str(), n.as_str()))
        .collect();
    assert_eq!(pairs.len(), junit.cases.len());
    let case = |class: &str, name: &str| {
        junit
            .cases
            .iter()
            .find(|(c, n, _, _)| c == class && n == name)
            .unwrap_or_else(|| panic!("no case {class} {name}: {:#?}", junit.cases))
    };
    let agent = case("expected-injection", "DaemonSet shop/node-agent");
    assert_eq!(agent.2, "failure");
    assert!(
        agent
            .3
            .contains("fixtures/manifests/helm-release.yaml:67:7"),
        "{}",
        agent.3
    );
    assert!(
        agent.3.contains("spec.template.spec.hostNetwork: true"),
        "{}",
        agent.3
    );
    assert!(agent.3.contains("fix: "), "{}", agent.3);
    assert_eq!(
        case("expected-injection", "DaemonSet shop/log-agent").2,
        "skipped"
    );
    assert_eq!(
        case("expected-injection", "Deployment shop/cart").2,
        "passed"
    );
    // A warning below --fail-on error does not fail the case.
    assert_eq!(
        case("ignore-annotation-invalid", "Deployment shop/legacy").2,
        "passed"
    );
    assert_eq!(case("webhook-service-missing", "all objects").2, "skipped");
    let failures = junit.cases.iter().filter(|c| c.2 == "failure").count();
    // namespace payments, deployments payments/api and catalog/web, daemonset node-agent,
    // deployment legacy (two values, one case) and the JSON ConfigMap.
    assert_eq!(failures, 6);
}

#[test]
fn github_commands_are_escaped_and_errors_come_first() {
    let out = meshdoctor()
        .args(all_manifests())
        .args(["-o", "github", "--fail-on", "warning"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8(out.stdout).unwrap();
    let commands: Vec<&str> = text.lines().filter(|l| l.starts_with("::")).collect();
    let last_error = commands
        .iter()
        .rposition(|l| l.starts_with("::error "))
        .unwrap();
    let first_warning = commands
        .iter()
        .position(|l| l.starts_with("::warning "))
        .unwrap();
    assert!(last_error < first_warning);
    let agent = commands
        .iter()
        .find(|l| l.contains("daemonset/shop/node-agent"))
        .unwrap();
    assert!(
        agent.starts_with(
            "::error file=fixtures/manifests/helm-release.yaml,line=67,col=7,title=meshdoctor expected-injection%3A daemonset/shop/node-agent::daemonset shop/node-agent will run without a sidecar"
        ),
        "{agent}"
    );
    // The message's new line is escaped; its colons are not (they are not in a property).
    assert!(
        agent.contains("%0AFix: remove `hostNetwork: true`"),
        "{agent}"
    );
    assert!(!agent.contains('\n'));
    assert!(
        text.trim_end()
            .ends_with("checks skipped; 8 objects checked")
    );
}

fn exit_code(args: &[&str]) -> i32 {
    meshdoctor()
        .args(args)
        .output()
        .unwrap()
        .status
        .code()
        .unwrap_or(-1)
}

#[test]
fn exit_codes_follow_fail_on_in_every_format() {
    // Only a warning (the suppression without a reason).
    let warning_only = [
        "preflight",
        "-f",
        YAML11,
        "--offline",
        "--check",
        "ignore-annotation-invalid",
    ];
    // Errors and warnings.
    let errors = all_manifests();
    for format in ["table", "json", "yaml", "sarif", "junit", "github"] {
        for (fail_on, warn_code, err_code) in [
            ("error", 0, 1),
            ("warning", 1, 1),
            ("info", 1, 1),
            ("never", 0, 0),
        ] {
            let mut a: Vec<&str> = warning_only.to_vec();
            a.extend(["--fail-on", fail_on, "-o", format]);
            assert_eq!(exit_code(&a), warn_code, "{a:?}");
            let mut a: Vec<&str> = errors.clone();
            a.extend(["--fail-on", fail_on, "-o", format]);
            assert_eq!(exit_code(&a), err_code, "{a:?}");
        }
    }
    // A clean set passes the gate.
    assert_eq!(
        exit_code(&[
            "preflight",
            "-f",
            CLEAN,
            "--from",
            CONTEXT,
            "--expect-injected"
        ]),
        0
    );
}

#[test]
fn suppressions_by_flag_are_counted_not_hidden() {
    let mut args = all_manifests();
    args.extend([
        "--ignore",
        "annotation-not-string=deploy/shop/legacy",
        "--ignore",
        "expected-injection=daemonset/*/node-agent",
    ]);
    let (v, _) = run_json(&args);
    let suppressed: BTreeSet<(String, String, String)> = v["suppressed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["check"].as_str().unwrap().to_owned(),
                object(&s["object"]),
                s["suppression"]["kind"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let want: BTreeSet<(String, String, String)> = [
        ("annotation-not-string", "deployment/shop/legacy", "flag"),
        ("annotation-not-string", "deployment/shop/legacy", "flag"),
        ("expected-injection", "daemonset/shop/node-agent", "flag"),
        (
            "expected-injection",
            "daemonset/shop/log-agent",
            "annotation",
        ),
    ]
    .into_iter()
    .map(|(a, b, c)| (a.to_owned(), b.to_owned(), c.to_owned()))
    .collect();
    assert_eq!(suppressed, want);
    assert_eq!(v["summary"]["suppressed"], 4);
    // The ignored check no longer reports node-agent; other checks still may (host-network).
    assert!(!v["findings"].as_array().unwrap().iter().any(|f| {
        object(&f["object"]) == "daemonset/shop/node-agent" && f["check"] == "expected-injection"
    }));
}

#[test]
fn helm_output_on_stdin_maps_to_its_templates() {
    let text =
        std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(HELM)).unwrap();
    let out = meshdoctor()
        .args([
            "preflight",
            "-f",
            "-",
            "--from",
            CONTEXT,
            "--expect-injected-in",
            "shop",
            "-o",
            "sarif",
        ])
        .write_stdin(text.clone())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    schema_validate(&v);
    let agent = v["runs"][0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| {
            r["locations"][0]["logicalLocations"][0]["fullyQualifiedName"]
                == "daemonset/shop/node-agent"
        })
        .unwrap();
    let phys = &agent["locations"][0]["physicalLocation"];
    assert_eq!(
        phys["artifactLocation"]["uri"],
        "shop/templates/node-agent.yaml"
    );
    assert_eq!(phys["region"]["startLine"], 1);
    // JSON keeps the line in the rendered stream.
    let out = meshdoctor()
        .args([
            "preflight",
            "-f",
            "-",
            "--from",
            CONTEXT,
            "--expect-injected-in",
            "shop",
            "-o",
            "json",
        ])
        .write_stdin(text)
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let agent = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| object(&f["object"]) == "daemonset/shop/node-agent")
        .unwrap();
    assert_eq!(at(&agent["location"]), "-:67:7");
    assert_eq!(
        agent["location"]["helm_source"],
        "shop/templates/node-agent.yaml"
    );
}

#[test]
fn manifests_alone_skip_what_they_cannot_decide() {
    let (v, code) = run_json(&["preflight", "-f", YAML11, "--offline", "--expect-injected"]);
    // annotation-not-string still gates.
    assert_eq!(code, 1);
    let skipped: Vec<&str> = v["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["check"].as_str().unwrap())
        .collect();
    assert!(skipped.contains(&"expected-injection"), "{skipped:?}");
    assert!(
        v["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["check"] == "annotation-not-string")
    );
}

#[test]
fn bad_input_is_a_located_usage_error() {
    let out = meshdoctor()
        .args([
            "preflight",
            "-f",
            HELM,
            "--offline",
            "--ignore",
            "no-such-check",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown check \"no-such-check\""));

    let dir = temp_dir("bad");
    let bad = dir.join("bad.yaml");
    std::fs::write(
        &bad,
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: [x\n",
    )
    .unwrap();
    let out = meshdoctor()
        .args([
            "preflight",
            "-f",
            bad.to_str().unwrap(),
            "--offline",
            "-o",
            "sarif",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.yaml:"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);

    assert_eq!(exit_code(&["preflight"]), 2);
    assert_eq!(
        exit_code(&[
            "preflight",
            "-f",
            "fixtures/manifests/nope.yaml",
            "--offline"
        ]),
        2
    );
}

/// The recipes in docs/ci.md are YAML that parses, and every `meshdoctor` command in them is
/// accepted by the command line parser.
#[test]
fn ci_recipes_parse_and_their_commands_are_valid() {
    use clap::Parser;
    let doc = std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("docs/ci.md"))
        .unwrap();
    let blocks: Vec<&str> = doc
        .split("```yaml\n")
        .skip(1)
        .filter_map(|b| b.split_once("\n```").map(|(y, _)| y))
        .collect();
    let mut commands = Vec::new();
    let mut workflows = 0;
    for block in &blocks {
        let v: Value = serde_saphyr::from_str(block).unwrap_or_else(|e| panic!("{e}\n{block}"));
        fn collect(v: &Value, out: &mut Vec<String>) {
            match v {
                Value::String(s) if s.trim_start().starts_with("meshdoctor ") => {
                    out.push(s.clone())
                }
                Value::Array(a) => a.iter().for_each(|x| collect(x, out)),
                Value::Object(m) => m.values().for_each(|x| collect(x, out)),
                _ => {}
            }
        }
        collect(&v, &mut commands);
        if let Some(steps) = v.pointer("/jobs/preflight/steps").and_then(Value::as_array) {
            workflows += 1;
            let upload = steps
                .iter()
                .find(|s| {
                    s["uses"]
                        .as_str()
                        .is_some_and(|u| u.starts_with("github/codeql-action/upload-sarif"))
                })
                .unwrap();
            assert_eq!(upload["if"], "always()");
            assert_eq!(upload["with"]["sarif_file"], "meshdoctor.sarif");
        }
        if let Some(job) = v.get("mesh-preflight") {
            workflows += 1;
            assert_eq!(job["artifacts"]["when"], "always");
            assert_eq!(job["artifacts"]["reports"]["junit"], "meshdoctor-junit.xml");
        }
    }
    assert_eq!(workflows, 2, "a GitHub workflow and a GitLab job");
    let preflights: Vec<&String> = commands
        .iter()
        .filter(|c| c.contains(" preflight "))
        .collect();
    assert!(preflights.len() >= 3, "{commands:?}");
    for c in &commands {
        let line = c.split(" > ").next().unwrap();
        let args: Vec<&str> = line.split_whitespace().collect();
        if let Err(e) = meshdoctor::cli::Cli::try_parse_from(&args) {
            panic!("{line}: {e}");
        }
    }
}

fn gate_only(format: &str) -> String {
    let mut args = all_manifests();
    for c in GATE_CHECKS {
        args.extend(["--check", c]);
    }
    args.extend(["-o", format, "--color", "never"]);
    let out = meshdoctor().args(&args).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn table_output() {
    insta::assert_snapshot!(gate_only("table"));
}

#[test]
fn github_output() {
    insta::assert_snapshot!(gate_only("github"));
}

/// A Namespace in the manifests replaces the context's: a pull request that labels the
/// namespace is evaluated with the label.
#[test]
fn manifests_override_the_context() {
    let deployment = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: catalog\nspec:\n  selector:\n    matchLabels: {app: web}\n  template:\n    metadata:\n      labels: {app: web}\n    spec:\n      containers:\n      - {name: web, image: catalog/web:2.4}\n";
    let namespace = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: catalog\n  labels:\n    istio-injection: enabled\n---\n";
    let dir = temp_dir("override");
    let alone = dir.join("alone.yaml");
    let labelled = dir.join("labelled.yaml");
    std::fs::write(&alone, deployment).unwrap();
    std::fs::write(&labelled, format!("{namespace}{deployment}")).unwrap();
    let args = |file: &PathBuf| {
        vec![
            "preflight".to_owned(),
            "-f".to_owned(),
            file.display().to_string(),
            "--from".to_owned(),
            CONTEXT.to_owned(),
            "--expect-injected-in".to_owned(),
            "catalog".to_owned(),
        ]
    };
    // In the context, "catalog" has no injection label.
    let a = args(&alone);
    let (v, code) = run_json(&a.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(code, 1);
    assert!(
        v["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["check"] == "expected-injection")
    );
    let a = args(&labelled);
    let (v, code) = run_json(&a.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(code, 0, "{v:#}");
    assert_eq!(v["findings"], serde_json::json!([]));
    let _ = std::fs::remove_dir_all(&dir);
}
