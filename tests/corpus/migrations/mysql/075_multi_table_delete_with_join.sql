DELETE s FROM sessions s
JOIN users u ON u.id = s.user_id
WHERE u.deleted_at IS NOT NULL;
