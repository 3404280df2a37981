"""The embedded benchmark behind ``mmohem demo`` (docs/demo.md)."""
