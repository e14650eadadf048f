ALTER TABLE comments DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
