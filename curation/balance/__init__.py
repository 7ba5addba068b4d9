"""Balance profiles, the dataset report, its advice and readiness verdict."""
