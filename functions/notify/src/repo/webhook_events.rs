//! TODO(helper W): webhook event ids seen (dedupe by conditional put, with TTL).
