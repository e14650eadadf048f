UPDATE products SET tax_rate = 0.20 WHERE tax_rate IS NULL AND country = 'FR';
