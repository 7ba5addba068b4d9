"""Qt item models: thin adapters over the Qt-free dataset core."""
