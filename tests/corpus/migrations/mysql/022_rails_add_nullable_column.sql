ALTER TABLE `products` ADD `version` int
