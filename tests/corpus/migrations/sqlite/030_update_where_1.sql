UPDATE products SET currency = 'EUR' WHERE 1;
