//! Label selector evaluation (`matchLabels` / `matchExpressions`) as the API server does it.
