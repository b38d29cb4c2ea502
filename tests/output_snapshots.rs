//! Snapshots of what people read: the `check` table and JSON and the `explain` table for the
//! bundled demo cluster. A change to wording or layout shows up as a reviewed snapshot diff.

use assert_cmd::Command;

fn run(args: &[&str]) -> String {
    let out = Command::cargo_bin("meshdoctor")
        .unwrap()
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("NO_COLOR", "1")
        .env("MESHDOCTOR_NOW", "1750000000")
        .args(args)
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn check_table_for_the_demo() {
    insta::assert_snapshot!(run(&["check", "-A", "--from", "fixtures/demo/state/"]));
}

#[test]
fn check_json_for_the_demo() {
    let text = run(&[
        "check",
        "-A",
        "--from",
        "fixtures/demo/state/",
        "-o",
        "json",
    ]);
    let value: serde_json::Value = serde_json::from_str(&text).unwrap();
    insta::assert_json_snapshot!(value);
}

#[test]
fn explain_table_for_a_pod_template_outside_the_mesh() {
    insta::assert_snapshot!(run(&[
        "explain",
        "deployment/checkout",
        "-n",
        "payments",
        "--from",
        "fixtures/demo/state/"
    ]));
}

#[test]
fn explain_json_for_an_injected_workload() {
    let text = run(&[
        "explain",
        "deployment/web",
        "-n",
        "shop",
        "--from",
        "fixtures/demo/state/",
        "-o",
        "json",
    ]);
    let value: serde_json::Value = serde_json::from_str(&text).unwrap();
    insta::assert_json_snapshot!(value);
}
