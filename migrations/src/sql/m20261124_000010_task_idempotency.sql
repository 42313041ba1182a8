-- A delegation retried with the same idempotency key returns the first task; the task
-- points at the ledger record of its delegation (written in the same transaction).
ALTER TABLE tasks
    ADD COLUMN idempotency_key text,
    ADD COLUMN ledger_seq      bigint;
CREATE UNIQUE INDEX tasks_idempotency
    ON tasks (tenant_id, delegator_id, idempotency_key) WHERE idempotency_key IS NOT NULL;
