-- A retried request (same idempotency key) gets its first answer rebuilt from the
-- authorization row and the ledger record it points to. Both are written in the
-- decision's own transaction, so no crash can leave a committed decision without the
-- answer a retry needs (a copy stored after the commit could be lost that way).
ALTER TABLE authorizations
    ADD COLUMN ledger_seq  bigint,
    ADD COLUMN review_id   uuid,
    ADD COLUMN outcome_seq bigint,
    DROP COLUMN response,
    DROP COLUMN outcome_response;

-- An outcome report's idempotency key names one report of the agent, as a decision's does.
CREATE UNIQUE INDEX authorizations_outcome_key
    ON authorizations (tenant_id, agent_id, outcome_key) WHERE outcome_key IS NOT NULL;
