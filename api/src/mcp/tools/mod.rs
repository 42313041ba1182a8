//! The 21 governance tools (docs/mcp.md), one file each. Every tool takes typed, described
//! parameters, returns structured content with an output schema, and answers business
//! refusals as tool results (see [`super::refusal`]).

mod authorize_action;
mod await_decision;
mod check_gates;
mod complete_task;
mod create_initiative;
mod delegate_task;
mod get_context;
mod get_initiative;
mod get_provenance;
mod list_review_requests;
mod list_violations;
mod list_workflow_templates;
mod promote_gate;
mod query_ledger;
mod register_artifact;
mod report_outcome;
mod request_review;
mod request_scope_change;
mod submit_evidence;
mod submit_review;
mod verify_receipt;

use rmcp::handler::server::router::tool::ToolRouter;

use super::CharterMcp;

pub(crate) fn router() -> ToolRouter<CharterMcp> {
    CharterMcp::get_context_router()
        + CharterMcp::list_workflow_templates_router()
        + CharterMcp::create_initiative_router()
        + CharterMcp::get_initiative_router()
        + CharterMcp::register_artifact_router()
        + CharterMcp::submit_evidence_router()
        + CharterMcp::get_provenance_router()
        + CharterMcp::check_gates_router()
        + CharterMcp::request_review_router()
        + CharterMcp::submit_review_router()
        + CharterMcp::promote_gate_router()
        + CharterMcp::list_review_requests_router()
        + CharterMcp::authorize_action_router()
        + CharterMcp::report_outcome_router()
        + CharterMcp::await_decision_router()
        + CharterMcp::delegate_task_router()
        + CharterMcp::complete_task_router()
        + CharterMcp::request_scope_change_router()
        + CharterMcp::query_ledger_router()
        + CharterMcp::verify_receipt_router()
        + CharterMcp::list_violations_router()
}
