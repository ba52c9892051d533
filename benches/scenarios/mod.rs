//! The scenarios, a module per family. Each measures rpc calls beside the raw TCP baseline of
//! the same frames (`crate::common`) and prints its rows of the table; `describe` prints the
//! frame sizes a scenario uses, `report` runs it when the plan selects it.

pub mod batched;
pub mod bulk;
pub mod callbacks;
pub mod churn;
pub mod connections;
pub mod frames;
pub mod latency;
pub mod oneway;
pub mod pipelined;
pub mod service;
pub mod timing;
