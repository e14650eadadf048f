UPDATE subscriptions SET renew_reminder_sent = false WHERE (1 = 1);
