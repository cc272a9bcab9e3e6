"""Error budgets: what is left of each SLO, how fast it goes, who spent it, and whether a release may
go out. Reads the SLO recording rules (stack.settings names them) from any Prometheus API."""
