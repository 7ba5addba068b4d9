"""The checkpoint grid viewer (a window opened on a grid folder)."""
