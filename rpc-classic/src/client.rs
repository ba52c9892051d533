//! The client side of classic mode (to be built).
