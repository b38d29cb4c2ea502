//! istiod's side of the decision (`injectRequired`): what the injector answers once the API
//! server has called it. Host network, ignored namespaces, the inject label and annotation,
//! the never/always-inject selectors and the policy, in that order, per the rules of the
//! control plane's version (reference `istio-injection.md` §1.1, §1.4).

use std::collections::BTreeMap;

use super::config::{InjectorSettings, Policy};
use super::version::{InjectRules, InjectValue};
use crate::trace::{Step, StepResult, Tracer};

pub const INJECT_KEY: &str = "sidecar.istio.io/inject";

/// The parts of a pod that `injectRequired` reads.
#[derive(Debug, Clone, Copy)]
pub struct PodFacts<'a> {
    /// The namespace the pod is created in (the request's namespace when the pod names none).
    pub namespace: &'a str,
    pub labels: &'a BTreeMap<String, String>,
    pub annotations: &'a BTreeMap<String, String>,
    pub host_network: bool,
}

/// istiod's answer and the step that decided it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IstiodVerdict {
    pub inject: bool,
    /// Step id of the deciding step.
    pub decisive: &'static str,
}

/// Runs `injectRequired` for one pod under one revision's settings.
pub fn inject_required<T: Tracer>(
    pod: &PodFacts<'_>,
    settings: &InjectorSettings,
    tracer: &mut T,
) -> IstiodVerdict {
    let version = settings.version.effective();
    let rules = version.rules();

    if pod.host_network {
        tracer.record(|| {
            Step::new(
                "host-network",
                StepResult::Fail,
                "spec.hostNetwork is true: istiod never injects pods on the host network",
            )
        });
        return IstiodVerdict {
            inject: false,
            decisive: "host-network",
        };
    }
    tracer.record(|| {
        Step::new(
            "host-network",
            StepResult::Pass,
            "spec.hostNetwork is not set",
        )
    });

    let ignored = version.ignored_namespaces();
    if ignored.contains(&pod.namespace) {
        tracer.record(|| {
            Step::new(
                "ignored-namespace",
                StepResult::Fail,
                format!(
                    "namespace \"{}\" is one istiod always ignores ({})",
                    pod.namespace,
                    ignored.join(", ")
                ),
            )
        });
        return IstiodVerdict {
            inject: false,
            decisive: "ignored-namespace",
        };
    }
    tracer.record(|| {
        Step::new(
            "ignored-namespace",
            StepResult::Pass,
            format!("namespace \"{}\" is not ignored by istiod", pod.namespace),
        )
    });

    // The explicit value: the label wins when its key is present (even empty), except on
    // Istio ≤ 1.11 which reads only the annotation.
    let label = pod.labels.get(INJECT_KEY);
    let annotation = pod.annotations.get(INJECT_KEY);
    let (value, from_label) = match (rules, label) {
        (InjectRules::AnnotationOnly, _) | (_, None) => {
            (annotation.map(String::as_str).unwrap_or(""), false)
        }
        (_, Some(l)) => (l.as_str(), true),
    };
    let explicit_step: &'static str = if from_label {
        "inject-label"
    } else {
        "inject-annotation"
    };
    let parsed = rules.parse_value(value);
    let mut use_default = true;
    let mut inject = false;
    match parsed {
        InjectValue::Yes => {
            use_default = false;
            inject = true;
            tracer.record(|| {
                Step::new(
                    explicit_step,
                    StepResult::Pass,
                    format!(
                        "pod {} {INJECT_KEY}={value:?} asks for injection",
                        kind_word(from_label)
                    ),
                )
            });
        }
        InjectValue::No => {
            use_default = false;
            tracer.record(|| {
                let why = if value == "false" {
                    String::new()
                } else {
                    format!(" ({})", rules.describe())
                };
                Step::new(
                    explicit_step,
                    StepResult::Fail,
                    format!(
                        "pod {} {INJECT_KEY}={value:?} opts out{why}",
                        kind_word(from_label)
                    ),
                )
            });
        }
        InjectValue::Default => {
            tracer.record(|| {
                let detail = match (rules, label.is_some(), annotation.is_some()) {
                    (InjectRules::AnnotationOnly, true, _) => format!(
                        "no {INJECT_KEY} annotation (the label is present but Istio ≤1.11 reads only the annotation): the selectors and policy decide"
                    ),
                    (_, true, _) => format!("pod label {INJECT_KEY} is empty: the selectors and policy decide"),
                    _ => format!("no {INJECT_KEY} label or annotation on the pod: the selectors and policy decide"),
                };
                Step::new(explicit_step, StepResult::Skip, detail)
            });
        }
        InjectValue::InvalidFallsBack => {
            tracer.record(|| {
                Step::new(
                    explicit_step,
                    StepResult::Skip,
                    format!(
                        "pod {} {INJECT_KEY}={value:?} is not accepted (only \"true\" and \"false\" are): istiod falls back to the default policy",
                        kind_word(from_label)
                    ),
                )
            });
        }
    }

    if use_default {
        for (i, sel) in settings.never_inject.iter().enumerate() {
            match &sel.compiled {
                Err(e) => tracer.record(|| {
                    Step::new(
                        "never-inject-selector",
                        StepResult::Skip,
                        format!(
                            "neverInjectSelector[{i}] {} is invalid and skipped by istiod: {e}",
                            sel.shown
                        ),
                    )
                }),
                Ok(s) if !s.is_empty() && s.matches(pod.labels) => {
                    tracer.record(|| {
                        Step::new(
                            "never-inject-selector",
                            StepResult::Fail,
                            format!(
                                "neverInjectSelector[{i}] {} matches the pod's labels",
                                sel.shown
                            ),
                        )
                    });
                    return IstiodVerdict {
                        inject: false,
                        decisive: "never-inject-selector",
                    };
                }
                Ok(_) => {}
            }
        }
        if !settings.never_inject.is_empty() {
            tracer.record(|| {
                Step::new(
                    "never-inject-selector",
                    StepResult::Pass,
                    "no neverInjectSelector matches the pod's labels",
                )
            });
        }
        for (i, sel) in settings.always_inject.iter().enumerate() {
            match &sel.compiled {
                Err(e) => tracer.record(|| {
                    Step::new(
                        "always-inject-selector",
                        StepResult::Skip,
                        format!(
                            "alwaysInjectSelector[{i}] {} is invalid and skipped by istiod: {e}",
                            sel.shown
                        ),
                    )
                }),
                Ok(s) if !s.is_empty() && s.matches(pod.labels) => {
                    tracer.record(|| {
                        Step::new(
                            "always-inject-selector",
                            StepResult::Pass,
                            format!(
                                "alwaysInjectSelector[{i}] {} matches the pod's labels",
                                sel.shown
                            ),
                        )
                    });
                    use_default = false;
                    inject = true;
                    break;
                }
                Ok(_) => {}
            }
        }
        if use_default && !settings.always_inject.is_empty() {
            tracer.record(|| {
                Step::new(
                    "always-inject-selector",
                    StepResult::Skip,
                    "no alwaysInjectSelector matches the pod's labels",
                )
            });
        }
    }

    let cm = settings
        .configmap
        .as_deref()
        .unwrap_or("(no injector ConfigMap in the input: Helm default assumed)");
    match &settings.policy {
        Policy::Illegal(v) => {
            tracer.record(|| {
                let shown = if settings.policy_set { format!("{v:?}") } else { "not set".to_owned() };
                Step::new(
                    "policy",
                    StepResult::Fail,
                    format!("injector policy is {shown} in {cm}: istiod accepts only enabled/disabled and injects nothing"),
                )
            });
            IstiodVerdict {
                inject: false,
                decisive: "policy",
            }
        }
        policy if use_default => {
            let on = *policy == Policy::Enabled;
            tracer.record(|| {
                Step::new(
                    "policy",
                    if on {
                        StepResult::Pass
                    } else {
                        StepResult::Fail
                    },
                    format!(
                        "injector policy is \"{}\" in {cm} and nothing on the pod overrides it",
                        policy.as_str()
                    ),
                )
            });
            IstiodVerdict {
                inject: on,
                decisive: "policy",
            }
        }
        policy => {
            tracer.record(|| {
                Step::new(
                    "policy",
                    StepResult::Skip,
                    format!(
                        "injector policy \"{}\" in {cm} is overridden by the explicit choice above",
                        policy.as_str()
                    ),
                )
            });
            let decisive = if settings.always_inject.iter().any(|s| {
                s.compiled
                    .as_ref()
                    .is_ok_and(|c| !c.is_empty() && c.matches(pod.labels))
            }) && !matches!(parsed, InjectValue::Yes | InjectValue::No)
            {
                "always-inject-selector"
            } else {
                explicit_step
            };
            IstiodVerdict { inject, decisive }
        }
    }
}

fn kind_word(from_label: bool) -> &'static str {
    if from_label { "label" } else { "annotation" }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mesh::istio::config::{InjectSelector, InjectorSettings};
    use crate::mesh::istio::version::{IstioVersion, VersionInfo};
    use crate::selector::Selector;
    use crate::trace::{NoTrace, Trace};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, LabelSelectorRequirement};

    /// `k=v` is matchLabels; a bare `k` is an Exists expression (as `ParseToLabelSelector`).
    fn sel(text: &str) -> InjectSelector {
        let mut ls = LabelSelector::default();
        match text.split_once('=') {
            Some((k, v)) => ls.match_labels = Some([(k.to_owned(), v.to_owned())].into()),
            None => {
                ls.match_expressions = Some(vec![LabelSelectorRequirement {
                    key: text.to_owned(),
                    operator: "Exists".to_owned(),
                    values: None,
                }])
            }
        }
        InjectSelector {
            shown: text.to_owned(),
            compiled: Selector::compile(&ls).map_err(|e| e.to_string()),
        }
    }

    fn map(pairs: &str) -> BTreeMap<String, String> {
        pairs
            .split(',')
            .filter(|p| !p.is_empty())
            .map(|p| match p.split_once('=') {
                Some((k, v)) => (k.to_owned(), v.to_owned()),
                None => (p.to_owned(), String::new()),
            })
            .collect()
    }

    fn settings(
        policy: &str,
        never: &str,
        always: &str,
        version: Option<IstioVersion>,
    ) -> InjectorSettings {
        let mut s = InjectorSettings::assumed(
            "default",
            VersionInfo {
                version,
                source: "test".into(),
            },
        );
        s.policy = Policy::parse(policy);
        s.never_inject = never
            .split(',')
            .filter(|x| !x.is_empty())
            .map(sel)
            .collect();
        s.always_inject = always
            .split(',')
            .filter(|x| !x.is_empty())
            .map(sel)
            .collect();
        s
    }

    /// (case, policy, never, always, annotation, label, other labels, hostNetwork, want).
    type InjectCase = (
        u32,
        &'static str,
        &'static str,
        &'static str,
        Option<&'static str>,
        Option<&'static str>,
        &'static str,
        bool,
        bool,
    );

    /// The facts of Istio's `TestInjectRequired` (36 cases), rewritten as a table of
    /// [`InjectCase`].
    #[test]
    fn inject_required_cases() {
        #[rustfmt::skip]
        let cases: &[InjectCase] = &[
            (1, "enabled", "", "", None, None, "", false, true),
            (2, "enabled", "", "", None, None, "", false, true),
            (3, "enabled", "", "", Some("true"), None, "", false, true),
            (4, "enabled", "", "", Some("false"), None, "", false, false),
            (5, "disabled", "", "", None, None, "", false, false),
            (6, "disabled", "", "", None, None, "", false, false),
            (7, "disabled", "", "", Some("true"), None, "", false, true),
            (8, "disabled", "", "", Some("false"), None, "", false, false),
            (9, "enabled", "", "", Some("yes"), None, "", false, true),
            (10, "disabled", "", "", Some("on"), None, "", false, false),
            (11, "enabled", "", "", None, Some("random"), "", false, true),
            (12, "enabled", "", "", None, None, "", true, false),
            (13, "wrong_policy", "", "", None, None, "", false, false),
            (14, "enabled", "", "foo=bar", None, None, "", false, true),
            (15, "enabled", "", "foo=bar", None, None, "foo=bar1", false, true),
            (16, "disabled", "", "foo=bar", None, None, "", false, false),
            (17, "disabled", "", "foo=bar", None, None, "foo=bar", false, true),
            (18, "enabled", "foo=bar", "", None, None, "", false, true),
            (19, "enabled", "foo=bar", "", None, None, "foo=bar", false, false),
            (20, "disabled", "foo=bar", "", None, None, "", false, false),
            (21, "disabled", "foo=bar", "", None, None, "foo=bar", false, false),
            (22, "enabled", "foo", "", None, None, "foo=,foo2=bar2", false, false),
            (23, "disabled", "", "foo", None, None, "foo=,foo2=bar2", false, true),
            (24, "disabled", "never", "always", None, None, "always=bar,foo2=bar2", false, true),
            (25, "disabled", "never", "always", None, None, "never=bar,foo2=bar2", false, false),
            (26, "disabled", "never", "always", None, None, "always=bar,never=bar2", false, false),
            (27, "enabled", "foo", "", Some("true"), None, "foo=,foo2=bar2", false, true),
            (28, "enabled", "", "foo", Some("false"), None, "foo=,foo2=bar2", false, false),
            (29, "disabled", "", "foo", Some("false"), None, "foo=,foo2=bar2", false, false),
            (30, "enabled", "foo,bar", "", None, None, "label1=,bar=anything", false, false),
            (31, "disabled", "", "foo,bar", None, None, "label1=,bar=anything", false, true),
            (32, "disabled", "foo", "", Some("true"), None, "foo=,foo2=bar2", false, true),
            (33, "disabled", "", "", None, Some("true"), "", false, true),
            (34, "disabled", "", "", Some("true"), Some("true"), "", false, true),
            (35, "disabled", "", "", Some("false"), Some("true"), "", false, true),
            (36, "disabled", "", "", Some("true"), Some("false"), "", false, false),
        ];
        for &(n, policy, never, always, anno, label, others, host, want) in cases {
            let s = settings(policy, never, always, None);
            let mut labels = map(others);
            if let Some(l) = label {
                labels.insert(INJECT_KEY.to_owned(), l.to_owned());
            }
            let mut annotations = BTreeMap::new();
            if let Some(a) = anno {
                annotations.insert(INJECT_KEY.to_owned(), a.to_owned());
            }
            let pod = PodFacts {
                namespace: "test-namespace",
                labels: &labels,
                annotations: &annotations,
                host_network: host,
            };
            let fast = inject_required(&pod, &s, &mut NoTrace);
            let mut trace = Trace::default();
            let traced = inject_required(&pod, &s, &mut trace);
            assert_eq!(
                fast, traced,
                "case {n}: the trace must not change the verdict"
            );
            assert_eq!(fast.inject, want, "case {n}: {:#?}", trace.steps);
            assert!(
                trace.steps.iter().any(|st| st.step == fast.decisive),
                "case {n}: decisive step is in the trace"
            );
        }
    }

    #[test]
    fn ignored_namespaces_depend_on_version() {
        let labels = BTreeMap::new();
        for (ns, version, want) in [
            ("kube-system", 24, false),
            ("kube-public", 24, false),
            ("kube-node-lease", 24, false),
            ("local-path-storage", 24, false),
            ("kube-node-lease", 8, true),
            ("fake", 24, true),
        ] {
            let s = settings(
                "enabled",
                "",
                "",
                Some(IstioVersion {
                    major: 1,
                    minor: version,
                }),
            );
            let pod = PodFacts {
                namespace: ns,
                labels: &labels,
                annotations: &labels,
                host_network: false,
            };
            assert_eq!(
                inject_required(&pod, &s, &mut NoTrace).inject,
                want,
                "{ns} on 1.{version}"
            );
        }
    }

    #[test]
    fn older_versions_parse_values_leniently() {
        let v = |m| Some(IstioVersion { major: 1, minor: m });
        let empty = BTreeMap::new();
        let yes_anno = map(&format!("{INJECT_KEY}=yes"));
        let enabled_anno = map(&format!("{INJECT_KEY}=enabled"));
        let true_label = map(&format!("{INJECT_KEY}=true"));
        // (version, policy, labels, annotations, want)
        for (ver, policy, labels, annos, want) in [
            (v(24), "disabled", &empty, &yes_anno, true), // lenient: yes = true
            (v(27), "disabled", &empty, &yes_anno, false), // exact: yes falls back to policy
            (v(24), "enabled", &empty, &enabled_anno, false), // lenient: unknown = explicit no
            (v(27), "enabled", &empty, &enabled_anno, true), // exact: unknown falls back
            (v(11), "disabled", &true_label, &empty, false), // ≤1.11 ignores the label
            (v(12), "disabled", &true_label, &empty, true),
        ] {
            let s = settings(policy, "", "", ver);
            let pod = PodFacts {
                namespace: "app",
                labels,
                annotations: annos,
                host_network: false,
            };
            assert_eq!(
                inject_required(&pod, &s, &mut NoTrace).inject,
                want,
                "{ver:?} {policy} {labels:?} {annos:?}"
            );
        }
    }
}
