//! Rendering of decisions and findings. Reports never decide anything.

pub mod check;
pub mod explain;
pub mod junit;
pub mod preflight;
pub mod sarif;

use serde::Serialize;

pub fn to_json<T: Serialize>(value: &T) -> String {
    serde_json::to_string_pretty(value)
        .unwrap_or_else(|e| format!("{{\"error\": \"cannot serialise: {e}\"}}"))
}

pub fn to_yaml<T: Serialize>(value: &T) -> String {
    serde_saphyr::to_string(value).unwrap_or_else(|e| format!("error: cannot serialise: {e}\n"))
}
