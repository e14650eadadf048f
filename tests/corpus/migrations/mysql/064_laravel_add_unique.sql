alter table `users` add unique `users_username_unique`(`username`)
