"""Feature panels that plug into the main window (captions, faces, ...)."""
