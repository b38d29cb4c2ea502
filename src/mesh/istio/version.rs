//! Istio control-plane versions and the decision rules that changed between them
//! (reference `istio-injection.md` §1.4): how the inject value is parsed, whether the label is
//! read, and which namespaces are ignored.

use std::fmt;

/// A control-plane version, `major.minor` (the patch does not change injection rules).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct IstioVersion {
    pub major: u32,
    pub minor: u32,
}

/// The newest Istio line meshdoctor has conformance data for (1.32-dev); `--istio-version`
/// accepts versions up to it.
pub const NEWEST_KNOWN: IstioVersion = IstioVersion::new(1, 32);

impl IstioVersion {
    pub const fn new(major: u32, minor: u32) -> IstioVersion {
        IstioVersion { major, minor }
    }

    /// Parses `1.24`, `1.24.6`, `1.24.6-distroless`, `v1.20.0` or an image reference ending in
    /// such a tag (`docker.io/istio/pilot:1.24.6`). Returns `None` for anything else (`latest`,
    /// a digest): an unknown version is reported, never guessed.
    pub fn parse(text: &str) -> Option<IstioVersion> {
        let tag = match text.rsplit_once(':') {
            Some((repo, tag)) if !tag.contains('/') && !repo.ends_with("@sha256") => tag,
            _ => text,
        };
        let tag = tag.trim().trim_start_matches('v');
        let mut parts = tag.split(['.', '-', '_']);
        let major = parts.next()?.parse().ok()?;
        let minor = parts.next()?.parse().ok()?;
        Some(IstioVersion { major, minor })
    }

    /// The version a Helm-installed object's labels name, with the label it came from:
    /// `app.kubernetes.io/version`, `helm.sh/chart` (`istiod-1.28.0`), or the operator's
    /// `operator.istio.io/version`. Charts built from an unreleased tree carry the placeholder
    /// `1.0.0`; no Istio older than 1.5 shipped these charts, so such versions are ignored.
    pub fn from_chart_labels(
        labels: &std::collections::BTreeMap<String, String>,
    ) -> Option<(IstioVersion, &'static str)> {
        const KEYS: [&str; 3] = [
            "app.kubernetes.io/version",
            "helm.sh/chart",
            "operator.istio.io/version",
        ];
        KEYS.iter().find_map(|&key| {
            let value = labels.get(key)?;
            let version = if key == "helm.sh/chart" {
                // `<chart name>-<version>`; the name may itself contain dashes.
                let at = value
                    .char_indices()
                    .find(|&(i, c)| {
                        c == '-' && value[i + 1..].starts_with(|d: char| d.is_ascii_digit())
                    })?
                    .0;
                IstioVersion::parse(&value[at + 1..])?
            } else {
                IstioVersion::parse(value)?
            };
            version.at_least(1, 5).then_some((version, key))
        })
    }

    /// A revision named after its version (`1-28`, `1-28-0`, the convention of Istio's
    /// canary-upgrade docs). Only a convention: it is the last source consulted.
    pub fn from_revision_name(revision: &str) -> Option<IstioVersion> {
        let mut parts = revision.split('-');
        let major: u32 = parts.next()?.parse().ok()?;
        let minor: u32 = parts.next()?.parse().ok()?;
        let rest_is_numeric = parts.all(|p| p.parse::<u32>().is_ok());
        (major == 1 && rest_is_numeric).then_some(IstioVersion::new(major, minor))
    }

    /// The rules `injectRequired` follows in this version.
    pub fn rules(self) -> InjectRules {
        if self
            < (IstioVersion {
                major: 1,
                minor: 12,
            })
        {
            InjectRules::AnnotationOnly
        } else if self
            < (IstioVersion {
                major: 1,
                minor: 27,
            })
        {
            InjectRules::LabelWinsLenient
        } else {
            InjectRules::LabelWinsExact
        }
    }

    /// Namespaces istiod never injects into.
    pub fn ignored_namespaces(self) -> &'static [&'static str] {
        if self < (IstioVersion { major: 1, minor: 9 }) {
            &["kube-system", "kube-public"]
        } else {
            &[
                "kube-system",
                "kube-public",
                "kube-node-lease",
                "local-path-storage",
            ]
        }
    }
}

impl fmt::Display for IstioVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

/// What the injector does differently by version when it renders a pod (see
/// `docs/istio-versions.md`). The template itself comes from the cluster's ConfigMap and
/// carries its own version; these are the parts that live in istiod's and istioctl's code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RenderRules {
    /// Istio ≥ 1.25: HTTP and TCP `preStop`/`postStart` hooks of app containers are sent to
    /// the agent (`/app-lifecycle/<container>/prestopz|poststartz` on the status port) and
    /// listed in `ISTIO_KUBE_APP_PROBERS`, like probes.
    pub rewrite_lifecycle_hooks: bool,
    /// Istio ≤ 1.27 (Kubernetes libraries < 0.34): `istioctl kube-inject` writes
    /// `creationTimestamp: null` into every object and pod template it re-encodes.
    pub null_creation_timestamp: bool,
    /// Istio ≥ 1.31: the Prometheus merge reads `prometheus.istio.io/scrape-targets`, fails
    /// injection for a scrape port that is invalid, the agent's or reserved by Istio, and
    /// sets `prometheus.istio.io/secure-port` from `ENVOY_SECURE_MERGED_METRICS_PORT`.
    pub prometheus_scrape_targets: bool,
}

impl IstioVersion {
    pub const fn render_rules(self) -> RenderRules {
        RenderRules {
            rewrite_lifecycle_hooks: self.at_least(1, 25),
            null_creation_timestamp: !self.at_least(1, 28),
            prometheus_scrape_targets: self.at_least(1, 31),
        }
    }

    /// `self >= major.minor`, usable in constants.
    pub const fn at_least(self, major: u32, minor: u32) -> bool {
        self.major > major || (self.major == major && self.minor >= minor)
    }
}

/// How the `sidecar.istio.io/inject` value is read by istiod.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InjectRules {
    /// Istio ≤ 1.11: only the annotation; `y/yes/true/on` (any case) inject, empty = default,
    /// anything else is an explicit "no".
    AnnotationOnly,
    /// Istio 1.12–1.26: the label wins over the annotation; same lenient parsing.
    LabelWinsLenient,
    /// Istio ≥ 1.27: the label wins; exactly `true` / `false`; anything else falls back to the
    /// default policy with a warning.
    LabelWinsExact,
}

impl InjectRules {
    pub fn describe(self) -> &'static str {
        match self {
            InjectRules::AnnotationOnly => {
                "Istio ≤1.11 rules: only the annotation is read; y/yes/true/on inject, any other value is an explicit no"
            }
            InjectRules::LabelWinsLenient => {
                "Istio 1.12–1.26 rules: the label wins over the annotation; y/yes/true/on (any case) inject, any other value is an explicit no"
            }
            InjectRules::LabelWinsExact => {
                "Istio ≥1.27 rules: the label wins over the annotation; only \"true\"/\"false\" are accepted, other values fall back to the policy"
            }
        }
    }
}

/// What istiod makes of one inject value under some rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InjectValue {
    /// Explicitly inject.
    Yes,
    /// Explicitly do not inject.
    No,
    /// No explicit value: the selectors and the policy decide.
    Default,
    /// A value istiod does not accept; it falls back to the default (≥1.27 only).
    InvalidFallsBack,
}

impl InjectRules {
    pub fn parse_value(self, v: &str) -> InjectValue {
        match self {
            InjectRules::AnnotationOnly | InjectRules::LabelWinsLenient => {
                if v.is_empty() {
                    InjectValue::Default
                } else if ["y", "yes", "true", "on"]
                    .iter()
                    .any(|t| v.eq_ignore_ascii_case(t))
                {
                    InjectValue::Yes
                } else {
                    InjectValue::No
                }
            }
            InjectRules::LabelWinsExact => match v {
                "true" => InjectValue::Yes,
                "false" => InjectValue::No,
                "" => InjectValue::Default,
                _ => InjectValue::InvalidFallsBack,
            },
        }
    }
}

/// The version the rules were chosen for, and how it was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionInfo {
    pub version: Option<IstioVersion>,
    /// Where the version came from (`--istio-version`, `istiod image ...`), or why it is unknown.
    pub source: String,
}

impl VersionInfo {
    /// The version when it is unknown: the current rules apply, and the trace says so.
    pub const ASSUMED: IstioVersion = IstioVersion {
        major: 1,
        minor: 27,
    };

    pub fn effective(&self) -> IstioVersion {
        self.version.unwrap_or(Self::ASSUMED)
    }
}

// What meshdoctor knows about Istio releases, for `meshdoctor version` (kept apart from the
// rules above so that raising support is one edit here).

// The newest one is [`NEWEST_KNOWN`], at the top of this file.

/// The releases the injector render is checked against (tests/conformance*.rs).
pub const RENDER_CONFORMANCE: [&str; 2] = ["1.24.6", "1.32-dev"];

/// Where [`IstioVersion::rules`] changes: each era starts at its version and lasts until the
/// next one starts (the first covers every older release).
pub const RULE_ERAS: [(IstioVersion, InjectRules); 3] = [
    (
        IstioVersion { major: 1, minor: 0 },
        InjectRules::AnnotationOnly,
    ),
    (
        IstioVersion {
            major: 1,
            minor: 12,
        },
        InjectRules::LabelWinsLenient,
    ),
    (
        IstioVersion {
            major: 1,
            minor: 27,
        },
        InjectRules::LabelWinsExact,
    ),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_tags_and_images() {
        assert_eq!(
            IstioVersion::parse("1.24.6"),
            Some(IstioVersion {
                major: 1,
                minor: 24
            })
        );
        assert_eq!(
            IstioVersion::parse("docker.io/istio/pilot:1.11.4-distroless"),
            Some(IstioVersion {
                major: 1,
                minor: 11
            })
        );
        assert_eq!(
            IstioVersion::parse("localhost:5000/istio/pilot:1.27.0"),
            Some(IstioVersion {
                major: 1,
                minor: 27
            })
        );
        assert_eq!(IstioVersion::parse("latest"), None);
        assert_eq!(IstioVersion::parse("docker.io/istio/pilot"), None);
    }

    #[test]
    fn rules_change_at_1_12_and_1_27() {
        let v = |m| IstioVersion { major: 1, minor: m };
        assert_eq!(v(11).rules(), InjectRules::AnnotationOnly);
        assert_eq!(v(12).rules(), InjectRules::LabelWinsLenient);
        assert_eq!(v(26).rules(), InjectRules::LabelWinsLenient);
        assert_eq!(v(27).rules(), InjectRules::LabelWinsExact);
        assert_eq!(v(8).ignored_namespaces().len(), 2);
        assert_eq!(v(9).ignored_namespaces().len(), 4);
    }

    #[test]
    fn versions_from_chart_labels_and_revision_names() {
        let labels = |pairs: &[(&str, &str)]| {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<std::collections::BTreeMap<_, _>>()
        };
        assert_eq!(
            IstioVersion::from_chart_labels(&labels(&[("helm.sh/chart", "istiod-1.28.2")])),
            Some((IstioVersion::new(1, 28), "helm.sh/chart"))
        );
        assert_eq!(
            IstioVersion::from_chart_labels(&labels(&[(
                "helm.sh/chart",
                "istiod-remote-1.30.0-beta.1"
            )])),
            Some((IstioVersion::new(1, 30), "helm.sh/chart"))
        );
        assert_eq!(
            IstioVersion::from_chart_labels(&labels(&[
                ("app.kubernetes.io/version", "1.29.1"),
                ("helm.sh/chart", "istiod-1.28.0")
            ])),
            Some((IstioVersion::new(1, 29), "app.kubernetes.io/version"))
        );
        // An unreleased tree's chart says 1.0.0.
        assert_eq!(
            IstioVersion::from_chart_labels(&labels(&[
                ("app.kubernetes.io/version", "1.0.0"),
                ("helm.sh/chart", "istiod-1.0.0")
            ])),
            None
        );
        assert_eq!(
            IstioVersion::from_chart_labels(&labels(&[(
                "operator.istio.io/version",
                "1.16-alpha.91e4"
            )])),
            Some((IstioVersion::new(1, 16), "operator.istio.io/version"))
        );
        assert_eq!(
            IstioVersion::from_revision_name("1-28"),
            Some(IstioVersion::new(1, 28))
        );
        assert_eq!(
            IstioVersion::from_revision_name("1-28-0"),
            Some(IstioVersion::new(1, 28))
        );
        assert_eq!(IstioVersion::from_revision_name("canary"), None);
        assert_eq!(IstioVersion::from_revision_name("1-28-canary"), None);
        assert_eq!(IstioVersion::from_revision_name("default"), None);
    }

    #[test]
    fn render_rules_change_at_1_25_and_1_28() {
        let v = |m| IstioVersion::new(1, m).render_rules();
        assert!(!v(24).rewrite_lifecycle_hooks);
        assert!(v(25).rewrite_lifecycle_hooks);
        assert!(v(27).null_creation_timestamp);
        assert!(!v(28).null_creation_timestamp);
        assert!(!v(30).prometheus_scrape_targets);
        assert!(v(31).prometheus_scrape_targets);
        assert_eq!(NEWEST_KNOWN.to_string(), "1.32");
    }

    #[test]
    fn value_parsing_per_rules() {
        use InjectValue::*;
        let lenient = InjectRules::LabelWinsLenient;
        let exact = InjectRules::LabelWinsExact;
        for (v, l, e) in [
            ("true", Yes, Yes),
            ("false", No, No),
            ("", Default, Default),
            ("yes", Yes, InvalidFallsBack),
            ("TRUE", Yes, InvalidFallsBack),
            ("on", Yes, InvalidFallsBack),
            ("enabled", No, InvalidFallsBack),
            ("no", No, InvalidFallsBack),
        ] {
            assert_eq!(lenient.parse_value(v), l, "lenient {v}");
            assert_eq!(exact.parse_value(v), e, "exact {v}");
        }
    }

    #[test]
    fn rule_eras_match_the_rules() {
        for pair in RULE_ERAS.windows(2) {
            let ((start, rules), (next, _)) = (pair[0], pair[1]);
            assert_eq!(start.rules(), rules, "{start}");
            let last = IstioVersion {
                major: next.major,
                minor: next.minor - 1,
            };
            assert_eq!(last.rules(), rules, "{last}");
        }
        let (start, rules) = RULE_ERAS[RULE_ERAS.len() - 1];
        assert_eq!(start.rules(), rules);
        assert_eq!(NEWEST_KNOWN.rules(), rules);
        assert!(NEWEST_KNOWN >= start);
    }
}
