//! Table tests for webhook matching.
