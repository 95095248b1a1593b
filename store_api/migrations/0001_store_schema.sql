-- Reference Store API: catalogue, customers, delivery, orders, idempotency.
-- Money is in kopecks (bigint); times are timestamptz.
CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE SCHEMA IF NOT EXISTS store;

-- Text normalised for search: lower case, ё → е.
CREATE OR REPLACE FUNCTION store.search_norm(t text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT translate(lower(coalesce(t, '')), 'ё', 'е') $$;

CREATE TABLE store.categories (
    id          text PRIMARY KEY,
    name        text NOT NULL
);

CREATE TABLE store.products (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    sku          text NOT NULL UNIQUE,
    category_id  text NOT NULL REFERENCES store.categories (id),
    name         text NOT NULL,
    description  text NOT NULL DEFAULT '',
    price        bigint NOT NULL CHECK (price > 0),
    currency     text NOT NULL DEFAULT 'RUB',
    stock_qty    integer NOT NULL CHECK (stock_qty >= 0),
    unit         text NOT NULL DEFAULT 'шт',
    search_tsv   tsvector GENERATED ALWAYS AS (
        setweight(to_tsvector('russian', store.search_norm(name)), 'A')
        || setweight(to_tsvector('russian', store.search_norm(description)), 'C')
    ) STORED,
    search_name  text GENERATED ALWAYS AS (store.search_norm(name)) STORED,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX products_search_tsv ON store.products USING gin (search_tsv);
CREATE INDEX products_search_trgm ON store.products USING gin (search_name gin_trgm_ops);

CREATE TABLE store.customers (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    phone       text NOT NULL UNIQUE CHECK (phone ~ '^\+[1-9][0-9]{6,14}$'),
    name        text,
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- Courier delivery is available in these cities; cost by zone, free above a threshold.
CREATE TABLE store.delivery_zones (
    city            text PRIMARY KEY,            -- canonical city name, e.g. 'Москва'
    zone            text NOT NULL,
    cost            bigint NOT NULL CHECK (cost >= 0),
    free_from       bigint,                      -- items_total from which delivery is free
    days            integer NOT NULL CHECK (days >= 0),  -- earliest delivery: today + days
    max_days_ahead  integer NOT NULL DEFAULT 14
);

CREATE TABLE store.pickup_points (
    id        text PRIMARY KEY,                  -- short, readable: 'msk-tverskaya'
    name      text NOT NULL,
    city      text NOT NULL,
    address   text NOT NULL,
    hours     text NOT NULL,
    cost      bigint NOT NULL DEFAULT 0 CHECK (cost >= 0),
    days      integer NOT NULL DEFAULT 1 CHECK (days >= 0),
    search_text text GENERATED ALWAYS AS (store.search_norm(name || ' ' || address)) STORED
);

CREATE SEQUENCE store.order_number_seq START 100100;

CREATE TABLE store.orders (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    number          text NOT NULL UNIQUE DEFAULT nextval('store.order_number_seq')::text,
    status          text NOT NULL CHECK (status IN ('draft', 'confirmed', 'assembling', 'shipped',
                                                    'ready_for_pickup', 'delivered', 'cancelled')),
    customer_id     uuid NOT NULL REFERENCES store.customers (id),
    items_total     bigint NOT NULL DEFAULT 0,
    delivery_cost   bigint NOT NULL DEFAULT 0,
    total           bigint NOT NULL DEFAULT 0,
    currency        text NOT NULL DEFAULT 'RUB',
    delivery        jsonb,                       -- null | courier | pickup (wire shape)
    estimated_date  date,
    channel         text NOT NULL DEFAULT 'voice',
    call_id         text,
    comment         text,
    stock_reserved  boolean NOT NULL DEFAULT false,
    cancel_reason   text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    confirmed_at    timestamptz,
    cancelled_at    timestamptz
);
CREATE INDEX orders_customer_created ON store.orders (customer_id, created_at DESC);

CREATE TABLE store.order_items (
    order_id    uuid NOT NULL REFERENCES store.orders (id) ON DELETE CASCADE,
    position    integer NOT NULL,
    product_id  uuid NOT NULL REFERENCES store.products (id),
    sku         text NOT NULL,
    name        text NOT NULL,
    quantity    integer NOT NULL CHECK (quantity BETWEEN 1 AND 99),
    unit_price  bigint NOT NULL,
    line_total  bigint NOT NULL,
    PRIMARY KEY (order_id, position)
);

CREATE TABLE store.order_status_history (
    order_id  uuid NOT NULL REFERENCES store.orders (id) ON DELETE CASCADE,
    status    text NOT NULL,
    at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX order_status_history_order ON store.order_status_history (order_id, at);

-- Idempotency-Key records. The row is written in the same transaction as the effect of the
-- request, so a crash can never separate the two.
CREATE TABLE store.idempotency_keys (
    token_hash      text NOT NULL,
    method          text NOT NULL,
    path            text NOT NULL,
    key             text NOT NULL,
    request_hash    text NOT NULL,
    status_code     integer NOT NULL,
    content_type    text NOT NULL,
    response_body   bytea NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (token_hash, method, path, key)
);
CREATE INDEX idempotency_keys_created ON store.idempotency_keys (created_at);
