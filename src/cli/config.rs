//! `--config FILE`: a project's meshdoctor settings in one YAML file, so that a repository can
//! pin its own checks. Today it holds `checks:`, a list of user-defined check files or
//! directories, relative to the config file.
//!
//! ```yaml
//! checks:
//!   - meshdoctor-checks/          # every *.yaml in it
//!   - policies/prod-injected.yaml
//! ```

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::Failure;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    #[serde(default)]
    checks: Vec<String>,
}

/// The user-defined check sources for a command: `--checks-dir`, then the config file's
/// `checks:` entries (resolved against the config file's directory).
pub fn check_sources(
    checks_dir: Option<&Path>,
    config: Option<&Path>,
) -> Result<Vec<PathBuf>, Failure> {
    let mut sources: Vec<PathBuf> = checks_dir.map(Path::to_path_buf).into_iter().collect();
    let Some(path) = config else {
        return Ok(sources);
    };
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path)
        .map_err(|e| Failure::Usage(format!("{shown}: cannot read: {e}")))?;
    let cfg: Config = serde_saphyr::from_str(&text).map_err(|e| {
        let line = e.location().map_or(1, |l| l.line());
        let msg = e.without_snippet().to_string();
        let first = msg.lines().next().unwrap_or("").trim().to_owned();
        Failure::Usage(format!("{shown}:{line}: {first}"))
    })?;
    let base = path.parent().unwrap_or(Path::new("."));
    for (i, entry) in cfg.checks.iter().enumerate() {
        let p = base.join(entry);
        if !p.exists() {
            return Err(Failure::Usage(format!(
                "{shown}: checks[{i}]: {} does not exist",
                p.display()
            )));
        }
        sources.push(p);
    }
    Ok(sources)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_relative_to_the_config_file() {
        let dir = std::env::temp_dir().join(format!("meshdoctor-config-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("rules")).unwrap();
        std::fs::write(dir.join("meshdoctor.yaml"), "checks:\n  - rules\n").unwrap();
        let got = check_sources(None, Some(&dir.join("meshdoctor.yaml"))).unwrap();
        assert_eq!(got, vec![dir.join("rules")]);
        std::fs::write(dir.join("bad.yaml"), "checks:\n  - rules\nchecs: []\n").unwrap();
        let e = check_sources(None, Some(&dir.join("bad.yaml")))
            .unwrap_err()
            .to_string();
        assert!(e.contains("bad.yaml:3:"), "{e}");
        std::fs::write(dir.join("missing.yaml"), "checks:\n  - nope\n").unwrap();
        let e = check_sources(None, Some(&dir.join("missing.yaml")))
            .unwrap_err()
            .to_string();
        assert!(e.contains("checks[0]"), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
