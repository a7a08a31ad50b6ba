-- Delivery status notifications (RFC 3464) other than failures: a "delivered" report marks the row
-- delivered; a "delayed" one is noted on the row (it stays sent: the server is still trying).
ALTER TABLE outbox DROP CONSTRAINT IF EXISTS outbox_status_check;
ALTER TABLE outbox ADD CONSTRAINT outbox_status_check CHECK (status IN ('queued', 'sending', 'sent', 'failed', 'bounced', 'cancelled', 'delivered'));
ALTER TABLE outbox ADD COLUMN delivered_at timestamptz;
ALTER TABLE outbox ADD COLUMN delayed_at timestamptz;
ALTER TABLE outbox ADD COLUMN delivery_note text;
