"""Models of this app arrive with the issue that needs them (see DESIGN.md)."""
