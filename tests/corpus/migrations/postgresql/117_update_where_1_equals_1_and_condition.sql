UPDATE products SET currency = 'EUR' WHERE 1=1 AND id < 1000;
