//! Host modules (to be built).
