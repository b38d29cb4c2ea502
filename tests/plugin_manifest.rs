//! The krew manifest (`plugins/inject-why.yaml`) has the shape krew's validation requires:
//! the name equals the file name, a `v`-prefixed semver, the required descriptions, and for each
//! platform a selector, a URI, a 64-hex sha256 and a `bin` (ending in `.exe` on Windows) that is
//! among the files it extracts.

use serde_json::Value;

fn manifest() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/plugins/inject-why.yaml");
    serde_saphyr::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn krew_manifest_is_valid() {
    let m = manifest();
    assert_eq!(
        m["apiVersion"],
        "krew.googlecontainertools.github.com/v1alpha2"
    );
    assert_eq!(m["kind"], "Plugin");
    assert_eq!(
        m["metadata"]["name"], "inject-why",
        "must equal the file name"
    );
    let spec = &m["spec"];
    let version = spec["version"].as_str().unwrap();
    let semver = version.strip_prefix('v').expect("version needs a v prefix");
    assert_eq!(semver.split('.').count(), 3, "{version}");
    assert!(
        semver.split('.').all(|p| p.parse::<u64>().is_ok()),
        "{version}"
    );
    assert_eq!(
        format!("v{}", env!("CARGO_PKG_VERSION")),
        version,
        "the manifest's version follows Cargo.toml"
    );
    for key in ["homepage", "shortDescription", "description"] {
        assert!(
            spec[key].as_str().is_some_and(|s| !s.trim().is_empty()),
            "{key}"
        );
    }
    let platforms = spec["platforms"].as_array().unwrap();
    assert!(platforms.len() >= 4);
    for p in platforms {
        let labels = &p["selector"]["matchLabels"];
        let os = labels["os"].as_str().unwrap();
        assert!(["linux", "darwin", "windows"].contains(&os), "{os}");
        assert!(labels["arch"].as_str().is_some());
        let uri = p["uri"].as_str().unwrap();
        assert!(uri.starts_with("https://"), "{uri}");
        assert!(uri.ends_with(".tar.gz") || uri.ends_with(".zip"), "{uri}");
        let sha = p["sha256"].as_str().unwrap();
        assert!(
            sha.len() == 64 && sha.chars().all(|c| c.is_ascii_hexdigit()),
            "{sha}"
        );
        let bin = p["bin"].as_str().unwrap();
        assert_eq!(bin.ends_with(".exe"), os == "windows", "{bin}");
        assert_eq!(bin.trim_end_matches(".exe"), "kubectl-inject_why");
        let files: Vec<&str> = p["files"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["from"].as_str().unwrap())
            .collect();
        assert!(files.contains(&bin), "{bin} is not extracted: {files:?}");
    }
}
