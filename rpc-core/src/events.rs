//! Replicated properties and signals (in progress).
