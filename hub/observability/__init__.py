"""What operators see: Prometheus metrics, the status page, structured logs, traces."""
