TRUNCATE TABLE cache_entries; -- zerodown:waive truncate reason: cache is rebuilt on demand, both releases tolerate a miss
