//! `/app/inbox`: what waits for this person's decision — reviews (with the artifact's
//! provenance: digest, lineage, delegation chain, evidence), action approvals (with the
//! exact arguments and their digest) and scope-change requests. Separation of duties is
//! the store's, as on the REST API: a person is shown only what they may decide, and a
//! verdict that would approve their own work is refused and recorded as a violation.

use std::collections::HashMap;

use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use askama_web::WebTemplate;
use charter_core::engine::provenance::Party;
use charter_core::permission::{Decide, ManagePolicies, Read};
use charter_store::admin::inbox::{ApprovalRequest, PendingApproval, ScopeChangeRequest};
use charter_store::engine::reviews::VerdictOutcome;
use charter_store::engine::verdict::Verdict as StoreVerdict;
use charter_store::engine::views::{ProvenanceView, ReviewInfo};
use serde::Deserialize;
use uuid::Uuid;

use crate::error::PageError;
use crate::layout::{Flash, done, flash};
use crate::session::{Form, Me, Page};
use crate::state::Dashboard;

pub struct ReviewItem {
    pub review: ReviewInfo,
    pub provenance: ProvenanceView,
}

pub struct ApprovalItem {
    pub approval: PendingApproval,
    pub agent: String,
    /// The decision that asked, with its arguments pretty-printed.
    pub request: Option<(ApprovalRequest, String)>,
}

pub struct ScopeItem {
    pub request: ScopeChangeRequest,
    pub agent: String,
    pub scope: String,
}

pub struct Inbox {
    pub reviews: Vec<ReviewItem>,
    pub approvals: Vec<ApprovalItem>,
    pub scope_changes: Vec<ScopeItem>,
}

impl Inbox {
    /// Everything `me` may decide now.
    pub async fn read(dash: &Dashboard, me: &Me) -> Result<Inbox, PageError> {
        let admin = dash.store().admin();
        let names: HashMap<Uuid, String> = admin
            .agents(me.tenant_id)
            .await?
            .into_iter()
            .map(|a| (a.id, a.name))
            .collect();
        let name = |id: &Uuid| names.get(id).cloned().unwrap_or_else(|| id.to_string());
        let mut reviews = Vec::new();
        if me.can("decide") {
            for review in admin
                .reviews_for_principal(me.tenant_id, me.principal_id())
                .await?
            {
                let provenance = dash
                    .store()
                    .engine()
                    .provenance(me.tenant_id, review.artifact_id)
                    .await?;
                reviews.push(ReviewItem { review, provenance });
            }
        }
        let mut approvals = Vec::new();
        if me.can("decide") {
            for approval in admin
                .pending_action_approvals(me.tenant_id, me.principal_id())
                .await?
            {
                let request = admin
                    .approval_request(me.tenant_id, &approval)
                    .await?
                    .map(|r| {
                        let args = serde_json::to_string_pretty(&r.arguments).unwrap_or_default();
                        (r, args)
                    });
                approvals.push(ApprovalItem {
                    agent: name(&approval.agent_id),
                    approval,
                    request,
                });
            }
        }
        let mut scope_changes = Vec::new();
        if me.can("manage_policies") {
            for request in admin.pending_scope_changes(me.tenant_id).await? {
                scope_changes.push(ScopeItem {
                    agent: name(&request.agent_id),
                    scope: serde_json::to_string_pretty(&request.requested_scope)
                        .unwrap_or_default(),
                    request,
                });
            }
        }
        Ok(Inbox {
            reviews,
            approvals,
            scope_changes,
        })
    }

    /// How many items wait for `me`, without reading their provenance or arguments (the
    /// overview's count).
    pub async fn count(dash: &Dashboard, me: &Me) -> Result<usize, PageError> {
        let admin = dash.store().admin();
        let mut n = 0;
        if me.can("decide") {
            n += admin
                .reviews_for_principal(me.tenant_id, me.principal_id())
                .await?
                .len();
            n += admin
                .pending_action_approvals(me.tenant_id, me.principal_id())
                .await?
                .len();
        }
        if me.can("manage_policies") {
            n += admin.pending_scope_changes(me.tenant_id).await?.len();
        }
        Ok(n)
    }

    pub fn len(&self) -> usize {
        self.reviews.len() + self.approvals.len() + self.scope_changes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "inbox.html")]
pub struct InboxPage {
    me: Me,
    active: &'static str,
    flash: Option<Flash>,
    inbox: Inbox,
}

pub async fn show(
    req: HttpRequest,
    page: Page<Read>,
    dash: web::Data<Dashboard>,
) -> Result<InboxPage, PageError> {
    let inbox = Inbox::read(&dash, &page.me).await?;
    Ok(InboxPage {
        me: page.me,
        active: "/app/inbox",
        flash: flash(&req),
        inbox,
    })
}

#[derive(Deserialize)]
pub struct Verdict {
    verdict: String,
    /// For reviews: the digest the person saw (an approval names exactly what it approves).
    #[serde(default)]
    digest: String,
    /// Why; recorded with the verdict.
    #[serde(default)]
    comment: String,
}

fn verdict(v: &Verdict) -> Result<StoreVerdict, PageError> {
    let approve = match v.verdict.as_str() {
        "approve" => true,
        "reject" => false,
        other => {
            return Err(PageError::invalid(format!(
                "verdict: `{other}` is neither approve nor reject"
            )));
        }
    };
    Ok(StoreVerdict::with_comment(approve, Some(&v.comment))?)
}

fn decided(approved: bool) -> HttpResponse {
    done("/app/inbox", if approved { "approved" } else { "rejected" })
}

pub async fn review_verdict(
    dash: web::Data<Dashboard>,
    path: web::Path<Uuid>,
    f: Form<Decide, Verdict>,
) -> Result<HttpResponse, PageError> {
    let v = verdict(&f.form)?;
    let approved = v.approve;
    let (outcome, receipt) = dash
        .store()
        .engine()
        .submit_verdict(
            f.me.tenant_id,
            Party::Principal {
                id: f.me.principal_id(),
            },
            path.into_inner(),
            f.form.digest.clone(),
            v,
        )
        .await?;
    match outcome {
        VerdictOutcome::Recorded { .. } => Ok(decided(approved)),
        VerdictOutcome::Refused { why, violation } => Err(PageError::coded(
            charter_core::code::Code::SelfApproval,
            format!(
                "{why} (recorded as violation {violation}, ledger seq {})",
                receipt.seq
            ),
        )),
    }
}

pub async fn approval_verdict(
    dash: web::Data<Dashboard>,
    path: web::Path<Uuid>,
    f: Form<Decide, Verdict>,
) -> Result<HttpResponse, PageError> {
    let v = verdict(&f.form)?;
    let approved = v.approve;
    dash.store()
        .engine()
        .decide_action_approval(f.me.tenant_id, path.into_inner(), f.me.acting(), v)
        .await?;
    Ok(decided(approved))
}

pub async fn scope_change_verdict(
    dash: web::Data<Dashboard>,
    path: web::Path<Uuid>,
    f: Form<ManagePolicies, Verdict>,
) -> Result<HttpResponse, PageError> {
    let v = verdict(&f.form)?;
    let approved = v.approve;
    dash.store()
        .engine()
        .decide_scope_change(f.me.tenant_id, path.into_inner(), f.me.acting(), v)
        .await?;
    Ok(decided(approved))
}
