-- When each scheduled job was last claimed, by the database's clock. A worker runs a job
-- only when the job's interval has passed since the last claim by any worker, so several
-- workers together run each job once per interval, not once each. The claim is written
-- in the transaction that holds the job's advisory lock: a worker that dies mid-run
-- leaves no claim, and another runs the job at its next tick.
CREATE TABLE job_claims (
    job        text PRIMARY KEY,
    claimed_at timestamptz NOT NULL
);
GRANT SELECT, INSERT, UPDATE ON job_claims TO charter_app;
