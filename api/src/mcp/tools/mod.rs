//! The governance tools of SPEC §4, one file each. Every tool takes typed, described
//! parameters, returns structured content with an output schema, and answers business
//! refusals as tool results (see [`super::refusal`]).

mod authorize_action;
mod get_context;
mod list_workflow_templates;
mod report_outcome;
mod request_scope_change;
mod verify_receipt;

use rmcp::handler::server::router::tool::ToolRouter;

use super::CharterMcp;

pub(crate) fn router() -> ToolRouter<CharterMcp> {
    CharterMcp::get_context_router()
        + CharterMcp::list_workflow_templates_router()
        + CharterMcp::authorize_action_router()
        + CharterMcp::report_outcome_router()
        + CharterMcp::verify_receipt_router()
        + CharterMcp::request_scope_change_router()
}
