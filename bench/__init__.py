"""`make bench`: the benchmarks, run against gunicorn on PostgreSQL and Redis (see README.md)."""
