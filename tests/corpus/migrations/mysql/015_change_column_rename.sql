ALTER TABLE `users` CHANGE `name` `full_name` varchar(255) DEFAULT NULL
