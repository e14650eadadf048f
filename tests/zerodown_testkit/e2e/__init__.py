"""End-to-end helpers shared by molecule/rolling, demo/ and bench/rolling."""
