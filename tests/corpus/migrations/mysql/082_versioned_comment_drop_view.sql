/*!40101 SET NAMES utf8mb4 */;
/*!50001 DROP VIEW IF EXISTS `v_active_users`*/;
/*!50001 CREATE VIEW `v_active_users` AS SELECT `id`, `email` FROM `users` WHERE `active` = 1 */;
