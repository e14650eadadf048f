"""Rule ``add_foreign_key_blocking``: SQL it blocks (UNSAFE) and lets through (SAFE); the rule is
plugins/module_utils/_sql/rules/add_foreign_key_blocking.py. Each case: (dialect, sql[, history: files that already ran])."""

from __future__ import annotations

RULE = "add_foreign_key_blocking"

UNSAFE = [
    (
        "postgresql",
        "ALTER TABLE orders ADD CONSTRAINT orders_user_fk FOREIGN KEY (user_id) REFERENCES users (id);",
    ),
    (
        "postgresql",
        "ALTER TABLE orders ADD COLUMN user_id int REFERENCES users (id);",
    ),
]

SAFE = [
    (
        "postgresql",
        "ALTER TABLE orders ADD CONSTRAINT orders_user_fk FOREIGN KEY (user_id) REFERENCES users (id) NOT VALID;",
    ),
    (
        "postgresql",
        "CREATE TABLE items (id int, order_id int REFERENCES orders (id));",
    ),
]


def test_case(case, verdict) -> None:
    verdict(case)
