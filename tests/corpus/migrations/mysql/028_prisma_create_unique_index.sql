-- CreateIndex
CREATE UNIQUE INDEX `Account_slug_key` ON `Account`(`slug`);
