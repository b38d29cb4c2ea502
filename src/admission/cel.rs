//! Webhook `matchConditions`: CEL expressions compiled once with kube-cel's re-exported `cel`
//! and evaluated against variables we bind ourselves from raw JSON.
//!
//! kube-cel's `VapEvaluator` is not used on purpose: it escapes every map key, so
//! `object.metadata.labels['sidecar.istio.io/inject']` would not be found, whereas the API
//! server never escapes `map[string]string` keys (rust-crates.md §4).
//!
//! Variables, as `matchconditions/matcher.go` binds them for webhooks: `object` (null for
//! DELETE), `oldObject` (null for CREATE), `request` (`CreateAdmissionRequest`: no object or
//! oldObject inside), `namespaceObject` (declared but always null for webhooks: the matcher
//! passes no namespace) and `authorizer`, which needs the cluster's authorizer and therefore
//! makes a condition "not evaluable offline".

use std::sync::Arc;

use kube_cel::KubeCelExt;
use kube_cel::cel::{Context, Program, Value};
use serde_json::{Map, Value as Json, json};

use super::request::{AdmissionRequest, ObjectRef};

/// One compiled `matchConditions[]` entry.
#[derive(Debug)]
pub struct CompiledMatchCondition {
    pub name: Arc<str>,
    pub expression: String,
    compiled: Compiled,
}

#[derive(Debug)]
enum Compiled {
    Program(Program),
    /// Offline we cannot evaluate it, for this reason (the API server may well be able to).
    Unsupported(String),
}

/// The result of one condition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConditionResult {
    True,
    False,
    /// Cannot be evaluated offline (uses `authorizer`, syntax cel-rust lacks, missing input).
    Unsupported(String),
    /// Evaluation failed, or returned a non-bool; the API server applies failurePolicy.
    Error(String),
}

impl CompiledMatchCondition {
    /// Compiles an expression. Parse failures are kept as "cannot evaluate offline" rather than
    /// compile errors: the API server validated the expression with cel-go, and cel-rust 0.13
    /// lacks some of its syntax (`?.` optionals).
    pub fn compile(name: &str, expression: &str) -> Self {
        let compiled = match Program::compile(expression) {
            Ok(p) if p.references().has_variable("authorizer") => Compiled::Unsupported(
                "it uses authorizer, which needs the cluster's authorizer".to_owned(),
            ),
            Ok(p) => Compiled::Program(p),
            Err(e) => Compiled::Unsupported(format!(
                "the offline CEL engine cannot parse it ({})",
                first_line(&e.to_string())
            )),
        };
        CompiledMatchCondition {
            name: name.into(),
            expression: expression.to_owned(),
            compiled,
        }
    }

    /// Evaluates against a prepared activation.
    pub(crate) fn evaluate(&self, vars: &Variables, req: &AdmissionRequest<'_>) -> ConditionResult {
        let program = match &self.compiled {
            Compiled::Program(p) => p,
            Compiled::Unsupported(why) => return ConditionResult::Unsupported(why.clone()),
        };
        // Offline we often do not know the user. Any answer computed from the empty userInfo
        // (even a clean `false` from `has(...)`) would be made up, so do not evaluate at all.
        if req.user_info.is_none() && self.expression.contains("userInfo") {
            return ConditionResult::Unsupported(
                "it reads request.userInfo, which is unknown offline".to_owned(),
            );
        }
        let result = ROOT.with(|root| {
            let mut ctx = root.new_inner_scope();
            ctx.add_variable_from_value("object", vars.object.clone());
            ctx.add_variable_from_value("oldObject", vars.old_object.clone());
            ctx.add_variable_from_value("request", vars.request.clone());
            ctx.add_variable_from_value("namespaceObject", Value::Null);
            program.execute(&ctx)
        });
        match result {
            Ok(Value::Bool(true)) => ConditionResult::True,
            Ok(Value::Bool(false)) => ConditionResult::False,
            Ok(other) => ConditionResult::Error(format!(
                "expression returned {} instead of a bool",
                type_name(&other)
            )),
            Err(e) => ConditionResult::Error(format!(
                "expression '{}' resulted in error: {e}",
                self.expression
            )),
        }
    }
}

thread_local! {
    /// The function registry with the Kubernetes CEL libraries, built once per thread; each
    /// evaluation only adds its variables in a child scope.
    static ROOT: Context<'static> = Context::default().with_all();
}

/// The CEL values of one request, converted once and shared by a webhook's conditions.
pub(crate) struct Variables {
    object: Value,
    old_object: Value,
    request: Value,
}

impl Variables {
    pub(crate) fn new(req: &AdmissionRequest<'_>) -> Result<Self, String> {
        let conv = |name: &str, v: Option<ObjectRef<'_>>| -> Result<Value, String> {
            let converted = match v {
                None => return Ok(Value::Null),
                Some(ObjectRef::Json(j)) => kube_cel::cel::to_value(j),
                Some(ObjectRef::Pod(p)) => kube_cel::cel::to_value(p),
            };
            converted.map_err(|e| format!("cannot convert {name} to CEL: {e}"))
        };
        let request = request_json(req);
        Ok(Variables {
            object: conv("object", req.object)?,
            old_object: conv("oldObject", req.old_object)?,
            request: conv("request", Some(ObjectRef::Json(&request)))?,
        })
    }
}

/// `request` as `CreateAdmissionRequest` builds it, serialized the way Go's JSON does
/// (`omitempty` fields left out when empty; no object or oldObject).
pub(crate) fn request_json(req: &AdmissionRequest<'_>) -> Json {
    let mut m = Map::new();
    m.insert("uid".into(), json!(""));
    let gvk = json!({"group": req.kind.group, "version": req.kind.version, "kind": req.kind.kind});
    let gvr = json!({"group": req.resource.group, "version": req.resource.version, "resource": req.resource.resource});
    m.insert("kind".into(), gvk.clone());
    m.insert("resource".into(), gvr.clone());
    if !req.subresource.is_empty() {
        m.insert("subResource".into(), json!(req.subresource));
    }
    m.insert("requestKind".into(), gvk);
    m.insert("requestResource".into(), gvr);
    if !req.subresource.is_empty() {
        m.insert("requestSubResource".into(), json!(req.subresource));
    }
    if !req.name.is_empty() {
        m.insert("name".into(), json!(req.name));
    }
    if !req.namespace.is_empty() {
        m.insert("namespace".into(), json!(req.namespace));
    }
    m.insert("operation".into(), json!(req.operation.as_str()));
    let mut user = Map::new();
    if let Some(u) = req.user_info {
        if !u.username.is_empty() {
            user.insert("username".into(), json!(u.username));
        }
        if !u.uid.is_empty() {
            user.insert("uid".into(), json!(u.uid));
        }
        if !u.groups.is_empty() {
            user.insert("groups".into(), json!(u.groups));
        }
        if !u.extra.is_empty() {
            user.insert("extra".into(), json!(u.extra));
        }
    }
    m.insert("userInfo".into(), Json::Object(user));
    m.insert("dryRun".into(), json!(req.dry_run));
    Json::Object(m)
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Int(_) => "an int",
        Value::UInt(_) => "a uint",
        Value::Float(_) => "a double",
        Value::String(_) => "a string",
        Value::Map(_) => "a map",
        Value::List(_) => "a list",
        _ => "a non-bool value",
    }
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or(s)
}
