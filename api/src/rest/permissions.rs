//! The permission matrix lives in `charter_core::permission`, shared with the dashboard.

pub use charter_core::permission::*;
