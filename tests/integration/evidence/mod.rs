//! Article 12 evidence bundles: what they hold, that `charter verify` accepts them and
//! refuses every tampering, the REST flow through the worker, retention and holds.

mod api;
mod bundle;
mod retention;
mod tamper;

use std::io::{Cursor, Read, Write};

use charter_core::ai_system::Facts;
use charter_core::bundle::Purpose;
use charter_core::ledger::{Actor, Entry};
use charter_store::Store;
use charter_store::evidence::bundle::{BundleOutcome, BundleRequest, WriteSink};
use charter_tests::{Provisioned, add_agent, tenant};
use chrono::{Duration, Utc};
use serde_json::json;
use uuid::Uuid;

/// A tenant with two AI systems: `triage` (agent A) and `billing` (agent B), and records
/// of both interleaved: decisions, an approval of A's action by the owner, a breaker reset
/// of B by the owner, and a decision whose reason holds markup.
pub struct Fixture {
    pub t: Provisioned,
    pub triage: Uuid,
    pub billing: Uuid,
    pub agent_a: Uuid,
    pub agent_b: Uuid,
    /// Seqs of the records that concern `triage`.
    pub triage_seqs: Vec<u64>,
}

pub async fn system(store: &Store, t: &Provisioned, name: &str, agent: Uuid) -> Uuid {
    store
        .admin()
        .create_ai_system(
            t.tenant_id,
            t.owner_id,
            Facts {
                name: name.into(),
                intended_purpose: format!("{name} of customer requests"),
                provider: "Acme AI".into(),
                deployer: "Acme".into(),
                high_risk: true,
                annex_iii_point: Some("5(b)".into()),
                contact: "ai@acme.example".into(),
                agents: vec![agent],
            },
        )
        .await
        .unwrap()
        .id
}

fn decision(agent: Uuid, outcome: &str, reason: &str) -> Entry {
    let mut e = Entry::new("decision", Actor::agent(agent))
        .payload(json!({"arguments": {"ticket": 7}, "breaker": null}));
    e.action = Some("deploy".into());
    e.resource = Some("Service:payments-api".into());
    e.decision = Some(outcome.into());
    e.reason = Some(reason.into());
    e
}

pub async fn fixture(store: &Store) -> Fixture {
    let t = tenant(store, "Evidence").await;
    let agent_a = t.agent_id;
    let agent_b = add_agent(store, t.tenant_id, "billing-bot", t.owner_id).await;
    let triage = system(store, &t, "Triage", agent_a).await;
    let billing = system(store, &t, "Billing", agent_b).await;
    let mut approval = Entry::new("action_approval.approved", Actor::principal(t.owner_id))
        .payload(json!({"agent_id": agent_a, "approval_id": Uuid::new_v4()}));
    approval.decision = Some("ALLOWED".into());
    let mut reset = Entry::new("breaker.reset", Actor::principal(t.owner_id))
        .payload(json!({"agent_id": agent_b}));
    reset.resource = Some(format!("agent:{agent_b}"));
    let entries = [
        decision(agent_a, "ALLOWED", "in_scope"),
        decision(agent_b, "BLOCKED", "out_of_scope"),
        decision(agent_a, "PENDING_APPROVAL", "approval_required"),
        approval,
        decision(agent_b, "ALLOWED", "in_scope"),
        reset,
        decision(agent_a, "BLOCKED", "<script>alert(1)</script>"),
        decision(agent_b, "BLOCKED", "budget_exceeded"),
    ];
    let mut triage_seqs = Vec::new();
    for (i, e) in entries.into_iter().enumerate() {
        let r = store.ledger().append(t.tenant_id, e).await.unwrap();
        if [0, 2, 3, 6].contains(&i) {
            triage_seqs.push(r.seq);
        }
    }
    Fixture {
        t,
        triage,
        billing,
        agent_a,
        agent_b,
        triage_seqs,
    }
}

/// A request for the last hour (and a minute ahead) of a system's records.
pub fn request(system: Option<Uuid>, purpose: Purpose) -> BundleRequest {
    BundleRequest {
        export_id: Uuid::now_v7(),
        system,
        agents: vec![],
        from: Utc::now() - Duration::hours(1),
        to: Utc::now() + Duration::minutes(1),
        purpose,
        requested_by: Actor::system(),
    }
}

pub async fn make(store: &Store, tenant: Uuid, req: &BundleRequest) -> (Vec<u8>, BundleOutcome) {
    let mut sink = WriteSink(Vec::new());
    let outcome = store
        .ledger()
        .write_bundle(tenant, req, &mut sink)
        .await
        .unwrap();
    (sink.0, outcome)
}

pub fn file(zip: &[u8], name: &str) -> String {
    let mut z = zip::ZipArchive::new(Cursor::new(zip)).unwrap();
    let mut f = z.by_name(name).unwrap();
    let mut s = String::new();
    f.read_to_string(&mut s).unwrap();
    s
}

/// The bundle rewritten: `edit` gets each file (name, bytes) and returns its new bytes,
/// or None to leave it out; `extra` files are added at the end.
pub fn repack(
    zip: &[u8],
    mut edit: impl FnMut(&str, Vec<u8>) -> Option<Vec<u8>>,
    extra: &[(&str, &[u8])],
) -> Vec<u8> {
    let mut z = zip::ZipArchive::new(Cursor::new(zip)).unwrap();
    let mut out = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default();
    for i in 0..z.len() {
        let mut f = z.by_index(i).unwrap();
        let name = f.name().unwrap().into_owned();
        let mut bytes = Vec::new();
        f.read_to_end(&mut bytes).unwrap();
        if let Some(b) = edit(&name, bytes) {
            out.start_file(name, opts).unwrap();
            out.write_all(&b).unwrap();
        }
    }
    for (name, bytes) in extra {
        out.start_file(*name, opts).unwrap();
        out.write_all(bytes).unwrap();
    }
    out.finish().unwrap().into_inner()
}

/// Verifies a bundle in memory.
pub fn verify(
    zip: &[u8],
) -> Result<charter_core::bundle::verify::BundleSummary, charter_core::bundle::verify::BundleError>
{
    charter_core::bundle::verify::verify_bundle(Cursor::new(zip), &Default::default())
}
