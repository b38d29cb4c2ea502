//! Where Linkerd changed the patch between versions, keyed on the version the cluster runs
//! (`linkerd-config`'s `linkerdVersion`, else the injector image's tag, or `--linkerd-version`).
//! Each rule names the first release that has the change (the first tag containing the commit
//! in linkerd/linkerd2). The builder itself is modelled on edge-26.8.3: a version it cannot
//! read, or one newer than that, is rendered as edge-26.8.3 and [`Rules::note`] says so.

/// The release the render models.
pub const MODELLED: &str = "edge-26.8.3";

/// A Linkerd release: `edge-YY.M.N` or `stable-2.X.Y` (open-source stable releases end with
/// stable-2.14.10; the native-sidecar changes came after it, in edge releases only).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Release {
    Stable(u32, u32, u32),
    Edge(u32, u32, u32),
}

impl Release {
    pub fn parse(text: &str) -> Option<Release> {
        let (kind, rest) = text.trim().split_once('-')?;
        let mut parts = rest.split('.').map(|p| p.parse::<u32>().ok());
        let (a, b, c) = (parts.next()??, parts.next()??, parts.next()??);
        if parts.next().is_some() {
            return None;
        }
        match kind {
            "edge" => Some(Release::Edge(a, b, c)),
            "stable" => Some(Release::Stable(a, b, c)),
            _ => None,
        }
    }
}

/// When a change arrived: the first edge release, and the first stable one if any has it.
struct Since {
    edge: Release,
    stable: Option<Release>,
}

impl Since {
    fn has(&self, r: Release) -> bool {
        match r {
            Release::Edge(..) => r >= self.edge,
            Release::Stable(..) => self.stable.is_some_and(|s| r >= s),
        }
    }
}

/// `linkerd.io/trust-root-sha256` on injected pods: #9361 (commit b7387820c), edge-22.9.1,
/// stable-2.12.1.
const TRUST_ROOT_ANNOTATION: Since = Since {
    edge: Release::Edge(22, 9, 1),
    stable: Some(Release::Stable(2, 12, 1)),
};
/// The proxy as a native sidecar (`proxy.nativeSidecar`, annotation
/// `config.alpha.linkerd.io/proxy-enable-native-sidecar`): #11465 (1b37e1989), edge-23.11.4.
const NATIVE_SIDECAR: Since = Since {
    edge: Release::Edge(23, 11, 4),
    stable: None,
};
/// `config.beta.linkerd.io/proxy-enable-native-sidecar`, which wins over the alpha key:
/// #14587 (d3788f6a6), edge-25.10.2.
const NATIVE_SIDECAR_BETA: Since = Since {
    edge: Release::Edge(25, 10, 2),
    stable: None,
};
/// `config.linkerd.io/proxy-enable-native-sidecar` (wins over beta and alpha) and
/// `proxy.nativeSidecar` defaulting to true: #15267 (009a25fa3), edge-26.5.2.
const NATIVE_SIDECAR_GA: Since = Since {
    edge: Release::Edge(26, 5, 2),
    stable: None,
};

pub const NATIVE_SIDECAR_KEY: &str = "config.linkerd.io/proxy-enable-native-sidecar";
pub const NATIVE_SIDECAR_KEY_BETA: &str = "config.beta.linkerd.io/proxy-enable-native-sidecar";
pub const NATIVE_SIDECAR_KEY_ALPHA: &str = "config.alpha.linkerd.io/proxy-enable-native-sidecar";

/// What a version's injector does differently.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rules {
    /// The release the rules are for (the version given, or [`MODELLED`]).
    pub release: String,
    /// Why the version given is rendered as another (unreadable, or newer than modelled).
    pub note: Option<String>,
    pub trust_root_annotation: bool,
    /// Whether the injector can run the proxy as a native sidecar at all.
    pub native_sidecar: bool,
    /// The annotations that switch native sidecars, the winning one first.
    pub native_sidecar_keys: &'static [&'static str],
    /// `proxy.nativeSidecar` when the values do not set it.
    pub native_sidecar_default: bool,
}

/// The rules for `version` (a `linkerdVersion`, an image tag, a `--linkerd-version`).
pub fn rules_for(version: &str) -> Rules {
    let modelled = Release::parse(MODELLED).unwrap_or(Release::Edge(26, 8, 3));
    let (release, name, note) = match Release::parse(version) {
        Some(r @ Release::Edge(..)) if r > modelled => (
            modelled,
            MODELLED.to_owned(),
            Some(format!(
                "Linkerd {version} is newer than {MODELLED}, the newest release meshdoctor models: rendered as {MODELLED}"
            )),
        ),
        Some(r) => (r, version.trim().to_owned(), None),
        None => (
            modelled,
            MODELLED.to_owned(),
            Some(format!(
                "Linkerd version {version:?} is not a release meshdoctor can read (edge-YY.M.N, stable-2.X.Y): rendered as {MODELLED}"
            )),
        ),
    };
    let native_sidecar_keys: &'static [&'static str] = if NATIVE_SIDECAR_GA.has(release) {
        &[
            NATIVE_SIDECAR_KEY,
            NATIVE_SIDECAR_KEY_BETA,
            NATIVE_SIDECAR_KEY_ALPHA,
        ]
    } else if NATIVE_SIDECAR_BETA.has(release) {
        &[NATIVE_SIDECAR_KEY_BETA, NATIVE_SIDECAR_KEY_ALPHA]
    } else if NATIVE_SIDECAR.has(release) {
        &[NATIVE_SIDECAR_KEY_ALPHA]
    } else {
        &[]
    };
    Rules {
        release: name,
        note,
        trust_root_annotation: TRUST_ROOT_ANNOTATION.has(release),
        native_sidecar: NATIVE_SIDECAR.has(release),
        native_sidecar_keys,
        native_sidecar_default: NATIVE_SIDECAR_GA.has(release),
    }
}

/// Lays the version's defaults under what the values document leaves unset (the document
/// `linkerd-config` or a values file holds; `Null` for the chart defaults alone), for the
/// version in `values.linkerd_version`. Returns the rules applied.
pub fn apply_defaults(values: &mut super::Values, doc: &serde_json::Value) -> Rules {
    let rules = rules_for(&values.linkerd_version);
    let set = doc
        .pointer("/proxy/nativeSidecar")
        .is_some_and(|v| !v.is_null());
    if !set {
        values.proxy.native_sidecar = rules.native_sidecar_default;
    }
    rules
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn releases_parse_and_order_within_their_channel() {
        assert_eq!(Release::parse("edge-26.8.3"), Some(Release::Edge(26, 8, 3)));
        assert_eq!(
            Release::parse("stable-2.14.10"),
            Some(Release::Stable(2, 14, 10))
        );
        assert!(Release::parse("edge-25.10.2") > Release::parse("edge-25.9.9"));
        for bad in ["dev-undefined", "edge-26.8", "2.14.10", "edge-26.8.3.1", ""] {
            assert_eq!(Release::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn the_modelled_release_has_every_change() {
        let r = rules_for("edge-26.8.3");
        assert_eq!(r.note, None);
        assert!(r.trust_root_annotation && r.native_sidecar && r.native_sidecar_default);
        assert_eq!(r.native_sidecar_keys[0], NATIVE_SIDECAR_KEY);
    }

    #[test]
    fn unknown_and_newer_versions_render_as_the_modelled_release_and_say_so() {
        for v in ["dev-undefined", "edge-27.1.1", "enterprise-2.18.0"] {
            let r = rules_for(v);
            assert_eq!(r.release, MODELLED, "{v}");
            assert!(r.note.as_deref().unwrap().contains(MODELLED), "{v}");
            assert!(r.native_sidecar_default, "{v}");
        }
    }

    #[test]
    fn native_sidecar_keys_follow_the_alpha_beta_ga_promotions() {
        assert_eq!(
            rules_for("edge-23.11.3").native_sidecar_keys,
            [] as [&str; 0]
        );
        assert!(!rules_for("edge-23.11.3").native_sidecar);
        assert_eq!(
            rules_for("edge-23.11.4").native_sidecar_keys,
            [NATIVE_SIDECAR_KEY_ALPHA]
        );
        assert_eq!(
            rules_for("edge-25.10.2").native_sidecar_keys,
            [NATIVE_SIDECAR_KEY_BETA, NATIVE_SIDECAR_KEY_ALPHA]
        );
        let ga = rules_for("edge-26.5.2");
        assert_eq!(ga.native_sidecar_keys[0], NATIVE_SIDECAR_KEY);
        assert!(ga.native_sidecar_default);
        assert!(!rules_for("edge-26.5.1").native_sidecar_default);
        // No open-source stable release has native sidecars.
        assert!(!rules_for("stable-2.14.10").native_sidecar);
    }

    #[test]
    fn native_sidecar_defaults_to_the_versions_unless_the_values_set_it() {
        let mut v = super::super::Values::chart_defaults();
        v.linkerd_version = "edge-26.4.1".into();
        apply_defaults(&mut v, &serde_json::Value::Null);
        assert!(!v.proxy.native_sidecar);
        v.linkerd_version = "edge-26.5.2".into();
        apply_defaults(&mut v, &serde_json::json!({"proxy": {"image": {}}}));
        assert!(v.proxy.native_sidecar);
        v.linkerd_version = "edge-26.4.1".into();
        v.proxy.native_sidecar = true;
        apply_defaults(
            &mut v,
            &serde_json::json!({"proxy": {"nativeSidecar": true}}),
        );
        assert!(v.proxy.native_sidecar);
    }

    #[test]
    fn trust_root_annotation_arrived_in_edge_22_9_1_and_stable_2_12_1() {
        assert!(!rules_for("edge-22.8.3").trust_root_annotation);
        assert!(rules_for("edge-22.9.1").trust_root_annotation);
        assert!(!rules_for("stable-2.12.0").trust_root_annotation);
        assert!(rules_for("stable-2.12.1").trust_root_annotation);
    }
}
