-- Incident 4711: globex's open orders were charged twice. Void them and clear their notes.
-- Every statement must stay inside the tenant bound as ?1.

-- step: list the open orders
SELECT id, status, total_cents FROM orders WHERE tenant_id = ?1 AND status = 'open';

-- step: void the open orders
UPDATE orders SET status = 'void' WHERE tenant_id = ?1 AND status = 'open';

-- step: clear the notes of voided orders
-- (the planted mistake: the subquery reads every tenant's orders)
DELETE FROM order_notes WHERE order_id IN (SELECT id FROM orders WHERE status = 'void');
