//! The inputs that could not be read, and the checks that ran without part of theirs.
//!
//! A live read that fails for one kind (403, a kind the server does not serve, a server error
//! that outlived the retries) does not stop the run: that kind is left out. Skipping the checks
//! that *need* the kind is not enough to make that visible — a run where no check ended up
//! needing it would say nothing, and a check that only *reads* the kind when it is there would
//! silently report on less than the cluster holds. So every failed read is listed in every
//! report ([`UnreadInput`]), and every check that ran while a kind it reads was unreadable says
//! so ([`PartialInput`]).

use serde::{Deserialize, Serialize};

use super::doc::CheckDoc;
use crate::state::{ClusterState, KindAvailability};

/// One read that failed: what was asked, of which kind and namespace, and what the server said.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct UnreadInput {
    /// The kind (`Secret`).
    pub kind: String,
    /// The namespace asked about; `null` for all namespaces or a cluster-scoped kind.
    pub namespace: Option<String>,
    /// The request as RBAC words it: `list secrets in istio-system`.
    pub request: String,
    /// The HTTP status of the answer (403, 404, 410, 5xx); `null` when not known (a snapshot
    /// written before statuses were recorded).
    pub status: Option<u16>,
    /// Why, as the server said it (`secrets is forbidden: User "ci" cannot list ...`).
    pub reason: String,
}

impl UnreadInput {
    /// `list secrets in istio-system: 403 secrets is forbidden: ...`.
    pub fn describe(&self) -> String {
        match self.status {
            Some(code) => format!("{}: {code} {}", self.request, self.reason),
            None => format!("{}: {}", self.request, self.reason),
        }
    }
}

/// A check that ran although a kind it reads (without needing it) could not be read: its result
/// leaves out whatever that kind held.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PartialInput {
    pub check: String,
    /// The kind it could not see (`Secret`).
    pub unseen: String,
    /// Why (`cannot list secrets in istio-system: forbidden`).
    pub reason: String,
}

impl PartialInput {
    /// `ran without Secret (cannot list ...): what that kind holds is not in its result`.
    pub fn describe(&self) -> String {
        format!(
            "ran without {} ({}): what those objects hold is not in its result",
            self.unseen, self.reason
        )
    }
}

/// Every failed read of `state`, in a stable order. Kinds marked unavailable without a recorded
/// request (an older snapshot) get one entry with the recorded reason.
pub fn of_state(state: &ClusterState) -> Vec<UnreadInput> {
    let mut out = state.unread.clone();
    for (kind, a) in &state.loaded_kinds {
        if let KindAvailability::Unavailable(why) = a
            && !out.iter().any(|u| u.kind == kind.name())
        {
            out.push(UnreadInput {
                kind: kind.name().to_owned(),
                namespace: None,
                request: format!("read {}", crate::state::plural(*kind)),
                status: None,
                reason: why.clone(),
            });
        }
    }
    out.sort();
    out.dedup();
    out
}

/// The notes for a check that ran: one per kind it reads that could not be read. Kinds merely
/// absent from offline input are not notes (an input without Secrets is not a failed read).
pub fn partial_inputs(state: &ClusterState, doc: &CheckDoc) -> Vec<PartialInput> {
    doc.inputs
        .iter()
        .chain(&doc.reads)
        .filter_map(|k| match state.loaded_kinds.get(k) {
            Some(KindAvailability::Unavailable(why)) => Some(PartialInput {
                check: doc.id.clone(),
                unseen: k.name().to_owned(),
                reason: why.clone(),
            }),
            _ => None,
        })
        .collect()
}

/// The table footer listing the failed reads (empty when there are none).
pub fn table_footer(unread: &[UnreadInput]) -> String {
    if unread.is_empty() {
        return String::new();
    }
    let mut out = String::from("UNAVAILABLE (could not be read; the results leave these out)\n");
    for u in unread {
        out.push_str(&format!("  {}\n", u.describe()));
    }
    out.push('\n');
    out
}

/// One stderr note per failed read, for outputs with no place for them (`explain`).
pub fn stderr_notes(unread: &[UnreadInput]) -> Vec<String> {
    unread
        .iter()
        .map(|u| format!("meshdoctor: note: could not read: {}", u.describe()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::Kind;

    fn forbidden() -> UnreadInput {
        UnreadInput {
            kind: "Secret".into(),
            namespace: Some("istio-system".into()),
            request: "list secrets in istio-system".into(),
            status: Some(403),
            reason: "secrets is forbidden".into(),
        }
    }

    #[test]
    fn recorded_reads_come_first_and_bare_kinds_are_filled_in() {
        let mut s = ClusterState::default();
        s.unread.push(forbidden());
        s.loaded_kinds.insert(
            Kind::Secret,
            KindAvailability::Unavailable("cannot list secrets in istio-system: forbidden".into()),
        );
        s.loaded_kinds.insert(
            Kind::Event,
            KindAvailability::Unavailable("cannot list events: gone".into()),
        );
        s.loaded_kinds.insert(Kind::Pod, KindAvailability::Loaded);
        let all = of_state(&s);
        assert_eq!(all.len(), 2, "{all:?}");
        assert_eq!(all[0].kind, "Event");
        assert_eq!(all[0].status, None);
        assert_eq!(all[1], forbidden());
        assert_eq!(
            all[1].describe(),
            "list secrets in istio-system: 403 secrets is forbidden"
        );
    }

    #[test]
    fn only_unreadable_kinds_make_a_partial_note() {
        let doc = crate::check::doc::parse(include_str!("../../checks/cert-expiry.md")).unwrap();
        let mut s = ClusterState::default();
        s.mark_loaded(Kind::MutatingWebhookConfiguration);
        // Offline, no Secrets in the input: not a failed read.
        assert!(partial_inputs(&s, &doc).is_empty());
        s.loaded_kinds.insert(
            Kind::Secret,
            KindAvailability::Unavailable("cannot list secrets in istio-system: forbidden".into()),
        );
        let notes = partial_inputs(&s, &doc);
        assert_eq!(notes.len(), 1);
        assert_eq!(notes[0].check, "cert-expiry");
        assert_eq!(notes[0].unseen, "Secret");
    }

    #[test]
    fn the_footer_is_empty_without_failed_reads() {
        assert_eq!(table_footer(&[]), "");
        let text = table_footer(&[forbidden()]);
        assert!(text.starts_with("UNAVAILABLE ("), "{text}");
        assert!(
            text.contains("  list secrets in istio-system: 403"),
            "{text}"
        );
    }
}
