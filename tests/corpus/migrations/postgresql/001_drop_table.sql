-- Sessions moved to Redis in v3.2.
DROP TABLE legacy_sessions;
