//! The scheduler: jobs claimed with advisory locks run on one worker at a time, and the
//! scheduler stops on request.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use charter_tests::store;
use charter_worker::{Job, Scheduler, run_once};
use futures::FutureExt;

static RUNS: AtomicUsize = AtomicUsize::new(0);

fn slow_job(name: &'static str) -> Job {
    Job {
        name,
        every: Duration::from_millis(50),
        run: std::sync::Arc::new(|_store| {
            async {
                RUNS.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(300)).await;
                Ok(Some("slept".to_string()))
            }
            .boxed()
        }),
    }
}

#[tokio::test]
async fn a_job_runs_on_one_worker_at_a_time_and_the_scheduler_stops() {
    let a = store().await;
    let b = store().await; // a second "process": its own pool
    let name: &'static str =
        Box::leak(format!("test-job-{}", uuid::Uuid::new_v4()).into_boxed_str());
    let job = slow_job(name);
    let before = RUNS.load(Ordering::SeqCst);
    let (ran_a, ran_b) = tokio::join!(run_once(&a, &job), async {
        tokio::time::sleep(Duration::from_millis(50)).await;
        run_once(&b, &job).await
    });
    assert!(ran_a ^ ran_b, "exactly one worker ran it: {ran_a} {ran_b}");
    assert_eq!(RUNS.load(Ordering::SeqCst) - before, 1);
    // Released after the run: it can run again.
    assert!(run_once(&b, &job).await);

    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let handle = tokio::spawn(Scheduler::new(a.clone(), vec![job]).run(stop_rx));
    tokio::time::sleep(Duration::from_millis(200)).await;
    stop_tx.send(true).unwrap();
    tokio::time::timeout(Duration::from_secs(5), handle)
        .await
        .unwrap()
        .unwrap();
}
