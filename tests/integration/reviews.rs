//! Separation of duties at review time, against the real database: self-approval directly,
//! through a derived artifact and through a two-level delegation chain is refused and
//! recorded as a violation; another agent of the same principal is refused only where the
//! review demands principal separation; a legitimate second reviewer passes.

use charter_core::engine::provenance::{Party, Separation};
use charter_core::tenant::Role;
use charter_store::Store;
use charter_store::engine::reviews::{NewArtifact, VerdictOutcome, agent_party};
use charter_tests::{add_agent, add_principal, query, store, tenant};
use uuid::Uuid;

struct Cast {
    tenant: Uuid,
    a1: Party,
    a2: Party,
    b1: Party,
    bob: Party,
    carol: Party,
}

async fn cast(store: &Store) -> Cast {
    let t = tenant(store, "Reviews").await;
    let bob = add_principal(store, t.tenant_id, "bob@reviews.example", Role::Approver).await;
    let carol = add_principal(store, t.tenant_id, "carol@reviews.example", Role::Approver).await;
    let a2 = add_agent(store, t.tenant_id, "agent-2", t.owner_id).await;
    let b1 = add_agent(store, t.tenant_id, "bob-agent", bob).await;
    let tx = store.tenant_tx(t.tenant_id).await.unwrap();
    let cast = Cast {
        tenant: t.tenant_id,
        a1: agent_party(&tx, t.agent_id).await.unwrap(),
        a2: agent_party(&tx, a2).await.unwrap(),
        b1: agent_party(&tx, b1).await.unwrap(),
        bob: Party::Principal { id: bob },
        carol: Party::Principal { id: carol },
    };
    tx.commit().await.unwrap();
    // Agents may direct any agent (the delegation rule itself is tested in engine.rs).
    let direct_any = charter_core::policy::Scope {
        may_direct: vec!["*".into()],
        ..Default::default()
    };
    for agent in [cast.a1.actor(), cast.a2.actor(), cast.b1.actor()] {
        store
            .engine()
            .set_scope(t.tenant_id, agent, direct_any.clone(), t.owner_id)
            .await
            .unwrap();
    }
    cast
}

async fn review(store: &Store, c: &Cast, artifact: Uuid, sep: Separation) -> Uuid {
    store
        .engine()
        .request_review(c.tenant, c.a1, artifact, Some("release".into()), sep)
        .await
        .unwrap()
        .0
}

async fn verdict(store: &Store, c: &Cast, reviewer: Party, review: Uuid) -> VerdictOutcome {
    store
        .engine()
        .submit_verdict(c.tenant, reviewer, review, "sha256:abc".into(), true)
        .await
        .unwrap()
        .0
}

fn refused(o: &VerdictOutcome) -> bool {
    matches!(o, VerdictOutcome::Refused { .. })
}

#[tokio::test]
async fn self_approval_is_refused_and_recorded_in_every_form() {
    let store = store().await;
    let c = cast(&store).await;
    let digest = || "sha256:abc".to_string();

    // Direct.
    let (own, _) = store
        .engine()
        .register_artifact(
            c.tenant,
            c.a1,
            NewArtifact {
                kind: "changeset".into(),
                digest: digest(),
                uri: String::new(),
                derived_from: vec![],
                task: None,
                initiative: None,
            },
        )
        .await
        .unwrap();
    let r = review(&store, &c, own, Separation::Standard).await;
    let o = verdict(&store, &c, c.a1, r).await;
    assert!(refused(&o), "{o:?}");

    // Through a derived artifact produced by someone else.
    let (derived, _) = store
        .engine()
        .register_artifact(
            c.tenant,
            c.b1,
            NewArtifact {
                kind: "build".into(),
                digest: digest(),
                uri: String::new(),
                derived_from: vec![own],
                task: None,
                initiative: None,
            },
        )
        .await
        .unwrap();
    let r = review(&store, &c, derived, Separation::Standard).await;
    assert!(refused(&verdict(&store, &c, c.a1, r).await));

    // Through a delegation chain two levels deep: a1 → a2 → b1, b1 produces.
    let (t1, _) = store
        .engine()
        .delegate_task(c.tenant, c.a1, c.a2.actor(), None)
        .await
        .unwrap();
    let (t2, _) = store
        .engine()
        .delegate_task(c.tenant, c.a2, c.b1.actor(), Some(t1))
        .await
        .unwrap();
    let (laundered, _) = store
        .engine()
        .register_artifact(
            c.tenant,
            c.b1,
            NewArtifact {
                kind: "changeset".into(),
                digest: digest(),
                uri: String::new(),
                derived_from: vec![],
                task: Some(t2),
                initiative: None,
            },
        )
        .await
        .unwrap();
    let r = review(&store, &c, laundered, Separation::Standard).await;
    assert!(
        refused(&verdict(&store, &c, c.a1, r).await),
        "the original delegator"
    );
    assert!(
        refused(&verdict(&store, &c, c.a2, r).await),
        "the intermediate delegator"
    );
    // Bob answers for his agent b1, the producer: a person cannot approve their own
    // agents' work either, whatever the gate asks for.
    assert!(
        refused(&verdict(&store, &c, c.bob, r).await),
        "the human behind the producer"
    );
    // The review is still pending: a legitimate reviewer can decide it.
    let o = verdict(&store, &c, c.carol, r).await;
    assert_eq!(
        o,
        VerdictOutcome::Recorded {
            review_status: charter_core::status::ReviewStatus::Approved
        }
    );

    // Every refusal (five of them) is a violation and a ledger record.
    let tx = store.tenant_tx(c.tenant).await.unwrap();
    let n = query(
        tx.raw(),
        "SELECT count(*) AS n FROM violations WHERE kind = 'self_approval'",
        vec![],
    )
    .await
    .unwrap();
    assert_eq!(n[0].try_get::<i64>("", "n").unwrap(), 5);
    let n = query(tx.raw(), "SELECT count(*) AS n FROM ledger_records WHERE kind = 'violation' AND reason = 'self_approval'", vec![]).await.unwrap();
    assert_eq!(n[0].try_get::<i64>("", "n").unwrap(), 5);
}

#[tokio::test]
async fn principal_separation_applies_where_the_review_demands_it() {
    let store = store().await;
    let c = cast(&store).await;
    let (art, _) = store
        .engine()
        .register_artifact(
            c.tenant,
            c.a1,
            NewArtifact {
                kind: "doc".into(),
                digest: "sha256:abc".into(),
                uri: String::new(),
                derived_from: vec![],
                task: None,
                initiative: None,
            },
        )
        .await
        .unwrap();
    // a2 acts for the same principal as the producer a1.
    let strict = review(&store, &c, art, Separation::Principal).await;
    assert!(refused(&verdict(&store, &c, c.a2, strict).await));
    let relaxed = review(&store, &c, art, Separation::Standard).await;
    assert_eq!(
        verdict(&store, &c, c.a2, relaxed).await,
        VerdictOutcome::Recorded {
            review_status: charter_core::status::ReviewStatus::Approved
        }
    );
    // At the strict review, an agent of another principal passes.
    assert_eq!(
        verdict(&store, &c, c.b1, strict).await,
        VerdictOutcome::Recorded {
            review_status: charter_core::status::ReviewStatus::Approved
        }
    );
}

#[tokio::test]
async fn verdicts_are_bound_to_the_digest_and_chains_are_bounded() {
    let store = store().await;
    let c = cast(&store).await;
    let (art, _) = store
        .engine()
        .register_artifact(
            c.tenant,
            c.a1,
            NewArtifact {
                kind: "doc".into(),
                digest: "sha256:abc".into(),
                uri: String::new(),
                derived_from: vec![],
                task: None,
                initiative: None,
            },
        )
        .await
        .unwrap();
    let r = review(&store, &c, art, Separation::Standard).await;
    let err = store
        .engine()
        .submit_verdict(c.tenant, c.bob, r, "sha256:other".into(), true)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("approval_mismatch"), "{err}");
    let mut parent = None;
    // a1 → a2 → a1 → …: each hop is delegated by the holder of the parent task.
    let hop = |i: i32| {
        if i % 2 == 0 {
            (c.a1, c.a2)
        } else {
            (c.a2, c.a1)
        }
    };
    for i in 0..charter_store::engine::reviews::MAX_DELEGATION_DEPTH {
        let (from, to) = hop(i);
        parent = Some(
            store
                .engine()
                .delegate_task(c.tenant, from, to.actor(), parent)
                .await
                .unwrap()
                .0,
        );
    }
    let (from, to) = hop(charter_store::engine::reviews::MAX_DELEGATION_DEPTH);
    let err = store
        .engine()
        .delegate_task(c.tenant, from, to.actor(), parent)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("at most"), "{err}");
}

#[tokio::test]
async fn the_regulated_preset_demands_principal_separation_at_its_gates() {
    let store = store().await;
    let c = cast(&store).await;
    let (init, _) = store
        .engine()
        .create_initiative(c.tenant, c.a1, "audit".into(), "regulated".into(), 10)
        .await
        .unwrap();
    let (art, _) = store
        .engine()
        .register_artifact(
            c.tenant,
            c.a1,
            NewArtifact {
                kind: "design".into(),
                digest: "sha256:abc".into(),
                initiative: Some(init),
                ..NewArtifact::default()
            },
        )
        .await
        .unwrap();
    // The requester asks for standard separation; the template's gate raises it.
    let (r, _) = store
        .engine()
        .request_review(
            c.tenant,
            c.a1,
            art,
            Some("design".into()),
            Separation::Standard,
        )
        .await
        .unwrap();
    assert!(
        refused(&verdict(&store, &c, c.a2, r).await),
        "same principal, other agent"
    );
    assert_eq!(
        verdict(&store, &c, c.b1, r).await,
        VerdictOutcome::Recorded {
            review_status: charter_core::status::ReviewStatus::Approved
        }
    );
}
