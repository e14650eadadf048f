-- AlterTable
ALTER TABLE "User" RENAME COLUMN "firstName" TO "firstname";
