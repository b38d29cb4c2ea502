//! One kube-runtime watch per kind (and, for the mesh-only kinds, per control-plane namespace),
//! each turning its stream into [`Change`]s on one channel.
//!
//! A watch lists its scope, then follows it; after a 410 Gone or a lost connection it lists
//! again (kube-runtime's watcher does that), and its objects replace the old ones in one
//! [`Change::Relisted`]. A list that fails (403 on one kind, a kind the server does not serve)
//! marks that kind unavailable and is retried with back-off: the process never exits over one
//! kind, and a fixed RBAC rule is picked up without a restart.

use std::fmt::Debug;

use futures::StreamExt;
use kube::Api;
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};
use serde::de::DeserializeOwned;
use tokio::sync::mpsc;

use crate::check::unavailable::UnreadInput;
use crate::source::live::Reduce;
use crate::state::{Kind, plural};

use super::metrics::KindLabels;
use super::mirror::{AnyObject, Change};

/// What a watch task sends: a change, and whom to count it against.
pub type Sender = mpsc::Sender<Change>;

/// Items per list page while a watch (re)lists, as kubectl pages.
const PAGE_SIZE: u32 = 500;

/// Watches what `api` lists (`namespace` says which scope that is, `None` = all namespaces)
/// until the channel closes.
pub async fn watch<K>(
    api: Api<K>,
    kind: Kind,
    namespace: Option<String>,
    tx: Sender,
    metrics: std::sync::Arc<super::metrics::Metrics>,
) where
    K: kube::Resource<DynamicType = ()>
        + Reduce
        + Clone
        + DeserializeOwned
        + Debug
        + Send
        + Sync
        + 'static,
    AnyObject: From<K>,
{
    let labels = KindLabels { kind: plural(kind) };
    let config = watcher::Config::default().page_size(PAGE_SIZE);
    let mut stream = watcher::watcher(api, config).default_backoff().boxed();
    let mut buffer: Vec<AnyObject> = Vec::new();
    let mut lists = 0u64;
    while let Some(next) = stream.next().await {
        let change = match next {
            Ok(Event::Init) => {
                buffer.clear();
                lists += 1;
                if lists > 1 {
                    metrics.watch_restarts.get_or_create(&labels).inc();
                }
                continue;
            }
            Ok(Event::InitApply(o)) => {
                buffer.push(AnyObject::from(o.reduce()));
                continue;
            }
            Ok(Event::InitDone) => Change::Relisted {
                kind,
                namespace: namespace.clone(),
                objects: std::mem::take(&mut buffer),
            },
            Ok(Event::Apply(o)) => Change::Apply(AnyObject::from(o.reduce())),
            Ok(Event::Delete(o)) => Change::Delete(AnyObject::from(o.reduce())),
            Err(e) => {
                metrics.watch_errors.get_or_create(&labels).inc();
                match unavailable_reason(&e, kind, namespace.as_deref()) {
                    Some((reason, read)) => Change::Unavailable {
                        kind,
                        namespace: namespace.clone(),
                        reason,
                        read,
                    },
                    // A broken watch connection: the watcher re-establishes it by itself.
                    None => continue,
                }
            }
        };
        if tx.send(change).await.is_err() {
            return;
        }
    }
}

/// Why a failed list leaves a kind unread, worded like `check`'s live mode
/// (`cannot list secrets in istio-system: forbidden`), and the failed request as the reports
/// list it. `None` for errors of an established watch, which the watcher recovers from.
fn unavailable_reason(
    e: &watcher::Error,
    kind: Kind,
    namespace: Option<&str>,
) -> Option<(String, UnreadInput)> {
    let what = match namespace {
        Some(ns) => format!("list {} in {ns}", plural(kind)),
        None if kind.namespaced() => format!("list {} in all namespaces", plural(kind)),
        None => format!("list {}", plural(kind)),
    };
    let watcher::Error::InitialListFailed(err) = e else {
        return None;
    };
    let (reason, status, message) = match err {
        kube::Error::Api(status) if status.code == 403 => (
            format!("cannot {what}: forbidden"),
            Some(403),
            status.message.clone(),
        ),
        kube::Error::Api(status) if status.code == 404 => (
            format!(
                "cannot {what}: the API server does not serve {}",
                plural(kind)
            ),
            Some(404),
            status.message.clone(),
        ),
        kube::Error::Api(status) => (
            format!(
                "cannot {what}: the API server answered {}: {}",
                status.code, status.message
            ),
            Some(status.code),
            status.message.clone(),
        ),
        other => (format!("cannot {what}: {other}"), None, other.to_string()),
    };
    let read = UnreadInput {
        kind: kind.name().to_owned(),
        namespace: namespace.map(str::to_owned),
        request: what,
        status,
        reason: message,
    };
    Some((reason, read))
}
