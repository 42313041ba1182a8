//! One module per page: its view model, its handler and the forms it takes.

pub mod auth;
pub mod home;
pub mod inbox;
pub mod login;
pub mod logout;
pub mod overview;
pub mod signup;
