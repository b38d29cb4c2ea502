//! PEM and X.509 handling: parse bundles, fingerprints, chains and expiry.
