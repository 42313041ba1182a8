//! EU AI Act Article 12 evidence: bundles written from the ledger ([`bundle`]), exports
//! made by the worker and downloaded later ([`exports`]), retention and legal holds
//! ([`retention`]).

pub mod bundle;
pub mod exports;
mod passes;
pub mod retention;
