//! `webhook-timeout`: a mesh injector webhook's `timeoutSeconds` is outside the 1–30 seconds the
//! API server accepts, or so low that a busy injector misses it. On timeout the API server
//! abandons the call with `context deadline exceeded` and then applies the failurePolicy.

use crate::check::{Check, CheckContext, Evidence, Finding, ObjectRef, Severity, Skip};

use super::machinery::{MeshWebhook, by_configuration, required_mesh_webhooks, which_webhooks};

pub struct WebhookTimeout;

/// Below this the injector (template rendering, a cold istiod, API server load) misses the
/// deadline often enough to matter; Istio's and Linkerd's charts use the default 10.
pub const LOW_TIMEOUT_SECONDS: i32 = 5;

/// What the API server defaults `timeoutSeconds` to in admissionregistration/v1.
const DEFAULT_TIMEOUT_SECONDS: i32 = 10;

impl Check for WebhookTimeout {
    fn doc(&self) -> &'static str {
        include_str!("../../checks/webhook-timeout.md")
    }

    fn run(&self, ctx: &CheckContext<'_>, out: &mut Vec<Finding>) -> Result<(), Skip> {
        let webhooks = required_mesh_webhooks(ctx)?;
        for (configuration, list) in by_configuration(&webhooks) {
            let bad: Vec<(&MeshWebhook<'_>, i32, bool)> = list
                .iter()
                .filter_map(|w| {
                    let t = w.webhook.timeout_seconds.unwrap_or(DEFAULT_TIMEOUT_SECONDS);
                    let invalid = !(1..=30).contains(&t);
                    (invalid || t < LOW_TIMEOUT_SECONDS).then_some((*w, t, invalid))
                })
                .collect();
            let Some((first, t, invalid)) = bad.first().copied() else {
                continue;
            };
            let (which, plural) = which_webhooks(bad.iter().map(|(w, ..)| *w));
            let sets = if plural { "set" } else { "sets" };
            let shown: Vec<String> = bad.iter().map(|(_, t, _)| t.to_string()).collect();
            let t_text = if plural {
                format!("timeoutSeconds {}", shown.join(" and "))
            } else {
                format!("timeoutSeconds {t}")
            };
            let after = if first.fails_open() {
                "with failurePolicy Ignore the pod is then created without a sidecar"
            } else {
                "with failurePolicy Fail the pod creation is then rejected"
            };
            let any_invalid = bad.iter().any(|(_, _, i)| *i);
            let message = if invalid {
                format!(
                    "{which} of {configuration} {sets} {t_text}, outside the 1–30 the API server accepts: applying the configuration fails with \"the timeout value must be between 1 and 30 seconds\""
                )
            } else {
                format!(
                    "{which} of {configuration} {sets} {t_text}: below ~{LOW_TIMEOUT_SECONDS} s a loaded or starting injector misses the deadline, the API server abandons the call with \"context deadline exceeded\", and {after}"
                )
            };
            let evidence = bad
                .iter()
                .map(|(w, t, invalid)| {
                    Evidence::new(
                        w.field("timeoutSeconds"),
                        t.to_string(),
                        if *invalid {
                            "1 to 30 (the API server's default and the charts' value is 10)"
                        } else {
                            "10 (the API server default, which Istio's and Linkerd's charts keep)"
                        },
                        w.origin,
                    )
                })
                .collect();
            let ops: Vec<String> = bad
                .iter()
                .map(|(w, ..)| {
                    format!(
                        "{{\"op\":\"replace\",\"path\":\"{}\",\"value\":{DEFAULT_TIMEOUT_SECONDS}}}",
                        w.patch_path("timeoutSeconds")
                    )
                })
                .collect();
            out.push(Finding {
                check: "webhook-timeout".to_owned(),
                severity: if any_invalid {
                    Severity::Error
                } else {
                    Severity::Warning
                },
                object: ObjectRef::new("MutatingWebhookConfiguration", None, configuration),
                message,
                evidence,
                fix: format!(
                    "kubectl patch mutatingwebhookconfiguration {configuration} --type=json -p '[{}]'",
                    ops.join(",")
                ),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::machinery::testing::{istio_mwc, run};
    use super::*;

    fn timeout(t: &str) -> Vec<Finding> {
        let extra = if t.is_empty() {
            String::new()
        } else {
            format!("  timeoutSeconds: {t}")
        };
        run(&WebhookTimeout, &istio_mwc("inj", "istiod", &extra)).unwrap()
    }

    #[test]
    fn outside_one_to_thirty_is_an_error_the_api_server_would_give() {
        // Such a configuration cannot be stored, but a manifest under review can hold it.
        for t in ["0", "31", "-5"] {
            let f = timeout(t);
            assert_eq!(f.len(), 1, "{t}");
            assert_eq!(f[0].severity, Severity::Error);
            assert!(
                f[0].message
                    .contains("the timeout value must be between 1 and 30 seconds"),
                "{}",
                f[0].message
            );
            assert!(
                f[0].fix
                    .contains("\"path\":\"/webhooks/0/timeoutSeconds\",\"value\":10")
            );
        }
    }

    #[test]
    fn low_timeouts_warn_and_the_defaults_pass() {
        let f = timeout("4");
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].severity, Severity::Warning);
        assert!(f[0].message.contains("context deadline exceeded"));
        assert!(
            f[0].message
                .contains("failurePolicy Fail the pod creation is then rejected")
        );
        assert!(timeout("5").is_empty());
        assert!(timeout("30").is_empty());
        assert!(
            timeout("").is_empty(),
            "unset means the API server default of 10"
        );
    }
}
