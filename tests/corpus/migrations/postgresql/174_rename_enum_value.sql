ALTER TYPE invoice_status RENAME VALUE 'paid' TO 'settled';
