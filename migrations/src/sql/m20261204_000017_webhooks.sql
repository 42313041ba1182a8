-- Webhook notifications. Events enter `notifications` (the outbox) in the transaction of
-- what caused them; the worker fans each out to the tenant's subscribed endpoints as
-- deliveries (`notifications.delivered_at` then marks it dispatched) and sends them,
-- recording every attempt.

CREATE TABLE webhook_endpoints (
    tenant_id          uuid NOT NULL REFERENCES tenants (id) ON DELETE RESTRICT,
    id                 uuid NOT NULL,
    url                text NOT NULL CHECK (length(url) BETWEEN 1 AND 2000),
    description        text NOT NULL DEFAULT '' CHECK (length(description) <= 500),
    events             text[] NOT NULL CHECK (cardinality(events) > 0),
    -- The signing secret, sealed under the master key (AES-256-GCM, bound to tenant and id).
    secret_sealed      bytea NOT NULL,
    master_fingerprint text NOT NULL,
    enabled            boolean NOT NULL DEFAULT true,
    created_by         uuid NOT NULL,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    deleted_at         timestamptz,
    PRIMARY KEY (tenant_id, id)
);

CREATE TABLE webhook_deliveries (
    tenant_id       uuid NOT NULL,
    -- Also the `webhook-id` header (`msg_` and these hex digits), the same on each attempt.
    id              uuid NOT NULL,
    endpoint_id     uuid NOT NULL,
    -- The outbox row it delivers; none for a test message.
    notification_id uuid,
    event           text NOT NULL,
    -- The exact body signed and sent on every attempt.
    body            text NOT NULL,
    status          text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'dead')),
    attempts        integer NOT NULL DEFAULT 0,
    -- When the next attempt is due; while an attempt runs, when its claim lapses.
    next_attempt_at timestamptz,
    last_status     integer,
    last_error      text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    finished_at     timestamptz,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, endpoint_id) REFERENCES webhook_endpoints (tenant_id, id),
    UNIQUE (tenant_id, endpoint_id, notification_id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (tenant_id, next_attempt_at)
    WHERE status = 'pending';
CREATE INDEX webhook_deliveries_by_endpoint ON webhook_deliveries (tenant_id, endpoint_id, created_at DESC);

CREATE TABLE webhook_attempts (
    tenant_id   uuid NOT NULL,
    delivery_id uuid NOT NULL,
    n           integer NOT NULL CHECK (n >= 1),
    started_at  timestamptz NOT NULL DEFAULT now(),
    -- Unset while the attempt runs, and for good if its worker died during it.
    finished_at timestamptz,
    status_code integer,
    error       text,
    PRIMARY KEY (tenant_id, delivery_id, n),
    FOREIGN KEY (tenant_id, delivery_id) REFERENCES webhook_deliveries (tenant_id, id)
);

-- A tenant's trial end announced (`trial.ending`), once per end date.
CREATE TABLE trial_notices (
    tenant_id     uuid NOT NULL REFERENCES tenants (id) ON DELETE RESTRICT,
    trial_ends_at timestamptz NOT NULL,
    notified_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, trial_ends_at)
);

SELECT charter_isolate_by_tenant(t)
FROM unnest(ARRAY['webhook_endpoints', 'webhook_deliveries', 'webhook_attempts', 'trial_notices']::regclass[]) AS t;
GRANT SELECT, INSERT, UPDATE ON webhook_endpoints, webhook_deliveries, webhook_attempts TO charter_app;
GRANT SELECT, INSERT ON trial_notices TO charter_app;

CREATE INDEX notifications_undispatched ON notifications (tenant_id, created_at) WHERE delivered_at IS NULL;

GRANT SELECT ON notifications, webhook_deliveries, webhook_endpoints, trial_notices TO charter_platform;

-- Tenants with webhook work: events not yet dispatched, or deliveries due.
CREATE FUNCTION charter_webhook_tenants()
RETURNS TABLE (tenant_id uuid)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public
AS $$
    SELECT n.tenant_id FROM public.notifications n WHERE n.delivered_at IS NULL
    UNION
    SELECT d.tenant_id FROM public.webhook_deliveries d
    WHERE d.status = 'pending' AND d.next_attempt_at <= now()
$$;
ALTER FUNCTION charter_webhook_tenants() OWNER TO charter_platform;
REVOKE ALL ON FUNCTION charter_webhook_tenants() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION charter_webhook_tenants() TO charter_app;

-- Trials ending within `within` that have not been announced for that end date.
CREATE FUNCTION charter_trials_ending(within interval)
RETURNS TABLE (tenant_id uuid, trial_ends_at timestamptz)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public
AS $$
    SELECT t.id, t.trial_ends_at FROM public.tenants t
    WHERE t.subscription_status = 'trialing'
      AND t.trial_ends_at > now() AND t.trial_ends_at <= now() + within
      AND NOT EXISTS (SELECT 1 FROM public.trial_notices n
                      WHERE n.tenant_id = t.id AND n.trial_ends_at = t.trial_ends_at)
$$;
ALTER FUNCTION charter_trials_ending(interval) OWNER TO charter_platform;
REVOKE ALL ON FUNCTION charter_trials_ending(interval) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION charter_trials_ending(interval) TO charter_app;
