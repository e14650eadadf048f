-- ===================================================================
-- Release 7.4 clean-up
-- ===================================================================
/* Nothing here drops tables: DROP TABLE was considered and rejected. */
ALTER TABLE users /* fax support ended 2023 */ DROP /* the */ COLUMN -- legacy
    fax_number;
-- end of file
