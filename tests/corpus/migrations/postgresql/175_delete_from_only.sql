DELETE FROM ONLY audit_events;
