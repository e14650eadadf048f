/*
 * Copyright 2024 Example Corp.
 * Licensed under the Apache License, Version 2.0.
 */

-- coupon codes now live in the promotions service
ALTER TABLE orders DROP coupon_code;
