//! `meshdoctor completion` scripts load in a real bash and complete a subcommand and a `--from`
//! pod name; `kubectl_complete-inject_why` answers in cobra's format; docs/man/ is fresh.

use std::process::Command;

fn bin_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_BIN_EXE_meshdoctor"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn state_file() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("meshdoctor-completion-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("state.yaml");
    std::fs::write(
        &path,
        "apiVersion: v1\nkind: Pod\nmetadata: {name: web-1, namespace: shop}\nspec: {containers: [{name: a, image: x}]}\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: worker-2, namespace: shop}\nspec: {containers: [{name: a, image: x}]}\n",
    )
    .unwrap();
    path
}

fn bash(script: &str) -> String {
    let path = format!(
        "{}:{}",
        bin_dir().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = Command::new("bash")
        .env("PATH", path)
        .args(["-c", script])
        .output()
        .expect("bash runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn bash_loads_the_script_and_completes_subcommands_and_pods() {
    let registered = bash("source <(meshdoctor completion bash); complete -p meshdoctor");
    assert!(
        registered.contains("-F _meshdoctor_dynamic meshdoctor"),
        "{registered}"
    );
    let sub = bash(
        "source <(meshdoctor completion bash); COMP_WORDS=(meshdoctor ex); COMP_CWORD=1; \
         _meshdoctor_dynamic meshdoctor ex meshdoctor; echo \"${COMPREPLY[@]}\"",
    );
    assert_eq!(sub.trim(), "explain");
    let state = state_file();
    let pods = bash(&format!(
        "source <(meshdoctor completion bash); \
         COMP_WORDS=(meshdoctor explain --from {} -n shop pod/w); COMP_CWORD=6; \
         _meshdoctor_dynamic meshdoctor pod/w -n; echo \"${{COMPREPLY[@]}}\"",
        state.display()
    ));
    assert_eq!(pods.trim(), "pod/web-1 pod/worker-2");
}

#[test]
fn every_shell_gets_a_script() {
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let out = Command::new(env!("CARGO_BIN_EXE_meshdoctor"))
            .args(["completion", shell])
            .output()
            .unwrap();
        assert!(out.status.success(), "{shell}");
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(
            text.contains("meshdoctor") && text.contains("explain"),
            "{shell}"
        );
    }
}

#[test]
fn the_kubectl_completer_speaks_cobra() {
    let state = state_file();
    let run = |args: &[&str]| {
        let out = Command::new(bin_dir().join("kubectl_complete-inject_why"))
            .args(args)
            .output()
            .unwrap();
        String::from_utf8(out.stdout).unwrap()
    };
    assert_eq!(run(&["st"]), "statefulset/\n:6\n");
    let from = state.to_str().unwrap();
    assert_eq!(
        run(&["--from", from, "-n", "shop", "pod/"]),
        "pod/web-1\npod/worker-2\n:4\n"
    );
    assert_eq!(run(&["--from", from, "-n", "sh"]), "shop\n:4\n");
}

#[test]
fn man_pages_are_fresh() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/man");
    for (name, text) in meshdoctor::cli::man::pages().unwrap() {
        let on_disk = std::fs::read(dir.join(&name)).unwrap_or_default();
        assert!(
            on_disk == text,
            "docs/man/{name} is stale: run `cargo run -- man docs/man`"
        );
        // Rendering is checked where groff is installed; freshness is checked everywhere.
        if let Ok(out) = Command::new("groff")
            .args(["-man", "-Tutf8", "-z"])
            .arg(dir.join(&name))
            .output()
        {
            assert!(
                out.status.success(),
                "{name}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
}
