DELETE FROM feature_flags WHERE true;
