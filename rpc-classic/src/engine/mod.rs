//! The script engine: sessions, conversions, limits (to be built).
