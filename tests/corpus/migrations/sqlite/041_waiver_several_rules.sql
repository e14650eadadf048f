-- zerodown:waive drop_table, drop_view reason: reporting tables retired in v12 (no reader left), OPS-77
DROP VIEW report_daily;
-- zerodown:waive drop_table, drop_view reason: reporting tables retired in v12 (no reader left), OPS-77
DROP TABLE report_rows;
