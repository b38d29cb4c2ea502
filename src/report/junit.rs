//! JUnit XML for `preflight -o junit`: one test suite per check, one test case per manifest
//! object (classname = check id, name = `Kind namespace/name`, unique as GitLab needs), a
//! `<failure>` for findings at or above `--fail-on` with the evidence and the fix in its body
//! (GitLab ignores the `message` attribute), `<skipped>` for suppressed findings and skipped
//! checks. Findings below the threshold leave the case passing and are printed in its
//! `system-out`, so the XML fails exactly when the exit code does. A check that ran on partial
//! inputs says which in its suite's `system-err`; every read of the live context that failed is
//! a skipped case of the `unavailable-inputs` suite (and listed in its `system-err`).

use std::collections::BTreeMap;

use quick_junit::{NonSuccessKind, Property, Report, TestCase, TestCaseStatus, TestSuite};

use crate::check::unavailable::UnreadInput;
use crate::check::{ObjectRef, Severity};
use crate::preflight::{LocatedFinding, PreflightReport, SourceLocation};

/// Renders the report; `fail_on` is the `--fail-on` threshold (`None` = never).
pub fn render(report: &PreflightReport, fail_on: Option<Severity>) -> String {
    let mut junit = Report::new("meshdoctor preflight");
    for rule in &report.rules {
        let mut suite = TestSuite::new(rule.id.clone());
        let partial: Vec<String> = report
            .partial
            .iter()
            .filter(|p| p.check == rule.id)
            .map(|p| format!("{} {}\n", p.check, p.describe()))
            .collect();
        if !partial.is_empty() {
            suite.set_system_err(partial.concat());
        }
        if let Some(skip) = report.skipped.iter().find(|s| s.check == rule.id) {
            let mut status = TestCaseStatus::skipped();
            status.set_message(format!("skipped: {}", skip.reason));
            let mut case = TestCase::new("all objects", status);
            case.set_classname(rule.id.clone());
            suite.add_test_case(case);
            junit.add_test_suite(suite);
            continue;
        }
        // Every manifest object, plus objects only findings name (a context namespace).
        let mut objects: BTreeMap<String, (ObjectRef, Option<SourceLocation>)> = BTreeMap::new();
        for o in &report.objects {
            objects
                .entry(case_name(&o.object))
                .or_insert_with(|| (o.object.clone(), Some(o.location.clone())));
        }
        let findings: Vec<&LocatedFinding> = report
            .findings
            .iter()
            .filter(|f| f.finding.check == rule.id)
            .collect();
        let suppressed: Vec<_> = report
            .suppressed
            .iter()
            .filter(|s| s.finding.finding.check == rule.id)
            .collect();
        for f in findings
            .iter()
            .copied()
            .chain(suppressed.iter().map(|s| &s.finding))
        {
            objects
                .entry(case_name(&f.finding.object))
                .or_insert_with(|| (f.finding.object.clone(), f.location.clone()));
        }
        for (name, (object, location)) in objects {
            let mine: Vec<&LocatedFinding> = findings
                .iter()
                .copied()
                .filter(|f| f.finding.object == object)
                .collect();
            let gating: Vec<&LocatedFinding> = mine
                .iter()
                .copied()
                .filter(|f| fail_on.is_some_and(|t| f.finding.severity >= t))
                .collect();
            let silenced: Vec<_> = suppressed
                .iter()
                .filter(|s| s.finding.finding.object == object)
                .collect();
            let status = if let Some(first) = gating.first() {
                let mut st = TestCaseStatus::non_success(NonSuccessKind::Failure);
                st.set_type(first.finding.severity.as_str());
                st.set_message(first.finding.message.clone());
                st.set_description(describe(&gating));
                st
            } else if !silenced.is_empty() && mine.is_empty() {
                let mut st = TestCaseStatus::skipped();
                let reasons: Vec<String> = silenced
                    .iter()
                    .map(|s| s.suppression.reason.clone())
                    .collect();
                st.set_message(format!("suppressed: {}", reasons.join("; ")));
                st
            } else {
                TestCaseStatus::success()
            };
            let mut case = TestCase::new(name, status);
            case.set_classname(rule.id.clone());
            let loc = gating.first().and_then(|f| f.location.clone()).or(location);
            if let Some(loc) = loc {
                case.add_property(Property::new("file", loc.file.clone()));
                case.add_property(Property::new("line", loc.line.to_string()));
            }
            if gating.is_empty() && !mine.is_empty() {
                case.set_system_out(describe(&mine));
            }
            suite.add_test_case(case);
        }
        junit.add_test_suite(suite);
    }
    if !report.unavailable.is_empty() {
        junit.add_test_suite(unavailable_suite(&report.unavailable));
    }
    junit
        .to_string()
        .unwrap_or_else(|e| format!("<!-- cannot write JUnit XML: {e} -->\n"))
}

/// One skipped case per failed read: the run could not test what it did not see.
fn unavailable_suite(unread: &[UnreadInput]) -> TestSuite {
    let mut suite = TestSuite::new(UNAVAILABLE_SUITE);
    let mut err = String::new();
    for u in unread {
        let mut status = TestCaseStatus::skipped();
        status.set_message(format!("could not read: {}", u.describe()));
        let mut case = TestCase::new(u.request.clone(), status);
        case.set_classname(UNAVAILABLE_SUITE);
        suite.add_test_case(case);
        err.push_str(&format!("could not read: {}\n", u.describe()));
    }
    suite.set_system_err(err);
    suite
}

/// The name of the suite of failed reads.
pub const UNAVAILABLE_SUITE: &str = "unavailable-inputs";

/// `Deployment shop/web` or `Namespace shop`.
fn case_name(o: &ObjectRef) -> String {
    match &o.namespace {
        Some(ns) => format!("{} {ns}/{}", o.kind, o.name),
        None => format!("{} {}", o.kind, o.name),
    }
}

/// The body of a failure: each finding with its location, evidence and fix.
fn describe(findings: &[&LocatedFinding]) -> String {
    let mut out = String::new();
    for f in findings {
        let at = f
            .location
            .as_ref()
            .map(|l| format!("{l}: "))
            .unwrap_or_default();
        out.push_str(&format!(
            "{at}{} {}: {}\n",
            f.finding.severity.as_str(),
            f.finding.check,
            f.finding.message
        ));
        for e in &f.finding.evidence {
            out.push_str(&format!(
                "  {}: {} (expected {}) [{}]\n",
                e.field, e.observed, e.expected, e.location
            ));
        }
        out.push_str(&format!("  fix: {}\n", f.finding.fix));
    }
    out
}
