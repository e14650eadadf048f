UPDATE products SET tax_rate = 0.20 WHERE 1 = 1;
