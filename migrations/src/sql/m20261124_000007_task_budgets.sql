-- Budgets split down delegation chains: a task may carry a spend limit no larger than
-- what its parent task has left; spend under a task counts against it and every ancestor.
ALTER TABLE tasks
    ADD COLUMN spend_limit bigint CHECK (spend_limit >= 0),
    ADD COLUMN spent bigint NOT NULL DEFAULT 0 CHECK (spent >= 0);
