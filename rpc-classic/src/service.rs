//! The classic root service (to be built).
