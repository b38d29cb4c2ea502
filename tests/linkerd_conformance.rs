//! Conformance against Linkerd edge-26.8.3's own injection test data, read in place from
//! `../shared/conformance/linkerd-edge-26.8.3/` through our manifest `tests/linkerd/cases.yaml`
//! (written from Linkerd's Go test tables).
//!
//! - `proxy-injector/`: the webhook's JSON patches. A case passes when our patch equals the
//!   golden as data (Linkerd's own test compares the unmarshalled patches the same way).
//! - `cli-inject/`: `linkerd inject` outputs. A case passes when every document of our output
//!   equals the golden's as data (Linkerd's test compares parsed YAML too); byte-identical
//!   output is counted separately. Every case `meshdoctor inject --mesh linkerd` can express
//!   (see [`Suite::cli_args`]) runs through the real binary, with the case's values written to
//!   a `--linkerd-values` file; the others (flag overrides written as annotations, a folder as
//!   input) call the library. A failing case must fail with the golden's message. Where
//!   the case has a `.report`, our per-document outcome (injected, skipped with Linkerd's
//!   reason, annotated, the UDP warning) must be the report's.
//!
//! The test prints `linkerd: N/M cases pass`, writes the failures with a one-line reason to
//! `$CARGO_TARGET_TMPDIR/linkerd-conformance-failures.txt`, and fails if N drops below
//! `tests/linkerd-conformance-floor.txt`.

use meshdoctor::mesh::linkerd::render::manifest::{
    CliOptions, DocReport, cli_override_annotations, inject_manifest, split_documents,
};
use meshdoctor::mesh::linkerd::render::{
    Annotations, Origin, Values, Workload, opaque_ports_patch, overrides, pod_patch,
};
use serde_json::Value as Json;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

const DATA: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../shared/conformance/linkerd-edge-26.8.3"
);
const MANIFEST: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/linkerd/cases.yaml");
const FLOOR: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/linkerd-conformance-floor.txt"
);

fn data_dir() -> Option<PathBuf> {
    let p = PathBuf::from(DATA);
    p.join("NOTICE.md").exists().then_some(p)
}

fn read(path: &Path) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))
}

fn yaml(text: &str) -> Result<Json, String> {
    serde_saphyr::from_str::<Json>(text).map_err(|e| e.to_string())
}

fn s<'a>(v: &'a Json, k: &str) -> &'a str {
    v.get(k).and_then(Json::as_str).unwrap_or("")
}

fn string_map(v: Option<&Json>) -> Annotations {
    v.and_then(Json::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_owned()))
                .collect()
        })
        .unwrap_or_default()
}

struct Suite {
    dir: PathBuf,
    manifest: Json,
    values: Values,
}

impl Suite {
    fn load() -> Option<Suite> {
        let dir = data_dir()?;
        let manifest = yaml(&read(Path::new(MANIFEST)).ok()?).ok()?;
        let doc = yaml(&read(&dir.join(s(&manifest, "values"))).ok()?).ok()?;
        let mut values = Values::from_document(&doc).ok()?;
        values.linkerd_version = s(&manifest, "linkerdVersion").to_owned();
        values.debug_image.version = s(&manifest, "debugVersion").to_owned();
        values.identity_trust_anchors_pem = s(&manifest, "trustAnchors").to_owned();
        Some(Suite {
            dir,
            manifest,
            values,
        })
    }

    fn injector_file(&self, name: &str) -> Result<String, String> {
        read(&self.dir.join("proxy-injector").join(name))
    }

    fn control_ns(&self) -> &str {
        s(&self.manifest, "controlPlaneNamespace")
    }

    /// One `podPatch` case: `Ok` on a match, `Err(reason)` otherwise.
    fn pod_patch_case(&self, case: &Json) -> Result<(), String> {
        let obj = yaml(&self.injector_file(s(case, "input"))?)?;
        let owner = &self.manifest["owner"];
        let mut w = Workload::from_object(
            &obj,
            self.control_ns(),
            Some((s(owner, "kind"), s(owner, "name"))),
            Origin::Webhook,
        )
        .ok_or("not an injectable kind")?;
        w.namespace_annotations = string_map(case.get("namespace"));
        if case.get("inheritNamespace").and_then(Json::as_bool) == Some(true) {
            let pod = w.pod_annotations();
            overrides::inherit_namespace_annotations(
                &mut w.annotations,
                &w.namespace_annotations.clone(),
                &pod,
            );
        }
        let patch =
            pod_patch(&self.values, &w, self.control_ns(), true).map_err(|e| e.to_string())?;
        if case.get("nonEmpty").and_then(Json::as_bool) == Some(true) {
            return if patch.ops.is_empty() {
                Err("empty patch".into())
            } else {
                Ok(())
            };
        }
        let want: Json = serde_json::from_str(&self.injector_file(s(case, "patch"))?)
            .map_err(|e| e.to_string())?;
        compare_patch(&Json::Array(patch.ops), &want)
    }

    /// One `annotationPatch` case.
    fn annotation_case(&self, case: &Json) -> Result<(), String> {
        let obj = yaml(&self.injector_file(s(case, "input"))?)?;
        let ns = yaml(&self.injector_file(s(case, "namespace"))?)?;
        let ns_ann = string_map(ns.pointer("/metadata/annotations"));
        let ops = opaque_ports_patch(&self.values, &obj, &ns_ann);
        match case.get("patch").and_then(Json::as_str) {
            None if ops.is_empty() => Ok(()),
            None => Err(format!("no patch expected, got {}", Json::Array(ops))),
            Some(golden) => {
                let want: Json = serde_json::from_str(&self.injector_file(golden)?)
                    .map_err(|e| e.to_string())?;
                compare_patch(&Json::Array(ops), &want)
            }
        }
    }
    fn cli_file(&self, name: &str) -> Result<String, String> {
        read(&self.dir.join("cli-inject").join(name))
    }

    /// The trust anchors of the CLI tests, as the first golden's proxy carries them.
    fn cli_trust_anchors(&self) -> Result<String, String> {
        let golden = self.cli_file(s(&self.manifest, "cliTrustAnchorsFrom"))?;
        let doc = yaml(&split_documents(&golden)[0])?;
        let inits = doc
            .pointer("/spec/template/spec/initContainers")
            .and_then(Json::as_array)
            .ok_or("no init containers in the trust-anchor golden")?;
        inits
            .iter()
            .flat_map(|c| c["env"].as_array().cloned().unwrap_or_default())
            .find(|e| e["name"] == "LINKERD2_PROXY_IDENTITY_TRUST_ANCHORS")
            .and_then(|e| e["value"].as_str().map(str::to_owned))
            .ok_or_else(|| "no LINKERD2_PROXY_IDENTITY_TRUST_ANCHORS in the golden".to_owned())
    }

    fn suite_values(&self, set: Option<&Json>, pem: &str) -> Result<Values, String> {
        let mut v = self.values.clone();
        v.identity_trust_anchors_pem = pem.to_owned();
        for (k, val) in set.and_then(Json::as_object).into_iter().flatten() {
            v.set(k, val.clone()).map_err(|e| e.to_string())?;
        }
        Ok(v)
    }

    /// One `cli` case: `Ok(byte_identical)` when it passes.
    fn cli_case(&self, suite: &Json, case: &Json, pem: &str) -> Result<bool, String> {
        let base = self.suite_values(suite.get("base"), pem)?;
        let mut values = base.clone();
        for (k, val) in case
            .get("set")
            .and_then(Json::as_object)
            .into_iter()
            .flatten()
        {
            values.set(k, val.clone()).map_err(|e| e.to_string())?;
        }
        let flag = |v: &Json, k: &str| v.get(k).and_then(Json::as_bool) == Some(true);
        let opts = CliOptions {
            override_annotations: if flag(suite, "overrideAnnotations") {
                cli_override_annotations(&values, &base)
            } else {
                Annotations::new()
            },
            values,
            inject_proxy: flag(case, "manual"),
            enable_debug_sidecar: flag(case, "debug"),
            control_namespace: self.control_ns().to_owned(),
            created_by: s(&self.manifest, "cliCreatedBy").to_owned(),
            uninject_first: flag(suite, "uninject"),
            annotate_namespaces: flag(suite, "annotateNamespaces"),
        };
        if let Some(args) = self.cli_args(suite, case, pem)? {
            return self.cli_case_through_binary(case, &args);
        }
        let inputs: Vec<String> = match case.get("inputs").and_then(Json::as_array) {
            Some(list) => list
                .iter()
                .map(|i| i.as_str().unwrap_or("").to_owned())
                .collect(),
            None => vec![s(case, "input").to_owned()],
        };
        let mut text = String::new();
        let mut reports: Vec<DocReport> = Vec::new();
        for input in &inputs {
            match inject_manifest(&self.cli_file(input)?, &opts) {
                Ok(out) => {
                    text.push_str(&out.text);
                    reports.extend(out.reports);
                }
                Err(e) => {
                    let Some(stderr) = case.get("stderr").and_then(Json::as_str) else {
                        return Err(format!("unexpected error: {e}"));
                    };
                    let want = self.cli_file(stderr)?;
                    let want = want
                        .strip_prefix("Error transforming resources:\n")
                        .unwrap_or(&want);
                    // Linkerd's YAML errors are its parser's words; any parse error matches.
                    if want.starts_with("error converting YAML") || e.message == want.trim_end() {
                        return Ok(true);
                    }
                    return Err(format!("error {:?}, want {:?}", e.message, want));
                }
            }
        }
        let Some(golden) = case.get("golden").and_then(Json::as_str) else {
            return Err(format!(
                "succeeded, but Linkerd fails this case ({})",
                s(case, "stderr")
            ));
        };
        let want = self.cli_file(golden)?;
        compare_yaml_stream(&text, &want)?;
        if let Some(report) = case.get("report").and_then(Json::as_str) {
            let lines = reports.iter().map(DocReport::outcome_line).collect();
            compare_report(
                lines,
                reports.iter().any(|r| r.udp),
                &self.cli_file(report)?,
            )?;
        }
        Ok(text == want)
    }

    /// The `meshdoctor inject` arguments that run `case` as Linkerd's test does, or `None`
    /// when our CLI cannot express it: `linkerd inject`'s proxy flags (values that differ from
    /// the install's, written as override annotations; our CLI takes the install values
    /// themselves) and a folder of inputs. The case's values are written to a values file
    /// (JSON, which is YAML) under the target's temporary directory.
    fn cli_args(
        &self,
        suite: &Json,
        case: &Json,
        pem: &str,
    ) -> Result<Option<Vec<String>>, String> {
        let flag = |v: &Json, k: &str| v.get(k).and_then(Json::as_bool) == Some(true);
        let has_set = case
            .get("set")
            .and_then(Json::as_object)
            .is_some_and(|m| !m.is_empty());
        if (flag(suite, "overrideAnnotations") && has_set) || case.get("input").is_none() {
            return Ok(None);
        }
        let mut doc = yaml(&read(&self.dir.join(s(&self.manifest, "values")))?)?;
        set_dotted(
            &mut doc,
            "debugContainer.image.version",
            Json::String(s(&self.manifest, "debugVersion").to_owned()),
        );
        set_dotted(
            &mut doc,
            "identityTrustAnchorsPEM",
            Json::String(pem.to_owned()),
        );
        for set in [suite.get("base"), case.get("set")] {
            for (k, v) in set.and_then(Json::as_object).into_iter().flatten() {
                set_dotted(&mut doc, k, v.clone());
            }
        }
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("linkerd-conformance-values");
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        let file = dir.join(format!(
            "{}.json",
            CASE_FILES.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::write(&file, doc.to_string()).map_err(|e| e.to_string())?;
        // `linkerd/cli <version>` is what the goldens' created-by names.
        let version = s(&self.manifest, "cliCreatedBy")
            .strip_prefix("linkerd/cli ")
            .ok_or("cliCreatedBy is not `linkerd/cli <version>`")?;
        let mut args: Vec<String> = [
            "inject",
            "--mesh",
            "linkerd",
            "-f",
            &self
                .dir
                .join("cli-inject")
                .join(s(case, "input"))
                .display()
                .to_string(),
            "--linkerd-values",
            &file.display().to_string(),
            "--linkerd-version",
            version,
            "--linkerd-namespace",
            self.control_ns(),
        ]
        .map(str::to_owned)
        .to_vec();
        if !flag(case, "manual") {
            args.push("--annotate-only".into());
        }
        if flag(case, "debug") {
            args.push("--enable-debug-sidecar".into());
        }
        Ok(Some(args))
    }

    /// Runs the real `meshdoctor` binary: stdout against the golden, the per-document report
    /// on stderr against the `.report`, or exit code 2 with the golden's message.
    fn cli_case_through_binary(&self, case: &Json, args: &[String]) -> Result<bool, String> {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_meshdoctor"))
            .args(args)
            .output()
            .map_err(|e| format!("running meshdoctor: {e}"))?;
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        THROUGH_BINARY.fetch_add(1, Ordering::Relaxed);
        if let Some(want) = case.get("stderr").and_then(Json::as_str) {
            let want = self.cli_file(want)?;
            let want = want
                .strip_prefix("Error transforming resources:\n")
                .unwrap_or(&want)
                .trim_end();
            if out.status.code() != Some(2) {
                return Err(format!("exit {:?}, want 2 ({want})", out.status.code()));
            }
            // Linkerd's YAML errors are its parser's words; any parse error matches.
            let matches = if want.starts_with("error converting YAML") {
                stderr.contains("invalid YAML")
            } else {
                stderr.contains(want)
            };
            return if matches {
                Ok(true)
            } else {
                Err(format!("stderr {stderr:?}, want {want:?}"))
            };
        }
        if !out.status.success() {
            return Err(format!(
                "exit {:?}: {}",
                out.status.code(),
                stderr.trim_end()
            ));
        }
        let want = self.cli_file(s(case, "golden"))?;
        compare_yaml_stream(&stdout, &want)?;
        if let Some(report) = case.get("report").and_then(Json::as_str) {
            let lines = stderr
                .lines()
                .filter(|l| !l.starts_with("warning: ") && !l.starts_with("note: "))
                .map(|l| match l.split_once(" skipped (") {
                    Some((head, _)) => format!("{head} skipped"),
                    None => l.to_owned(),
                })
                .collect();
            let udp = stderr.contains("uses \"protocol: UDP\"");
            compare_report(lines, udp, &self.cli_file(report)?)?;
        }
        Ok(stdout == want)
    }
}

static CASE_FILES: AtomicUsize = AtomicUsize::new(0);
/// How many `linkerd inject` cases ran through the binary (printed with the counts).
static THROUGH_BINARY: AtomicUsize = AtomicUsize::new(0);

/// Sets a dotted key (`proxy.image.version`) in a values document, creating maps as needed.
fn set_dotted(doc: &mut Json, key: &str, value: Json) {
    let mut cur = doc;
    let parts: Vec<&str> = key.split('.').collect();
    for part in &parts[..parts.len() - 1] {
        if !cur.get(*part).is_some_and(Json::is_object) {
            cur[*part] = Json::Object(Default::default());
        }
        cur = &mut cur[*part];
    }
    cur[parts[parts.len() - 1]] = value;
}

/// Equal as data; otherwise the first differing operation.
fn compare_patch(got: &Json, want: &Json) -> Result<(), String> {
    if got == want {
        return Ok(());
    }
    let (g, w) = (
        got.as_array().cloned().unwrap_or_default(),
        want.as_array().cloned().unwrap_or_default(),
    );
    for i in 0..g.len().max(w.len()) {
        if g.get(i) != w.get(i) {
            let show = |v: Option<&Json>| {
                v.map(|v| {
                    let t = v.to_string();
                    t.chars().take(400).collect::<String>()
                })
                .unwrap_or_else(|| "(none)".into())
            };
            return Err(format!(
                "op {i} differs ({} ops, want {}): got {} want {}",
                g.len(),
                w.len(),
                show(g.get(i)),
                show(w.get(i))
            ));
        }
    }
    Err("patches differ".into())
}

/// Every document equal as data (Linkerd's own test parses both sides too).
fn compare_yaml_stream(got: &str, want: &str) -> Result<(), String> {
    let (g, w) = (split_documents(got), split_documents(want));
    if g.len() != w.len() {
        return Err(format!("{} documents, want {}", g.len(), w.len()));
    }
    for (i, (g, w)) in g.iter().zip(&w).enumerate() {
        let (gv, wv) = (yaml(g)?, yaml(w)?);
        if gv != wv {
            return Err(format!(
                "document {} differs: {}",
                i + 1,
                first_difference(&gv, &wv, "")
            ));
        }
    }
    Ok(())
}

fn first_difference(got: &Json, want: &Json, path: &str) -> String {
    match (got, want) {
        (Json::Object(g), Json::Object(w)) => {
            for (k, wv) in w {
                match g.get(k) {
                    None => return format!("{path}/{k}: missing"),
                    Some(gv) if gv != wv => {
                        return first_difference(gv, wv, &format!("{path}/{k}"));
                    }
                    _ => {}
                }
            }
            match g.keys().find(|k| !w.contains_key(*k)) {
                Some(k) => format!("{path}/{k}: not in the golden"),
                None => format!("{path}: differs"),
            }
        }
        (Json::Array(g), Json::Array(w)) if g.len() == w.len() => g
            .iter()
            .zip(w)
            .enumerate()
            .find(|(_, (a, b))| a != b)
            .map(|(i, (a, b))| first_difference(a, b, &format!("{path}/{i}")))
            .unwrap_or_else(|| format!("{path}: differs")),
        _ => {
            let cut = |v: &Json| v.to_string().chars().take(160).collect::<String>();
            format!("{path}: got {} want {}", cut(got), cut(want))
        }
    }
}

/// The outcome lines of a `.report` (`deployment "web" injected`, `... skipped`, `...
/// annotated`) and its UDP warning, against ours.
fn compare_report(got: Vec<String>, got_udp: bool, text: &str) -> Result<(), String> {
    let mut want: Vec<String> = Vec::new();
    for line in text.lines() {
        let l = line.trim();
        for verb in ["injected", "skipped", "annotated"] {
            if let Some(rest) = l.strip_suffix(&format!(" {verb}"))
                && (rest.contains('"') || rest.starts_with("document missing"))
                && !l.starts_with('‼')
            {
                want.push(format!("{rest} {verb}"));
            }
        }
    }
    if got != want {
        return Err(format!("report: got {got:?}, want {want:?}"));
    }
    let want_udp = text.contains("uses \"protocol: UDP\"");
    if want_udp != got_udp {
        return Err(format!("report: UDP warning {got_udp}, want {want_udp}"));
    }
    Ok(())
}

#[test]
fn linkerd_conformance() {
    let Some(suite) = Suite::load() else {
        eprintln!("linkerd conformance data not found under {DATA}; skipped");
        return;
    };
    let mut results: Vec<(String, Result<(), String>)> = Vec::new();
    for case in suite.manifest["podPatch"].as_array().into_iter().flatten() {
        results.push((
            format!("proxy-injector pod patch: {}", s(case, "name")),
            suite.pod_patch_case(case),
        ));
    }
    for case in suite.manifest["annotationPatch"]
        .as_array()
        .into_iter()
        .flatten()
    {
        results.push((
            format!("proxy-injector annotation patch: {}", s(case, "name")),
            suite.annotation_case(case),
        ));
    }
    let webhook_pass = results.iter().filter(|(_, r)| r.is_ok()).count();
    println!(
        "linkerd: webhook patches {webhook_pass}/{} pass",
        results.len()
    );
    let webhook_total = results.len();

    let pem = suite.cli_trust_anchors();
    let mut identical = 0;
    for group in suite.manifest["cli"].as_array().into_iter().flatten() {
        for case in group["cases"].as_array().into_iter().flatten() {
            let name = format!(
                "cli-inject {}: {} -> {}",
                s(group, "suite"),
                case.get("input")
                    .and_then(Json::as_str)
                    .unwrap_or("(folder)"),
                case.get("golden")
                    .or(case.get("stderr"))
                    .and_then(Json::as_str)
                    .unwrap_or("")
            );
            let r = match &pem {
                Ok(pem) => suite.cli_case(group, case, pem),
                Err(e) => Err(e.clone()),
            };
            if r == Ok(true) {
                identical += 1;
            }
            results.push((name, r.map(|_| ())));
        }
    }
    let cli_total = results.len() - webhook_total;
    let cli_pass = results[webhook_total..]
        .iter()
        .filter(|(_, r)| r.is_ok())
        .count();
    println!(
        "linkerd: linkerd inject goldens {cli_pass}/{cli_total} pass ({identical} byte-identical; {} run through the meshdoctor binary)",
        THROUGH_BINARY.load(Ordering::Relaxed)
    );

    let total = results.len();
    let pass = results.iter().filter(|(_, r)| r.is_ok()).count();
    let failures: String = results
        .iter()
        .filter_map(|(n, r)| r.as_ref().err().map(|e| format!("{n}: {e}\n")))
        .collect();
    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("linkerd-conformance-failures.txt");
    let _ = std::fs::write(&out, &failures);
    println!("linkerd: {pass}/{total} cases pass");
    if !failures.is_empty() {
        println!("failures ({}):\n{failures}", out.display());
    }
    let floor: usize = std::fs::read_to_string(FLOOR)
        .ok()
        .and_then(|t| t.trim().parse().ok())
        .unwrap_or(0);
    assert!(
        pass >= floor,
        "linkerd conformance fell below the floor: {pass} < {floor}\n{failures}"
    );
}
