-- The group commit's first statement for each tenant of a batch: set the transaction's
-- tenant context, then lock that tenant's head and read what an append needs, in one
-- round trip instead of two. SECURITY INVOKER: the SELECT runs under row-level security
-- with the context this function has just set, exactly as two separate statements would.
-- `set_config(…, true)` lasts until the transaction ends, like TenantTx's own. No SET
-- clause: one would confine the setting to the function (names are schema-qualified).
CREATE FUNCTION charter_enter_ledger(p_tenant uuid)
RETURNS TABLE (o_tree_size bigint, o_last_hash bytea, o_frontier bytea, o_now timestamptz,
               o_key_id text, o_sealed_private_key bytea)
LANGUAGE plpgsql VOLATILE
AS $$
BEGIN
    PERFORM set_config('charter.tenant_id', p_tenant::text, true);
    RETURN QUERY
        SELECT h.tree_size, h.last_hash, h.frontier,
               date_trunc('milliseconds', clock_timestamp()), k.key_id, k.sealed_private_key
        FROM public.ledger_heads h
        JOIN public.tenant_signing_keys k ON k.tenant_id = h.tenant_id AND k.valid_until IS NULL
        WHERE h.tenant_id = p_tenant
        FOR UPDATE OF h;
END $$;
REVOKE ALL ON FUNCTION charter_enter_ledger(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION charter_enter_ledger(uuid) TO charter_app;
