//! The enforcement engine's pure parts: decisions and their stable reasons, the circuit
//! breaker's state machine, provenance and separation of duties, and
//! workflow templates with their gates. `charter-store` runs them inside the
//! transaction that records the decision.

pub mod breaker;
pub mod budget;
pub mod decide;
pub mod decision;
pub mod provenance;
pub mod workflow;
