"""The portal's words and figures: no I/O."""
