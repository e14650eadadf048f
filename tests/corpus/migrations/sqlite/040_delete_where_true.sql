delete from feature_flags where true;
