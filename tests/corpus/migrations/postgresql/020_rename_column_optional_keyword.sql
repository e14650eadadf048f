alter table users rename login to username;
