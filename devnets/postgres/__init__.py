"""A throwaway PostgreSQL server for hub replicas (`tonglian devnet up postgres`)."""
