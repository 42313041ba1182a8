//! One module per page: its view model, its handler and the forms it takes.

pub mod agent;
pub mod agents;
pub mod auth;
pub mod billing;
pub mod breakers;
pub mod entry;
pub mod exports;
pub mod home;
pub mod inbox;
pub mod initiatives;
pub mod invite;
pub mod ledger;
pub mod login;
pub mod logout;
pub mod overview;
pub mod policies;
pub mod settings;
pub mod signup;
pub mod violations;
pub mod webhooks;
