PRAGMA journal_mode=WAL;
DELETE FROM sqlite_sequence WHERE name = 'orders';
