//! `quota-blocks-sidecar`: a ResourceQuota or LimitRange in the namespace leaves no room for the
//! resources the injected proxy asks for, so pods that would be admitted without a sidecar are
//! rejected with one (quota and LimitRange admission run after the mutating webhooks).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Container, LimitRangeItem};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

use crate::check::{Check, CheckContext, Evidence, Finding, Severity, Skip};
use crate::decision::Mesh;
use crate::origin::Origin;
use crate::state::{Kind, KindAvailability};
use crate::workload::PodSubject;

use super::sidecar::{
    ISTIO_INIT, ISTIO_PROXY, LINKERD_PROXY, Milli, ProxyResources, istio_cni,
    istio_proxy_resources, istio_settings, linkerd_proxy_resources, linkerd_values, parse_quantity,
    show_quantity, will_be_admitted_injected,
};
use super::util::{subject_name, subject_ref};

pub struct QuotaBlocksSidecar;

const ID: &str = "quota-blocks-sidecar";

/// Quota keys that count container requests or limits, with the resource and whether it is a
/// request.
const QUOTA_KEYS: [(&str, &str, bool); 6] = [
    ("requests.cpu", "cpu", true),
    ("cpu", "cpu", true),
    ("requests.memory", "memory", true),
    ("memory", "memory", true),
    ("limits.cpu", "cpu", false),
    ("limits.memory", "memory", false),
];

/// Effective container resources after LimitRange defaults: resource → value.
#[derive(Debug, Clone, Default)]
struct Effective {
    requests: BTreeMap<&'static str, Milli>,
    limits: BTreeMap<&'static str, Milli>,
}

impl Effective {
    fn get(&self, resource: &str, request: bool) -> Option<Milli> {
        if request {
            self.requests.get(resource).copied()
        } else {
            self.limits.get(resource).copied()
        }
    }
}

/// What admission would refuse, with the object that refuses it.
struct Problem {
    text: String,
    field: String,
    observed: String,
    expected: String,
    origin: Origin,
    fix: FixKind,
}

enum FixKind {
    /// Give the proxy this request/limit (resource, is_request, value).
    SetProxy(&'static str, bool, String),
    /// Raise this quota's hard value.
    RaiseQuota {
        quota: String,
        key: String,
        value: String,
    },
}

impl Check for QuotaBlocksSidecar {
    fn doc(&self) -> &'static str {
        include_str!("../../checks/quota-blocks-sidecar.md")
    }

    fn run(&self, ctx: &CheckContext<'_>, out: &mut Vec<Finding>) -> Result<(), Skip> {
        // Either kind alone is a complete input (the other is then absent, i.e. none exist),
        // but a kind that could not be read makes any answer a guess.
        let mut unreadable = Vec::new();
        let mut absent = Vec::new();
        for kind in [Kind::ResourceQuota, Kind::LimitRange] {
            match ctx.state.loaded_kinds.get(&kind) {
                Some(KindAvailability::Loaded) => {}
                Some(KindAvailability::Unavailable(why)) => unreadable.push(why.clone()),
                None => absent.push(ctx.state.unavailable_reason(kind).unwrap_or_default()),
            }
        }
        if !unreadable.is_empty() || absent.len() == 2 {
            unreadable.extend(absent);
            return Err(Skip(unreadable.join("; ")));
        }
        let linkerd_config = std::cell::OnceCell::new();
        for (subject, verdict, mesh) in will_be_admitted_injected(ctx.subjects) {
            let ns = subject.namespace.as_str();
            let quotas: Vec<_> = ctx.state.resource_quotas.in_namespace(Some(ns)).collect();
            let ranges: Vec<_> = ctx.state.limit_ranges.in_namespace(Some(ns)).collect();
            if quotas.is_empty() && ranges.is_empty() {
                continue;
            }
            let container_items: Vec<&LimitRangeItem> = ranges
                .iter()
                .flat_map(|r| r.obj.spec.iter().flat_map(|s| s.limits.iter()))
                .filter(|i| i.type_ == "Container")
                .collect();
            let (proxy, injected) = match mesh {
                Mesh::Istio => {
                    let settings = istio_settings(ctx.engine, verdict);
                    let interception = subject
                        .meta
                        .annotations
                        .as_ref()
                        .and_then(|a| a.get("sidecar.istio.io/interceptionMode"))
                        .map(String::as_str);
                    let mut names = vec![ISTIO_PROXY];
                    if interception != Some("NONE") {
                        names.push(if istio_cni(settings).0 {
                            super::sidecar::ISTIO_VALIDATION
                        } else {
                            ISTIO_INIT
                        });
                    }
                    (istio_proxy_resources(subject, settings), names)
                }
                Mesh::Linkerd => (
                    linkerd_proxy_resources(
                        ctx.state,
                        linkerd_config.get_or_init(|| linkerd_values(ctx.state)),
                        subject,
                    ),
                    vec![LINKERD_PROXY],
                ),
            };
            let proxy_eff = with_defaults(
                proxy
                    .requests
                    .iter()
                    .filter_map(|(k, v)| Some((k.as_str(), parse_quantity(v)?))),
                proxy
                    .limits
                    .iter()
                    .filter_map(|(k, v)| Some((k.as_str(), parse_quantity(v)?))),
                &container_items,
            );
            // The app's own native sidecars (init containers with restartPolicy: Always) run
            // for the pod's life and count with its containers, as an injected native
            // istio-proxy does: the pod's requests are their sum.
            let app: Vec<Effective> = subject
                .spec
                .iter()
                .flat_map(|s| {
                    s.containers.iter().chain(
                        s.init_containers
                            .iter()
                            .flatten()
                            .filter(|c| c.restart_policy.as_deref() == Some("Always")),
                    )
                })
                .map(|c| container_effective(c, &container_items))
                .collect();

            let mut problems = Vec::new();
            for r in &ranges {
                let name = r.obj.metadata.name.as_deref().unwrap_or("");
                for item in r.obj.spec.iter().flat_map(|s| s.limits.iter()) {
                    limit_range_problems(
                        item,
                        name,
                        &r.origin,
                        &proxy_eff,
                        &app,
                        &injected,
                        &mut problems,
                    );
                }
            }
            for q in &quotas {
                quota_problems(q, &proxy_eff, &app, &injected, &mut problems);
            }
            if problems.is_empty() {
                continue;
            }
            out.push(finding(subject, mesh, &proxy, &injected, problems));
        }
        Ok(())
    }
}

fn to_resource(k: &str) -> Option<&'static str> {
    match k {
        "cpu" => Some("cpu"),
        "memory" => Some("memory"),
        _ => None,
    }
}

fn quantity_map(m: Option<&BTreeMap<String, Quantity>>) -> BTreeMap<&'static str, Milli> {
    m.into_iter()
        .flatten()
        .filter_map(|(k, v)| Some((to_resource(k)?, parse_quantity(&v.0)?)))
        .collect()
}

/// A container's requests and limits after LimitRange defaulting: a missing limit takes the
/// `default`, a missing request the `defaultRequest`, else the limit (as the API server does).
fn with_defaults<'a>(
    requests: impl Iterator<Item = (&'a str, Milli)>,
    limits: impl Iterator<Item = (&'a str, Milli)>,
    items: &[&LimitRangeItem],
) -> Effective {
    let mut eff = Effective::default();
    for (k, v) in requests {
        if let Some(r) = to_resource(k) {
            eff.requests.insert(r, v);
        }
    }
    for (k, v) in limits {
        if let Some(r) = to_resource(k) {
            eff.limits.insert(r, v);
        }
    }
    for item in items {
        for (r, v) in quantity_map(item.default.as_ref()) {
            eff.limits.entry(r).or_insert(v);
        }
        for (r, v) in quantity_map(item.default_request.as_ref()) {
            eff.requests.entry(r).or_insert(v);
        }
    }
    for r in ["cpu", "memory"] {
        if let Some(l) = eff.limits.get(r).copied() {
            eff.requests.entry(r).or_insert(l);
        }
    }
    eff
}

fn container_effective(c: &Container, items: &[&LimitRangeItem]) -> Effective {
    let res = c.resources.as_ref();
    let requests = quantity_map(res.and_then(|r| r.requests.as_ref()));
    let limits = quantity_map(res.and_then(|r| r.limits.as_ref()));
    with_defaults(requests.into_iter(), limits.into_iter(), items)
}

fn limit_range_problems(
    item: &LimitRangeItem,
    name: &str,
    origin: &Origin,
    proxy: &Effective,
    app: &[Effective],
    injected: &[&str],
    out: &mut Vec<Problem>,
) {
    let who = injected.join(", ");
    match item.type_.as_str() {
        "Container" => {
            for (r, max) in quantity_map(item.max.as_ref()) {
                match proxy.get(r, false) {
                    Some(limit) if limit > max => out.push(Problem {
                        text: format!(
                            "limitrange {name}: maximum {r} usage per Container is {}, but the injected {who} limit is {}",
                            show_quantity(r, max),
                            show_quantity(r, limit)
                        ),
                        field: format!("limitrange {name}: spec.limits[type=Container].max.{r}"),
                        observed: show_quantity(r, limit),
                        expected: format!("≤ {}", show_quantity(r, max)),
                        origin: origin.clone(),
                        fix: FixKind::SetProxy(r, false, show_quantity(r, max)),
                    }),
                    None => out.push(Problem {
                        text: format!(
                            "limitrange {name}: maximum {r} usage per Container is {}, and the injected {who} specify no {r} limit",
                            show_quantity(r, max)
                        ),
                        field: format!("limitrange {name}: spec.limits[type=Container].max.{r}"),
                        observed: "no limit".to_owned(),
                        expected: format!("a limit ≤ {}", show_quantity(r, max)),
                        origin: origin.clone(),
                        fix: FixKind::SetProxy(r, false, show_quantity(r, max)),
                    }),
                    _ => {}
                }
            }
            for (r, min) in quantity_map(item.min.as_ref()) {
                let request = proxy.get(r, true);
                if request.is_none_or(|req| req < min) {
                    out.push(Problem {
                        text: format!(
                            "limitrange {name}: minimum {r} usage per Container is {}, but the injected {who} request is {}",
                            show_quantity(r, min),
                            request.map_or("not set".to_owned(), |v| show_quantity(r, v))
                        ),
                        field: format!("limitrange {name}: spec.limits[type=Container].min.{r}"),
                        observed: request.map_or("not set".to_owned(), |v| show_quantity(r, v)),
                        expected: format!("≥ {}", show_quantity(r, min)),
                        origin: origin.clone(),
                        fix: FixKind::SetProxy(r, true, show_quantity(r, min)),
                    });
                }
            }
        }
        "Pod" => {
            for (r, max) in quantity_map(item.max.as_ref()) {
                let app_sum: Milli = app.iter().filter_map(|c| c.get(r, false)).sum();
                let Some(proxy_limit) = proxy.get(r, false) else {
                    continue;
                };
                let total = app_sum + proxy_limit;
                if total > max && app_sum <= max {
                    out.push(Problem {
                        text: format!(
                            "limitrange {name}: maximum {r} usage per Pod is {}, but the app containers' limits ({}) plus the injected {who} ({}) are {}",
                            show_quantity(r, max),
                            show_quantity(r, app_sum),
                            show_quantity(r, proxy_limit),
                            show_quantity(r, total)
                        ),
                        field: format!("limitrange {name}: spec.limits[type=Pod].max.{r}"),
                        observed: show_quantity(r, total),
                        expected: format!("≤ {}", show_quantity(r, max)),
                        origin: origin.clone(),
                        fix: FixKind::SetProxy(r, false, show_quantity(r, max - app_sum)),
                    });
                }
            }
        }
        _ => {}
    }
}

fn quota_problems(
    q: &crate::state::Object<k8s_openapi::api::core::v1::ResourceQuota>,
    proxy: &Effective,
    app: &[Effective],
    injected: &[&str],
    out: &mut Vec<Problem>,
) {
    let name = q.obj.metadata.name.as_deref().unwrap_or("");
    let hard = q.obj.spec.as_ref().and_then(|s| s.hard.as_ref());
    let used = q.obj.status.as_ref().and_then(|s| s.used.as_ref());
    let who = injected.join(",");
    for (key, r, is_request) in QUOTA_KEYS {
        let Some(hard_v) = hard
            .and_then(|h| h.get(key))
            .and_then(|v| parse_quantity(&v.0))
        else {
            continue;
        };
        let Some(proxy_v) = proxy.get(r, is_request) else {
            let what = if is_request { "requests" } else { "limits" };
            out.push(Problem {
                text: format!("resourcequota {name}: must specify {key} for: {who}"),
                field: format!("resourcequota {name}: spec.hard.{key}"),
                observed: format!("the injected containers set no {what}.{r}"),
                expected: format!("{what}.{r} on every container"),
                origin: q.origin.clone(),
                fix: FixKind::SetProxy(
                    r,
                    is_request,
                    if r == "cpu" { "100m" } else { "128Mi" }.to_owned(),
                ),
            });
            continue;
        };
        let app_sum: Milli = app.iter().filter_map(|c| c.get(r, is_request)).sum();
        let need = app_sum + proxy_v;
        let used_v = used
            .and_then(|u| u.get(key))
            .and_then(|v| parse_quantity(&v.0));
        let room = hard_v - used_v.unwrap_or(0);
        let tipped = need > room && app_sum <= room;
        if tipped || need > hard_v {
            let used_text = used_v.map_or("unknown (no status.used)".to_owned(), |u| {
                show_quantity(r, u)
            });
            out.push(Problem {
                text: format!(
                    "resourcequota {name}: {key} has {} left (hard {}, used {used_text}), but one injected pod needs {} (app {} + sidecar {})",
                    show_quantity(r, room.max(0)),
                    show_quantity(r, hard_v),
                    show_quantity(r, need),
                    show_quantity(r, app_sum),
                    show_quantity(r, proxy_v)
                ),
                field: format!("resourcequota {name}: spec.hard.{key} - status.used.{key}"),
                observed: show_quantity(r, room.max(0)),
                expected: format!("≥ {}", show_quantity(r, need)),
                origin: q.origin.clone(),
                fix: FixKind::RaiseQuota {
                    quota: name.to_owned(),
                    key: key.to_owned(),
                    value: show_quantity(r, (used_v.unwrap_or(0) + need).max(hard_v + proxy_v)),
                },
            });
        }
    }
}

fn finding(
    subject: &PodSubject<'_>,
    mesh: Mesh,
    proxy: &ProxyResources,
    injected: &[&str],
    problems: Vec<Problem>,
) -> Finding {
    let show = |m: &BTreeMap<String, String>| {
        if m.is_empty() {
            "none".to_owned()
        } else {
            m.iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(", ")
        }
    };
    let mut evidence = vec![Evidence::new(
        format!("{} resources ({})", injected.join(" and "), proxy.source),
        format!(
            "requests: {}; limits: {}",
            show(&proxy.requests),
            show(&proxy.limits)
        ),
        "requests and limits the namespace's quota and LimitRanges admit",
        &proxy.origin,
    )];
    for p in &problems {
        evidence.push(Evidence::new(
            p.field.clone(),
            p.observed.clone(),
            p.expected.clone(),
            &p.origin,
        ));
    }
    let ns = &subject.namespace;
    let fix = match problems.first().map(|p| &p.fix) {
        Some(FixKind::RaiseQuota { quota, key, value }) => format!(
            "kubectl -n {ns} patch resourcequota {quota} --type merge -p '{{\"spec\":{{\"hard\":{{\"{key}\":\"{value}\"}}}}}}'"
        ),
        Some(FixKind::SetProxy(r, is_request, value)) => {
            proxy_patch(subject, mesh, proxy, r, *is_request, value)
        }
        None => String::new(),
    };
    let first = problems.first().map(|p| p.text.clone()).unwrap_or_default();
    let more = if problems.len() > 1 {
        format!(" (and {} more)", problems.len() - 1)
    } else {
        String::new()
    };
    Finding {
        check: ID.to_owned(),
        severity: Severity::Error,
        object: subject_ref(subject),
        message: format!(
            "{} will be rejected after injection: {first}{more}",
            subject_name(subject)
        ),
        evidence,
        fix,
    }
}

/// A patch of the pod template's annotations that gives the proxy `value` for one resource.
/// Istio replaces *all* resources from values as soon as one `proxy*` annotation is present, so
/// the patch sets all four, keeping the others at their current values.
fn proxy_patch(
    subject: &PodSubject<'_>,
    mesh: Mesh,
    proxy: &ProxyResources,
    resource: &str,
    is_request: bool,
    value: &str,
) -> String {
    let mut ann: BTreeMap<String, String> = BTreeMap::new();
    match mesh {
        Mesh::Istio => {
            for (res, req, key) in [
                ("cpu", true, "sidecar.istio.io/proxyCPU"),
                ("memory", true, "sidecar.istio.io/proxyMemory"),
                ("cpu", false, "sidecar.istio.io/proxyCPULimit"),
                ("memory", false, "sidecar.istio.io/proxyMemoryLimit"),
            ] {
                let current = if req {
                    proxy.requests.get(res)
                } else {
                    proxy.limits.get(res)
                };
                let v = if res == resource && req == is_request {
                    Some(value.to_owned())
                } else {
                    current.cloned()
                };
                if let Some(v) = v {
                    ann.insert(key.to_owned(), v);
                }
            }
        }
        Mesh::Linkerd => {
            let kind = if is_request { "request" } else { "limit" };
            ann.insert(
                format!("config.linkerd.io/proxy-{resource}-{kind}"),
                value.to_owned(),
            );
        }
    }
    let json = serde_json::to_string(&ann).unwrap_or_default();
    let (path_open, path_close) = match subject.target.kind.as_str() {
        "Pod" => (r#"{"metadata":{"annotations":"#, "}}"),
        "CronJob" => (
            r#"{"spec":{"jobTemplate":{"spec":{"template":{"metadata":{"annotations":"#,
            "}}}}}}",
        ),
        _ => (r#"{"spec":{"template":{"metadata":{"annotations":"#, "}}}}"),
    };
    format!(
        "kubectl -n {} patch {}/{} --type merge -p '{path_open}{json}{path_close}'",
        subject.namespace,
        subject.target.kind.to_ascii_lowercase(),
        subject.target.name
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_default_requests() {
        let eff = with_defaults(std::iter::empty(), [("cpu", 500)].into_iter(), &[]);
        assert_eq!(eff.get("cpu", true), Some(500));
        assert_eq!(eff.get("memory", true), None);
    }
}
