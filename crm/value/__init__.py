"""Customer value: contribution, value score, tiers and lifecycle stage (config in config.toml)."""
