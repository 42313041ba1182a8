//! The enforcement engine's pure parts: decisions and their stable reasons, the circuit
//! breaker's state machine, and budget cycles. `charter-store` runs them inside the
//! transaction that records the decision.

pub mod breaker;
pub mod budget;
pub mod decision;
