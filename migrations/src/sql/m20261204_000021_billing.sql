-- Billing: the subscription states Charter enforces, the Stripe events it has applied, and
-- decisions counted per calendar month (UTC) for plan quotas and metered billing.
--
-- The stored state is what Stripe's events and the operators last said; what is enforced
-- is derived from it at the moment of each decision (a trial past its end is expired at
-- that exact time, whether or not the worker has written `trial_expired` yet).

ALTER TABLE tenants
    -- When payment first failed (the grace period counts from it); NULL unless past_due.
    ADD COLUMN past_due_since      timestamptz,
    ADD COLUMN current_period_end  timestamptz,
    -- `created` of the newest Stripe event applied: an older one never overwrites it.
    ADD COLUMN stripe_event_at     timestamptz;
ALTER TABLE tenants DROP CONSTRAINT tenants_plan_check;
ALTER TABLE tenants DROP CONSTRAINT tenants_subscription_status_check;
-- Migrations run as a role that RLS binds: lift the forced policy for this one update of
-- every tenant's row. An `unpaid` tenant's grace starts now.
ALTER TABLE tenants NO FORCE ROW LEVEL SECURITY;
UPDATE tenants SET
    past_due_since = CASE WHEN subscription_status = 'unpaid' THEN now() END,
    subscription_status = CASE subscription_status
        WHEN 'unpaid' THEN 'past_due'
        WHEN 'incomplete' THEN 'canceled'
        WHEN 'expired' THEN 'trial_expired'
        WHEN 'none' THEN 'unlimited'
        ELSE subscription_status END;
ALTER TABLE tenants FORCE ROW LEVEL SECURITY;
-- Plans are configuration; the name is only checked for shape here.
ALTER TABLE tenants ADD CONSTRAINT tenants_plan_check
    CHECK (plan ~ '^[a-z0-9][a-z0-9_-]{0,39}$');
ALTER TABLE tenants ADD CONSTRAINT tenants_subscription_status_check
    CHECK (subscription_status IN
        ('trialing', 'active', 'past_due', 'canceled', 'trial_expired', 'unlimited'));
CREATE UNIQUE INDEX tenants_stripe_customer ON tenants (stripe_customer_id)
    WHERE stripe_customer_id IS NOT NULL;

-- Every Stripe event a tenant received, applied or not: a replay changes nothing.
CREATE TABLE stripe_events (
    tenant_id   uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    event_id    text NOT NULL CHECK (length(event_id) BETWEEN 1 AND 255),
    type        text NOT NULL,
    created     timestamptz NOT NULL,
    applied     boolean NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, event_id)
);

-- The month a decision counts towards: the calendar month in UTC, as its first day. One
-- definition for the decision's read and the billing overview.
CREATE FUNCTION charter_usage_month(p_at timestamptz) RETURNS date
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT date_trunc('month', p_at AT TIME ZONE 'UTC')::date $$;

-- Decisions per tenant and calendar month; `reported` is how many of them were sent to
-- Stripe as meter events (or are not billable: those before a change of plan);
-- `reporting` is the count a report in flight is for, resent as it is until it lands.
CREATE TABLE decision_usage (
    tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    month     date NOT NULL CHECK (extract(day FROM month) = 1),
    decisions bigint NOT NULL DEFAULT 0 CHECK (decisions >= 0),
    reported  bigint NOT NULL DEFAULT 0 CHECK (reported >= 0),
    reporting bigint CHECK (reporting >= 0),
    PRIMARY KEY (tenant_id, month)
);

SELECT charter_isolate_by_tenant(t)
FROM unnest(ARRAY['stripe_events', 'decision_usage']::regclass[]) AS t;
GRANT SELECT, INSERT ON stripe_events TO charter_app;
GRANT SELECT, INSERT, UPDATE ON decision_usage TO charter_app;
GRANT SELECT ON decision_usage TO charter_platform;

-- The tenant a Stripe customer belongs to (webhooks arrive before any tenant is known).
CREATE FUNCTION charter_tenant_by_stripe_customer(p_customer text) RETURNS uuid
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public
AS $$ SELECT t.id FROM public.tenants t WHERE t.stripe_customer_id = p_customer $$;
ALTER FUNCTION charter_tenant_by_stripe_customer(text) OWNER TO charter_platform;
REVOKE ALL ON FUNCTION charter_tenant_by_stripe_customer(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION charter_tenant_by_stripe_customer(text) TO charter_app;

-- Trials that have ended but are still stored as `trialing` (the worker records the end).
CREATE FUNCTION charter_trials_ended() RETURNS TABLE (tenant_id uuid)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public
AS $$
    SELECT t.id FROM public.tenants t
    WHERE t.subscription_status = 'trialing' AND t.trial_ends_at <= now()
$$;
ALTER FUNCTION charter_trials_ended() OWNER TO charter_platform;
REVOKE ALL ON FUNCTION charter_trials_ended() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION charter_trials_ended() TO charter_app;

-- Tenants on a metered plan with decisions not yet reported to Stripe.
CREATE FUNCTION charter_usage_unreported(p_plans text[])
RETURNS TABLE (tenant_id uuid, month date)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public
AS $$
    SELECT u.tenant_id, u.month FROM public.decision_usage u
    JOIN public.tenants t ON t.id = u.tenant_id
    WHERE t.plan = ANY (p_plans) AND t.stripe_customer_id IS NOT NULL
      AND u.decisions > u.reported
$$;
ALTER FUNCTION charter_usage_unreported(text[]) OWNER TO charter_platform;
REVOKE ALL ON FUNCTION charter_usage_unreported(text[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION charter_usage_unreported(text[]) TO charter_app;
