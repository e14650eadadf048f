ALTER IGNORE TABLE subscriptions ADD UNIQUE uq_subscriptions_user_plan (user_id, plan_id);
