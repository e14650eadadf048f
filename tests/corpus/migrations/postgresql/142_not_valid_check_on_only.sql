ALTER TABLE ONLY measurements ADD CONSTRAINT measurements_value_finite CHECK (value <> 'NaN'::float8) NOT VALID;
