//! What the worker's jobs read and write (`store.worker()`): the last run of each job, the
//! forensic scanner's passes over each tenant's log and tables, and the findings it
//! records as violations.

pub mod breakers;
pub mod cycles;
pub mod findings;
pub mod job_runs;
pub mod scan;
mod scan_reads;
pub mod self_audit;
