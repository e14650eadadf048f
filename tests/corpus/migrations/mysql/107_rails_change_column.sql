ALTER TABLE `users` CHANGE `name` `name` varchar(100) DEFAULT NULL
