"""One module per statement format, each exposing ``FORMAT``; the registry finds them all."""
