-- Task outcomes: when a task ended and what it reported.
ALTER TABLE tasks
    ADD COLUMN ended_at timestamptz,
    ADD COLUMN result jsonb;
CREATE INDEX tasks_open_deadline ON tasks (tenant_id, deadline) WHERE status = 'open';

-- For the worker: tenants with open tasks past their deadline (ids only).
GRANT SELECT ON tasks TO charter_platform;
CREATE FUNCTION charter_tenants_with_overdue_tasks()
RETURNS TABLE (tenant_id uuid)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public
AS $$
    SELECT DISTINCT t.tenant_id FROM public.tasks t
    WHERE t.status = 'open' AND t.deadline IS NOT NULL AND t.deadline < now()
$$;
ALTER FUNCTION charter_tenants_with_overdue_tasks() OWNER TO charter_platform;
REVOKE ALL ON FUNCTION charter_tenants_with_overdue_tasks() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION charter_tenants_with_overdue_tasks() TO charter_app;
