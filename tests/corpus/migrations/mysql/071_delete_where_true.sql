DELETE FROM feature_flags WHERE TRUE;
