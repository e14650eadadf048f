DROP TABLE IF EXISTS legacy_sessions; -- zerodown:waive drop_table reason: table empty and unread since v3.2 (OPS-88)
