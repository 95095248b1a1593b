-- The guessing cap counts the failed order look-ups of one phone over a window (issue 12):
-- an index over just those records keeps that count cheap however long the trail grows.
CREATE INDEX order_audit_denied_lookups ON bot.order_audit (phone, at)
    WHERE event = 'order_lookup_denied';
