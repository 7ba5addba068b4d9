"""Widgets of the desktop app (each one a panel or a dialog)."""
