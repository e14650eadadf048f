UPDATE users SET marketing_opt_in = 0;
