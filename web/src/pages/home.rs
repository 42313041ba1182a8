//! `/`: what this Charter instance serves and where to reach it.

use actix_web::web;
use askama::Template;
use askama_web::WebTemplate;

/// Facts about the running instance that the home page shows.
#[derive(Debug, Clone)]
pub struct HomeInfo {
    pub version: &'static str,
    pub public_url: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "home.html")]
pub struct HomePage {
    info: HomeInfo,
}

pub async fn show(info: web::Data<HomeInfo>) -> HomePage {
    HomePage {
        info: info.get_ref().clone(),
    }
}
